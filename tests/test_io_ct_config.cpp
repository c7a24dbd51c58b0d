// compressed-tensors config parsing and vLLM's per-layer scheme selection: every scheme,
// ignore lists, class-name / exact / regex / fused-shard targets, the unsupported
// cases with their reasons, and one test per kind of bad config field.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "core/error.h"
#include "io/ct_config.h"

using namespace ctk;
using ctk::io::CtConfig;
using ctk::io::LayerScheme;
using ctk::io::SchemeKind;

namespace {

const char* kQkv = "model.layers.0.self_attn.qkv_proj";
const char* kDown = "model.layers.0.mlp.down_proj";

CtConfig parse(const std::string& quantization_config) {
    return io::parse_ct_config("{\"model_type\": \"llama\", \"quantization_config\": " + quantization_config + "}",
                               "config.json");
}

std::string parse_error(const std::string& quantization_config) {
    try {
        parse(quantization_config);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// QuantizationArgs JSON.
std::string qargs(int bits, const char* type, const char* strategy, bool dynamic, const char* extra = "") {
    return cat("{\"num_bits\": ", bits, ", \"type\": \"", type, "\", \"strategy\": \"", strategy,
               "\", \"dynamic\": ", dynamic ? "true" : "false", ", \"symmetric\": true", extra, "}");
}

// One group targeting "Linear", lm_head ignored, plus an optional sparsity_config.
std::string one_group(const std::string& weights, const std::string& inputs, const char* format,
                      const std::string& sparsity = "") {
    std::string s = cat("{\"quant_method\": \"compressed-tensors\", \"format\": \"", format,
                        "\", \"quantization_status\": \"compressed\", \"ignore\": [\"lm_head\"],",
                        "\"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], \"weights\": ", weights,
                        ", \"input_activations\": ", inputs.empty() ? "null" : inputs, "}}");
    if (!sparsity.empty()) s += ", \"sparsity_config\": " + sparsity;
    return s + "}";
}

std::string sparsity(const char* format, const char* structure = "2:4") {
    return cat("{\"format\": \"", format, "\", \"sparsity_structure\": \"", structure,
               "\", \"targets\": [\"Linear\"], \"ignore\": [\"lm_head\"], \"global_sparsity\": 0.45,",
               " \"registry_requires_subclass\": false}");
}

const std::string kMxfp4Args =
    "{\"num_bits\": 4, \"type\": \"float\", \"strategy\": \"group\", \"group_size\": 32, \"symmetric\": true, "
    "\"dynamic\": false, \"scale_dtype\": \"torch.uint8\", \"zp_dtype\": \"torch.uint8\", "
    "\"observer\": \"memoryless_minmax\", \"observer_kwargs\": {}, \"actorder\": null, \"block_structure\": null}";

}  // namespace

TEST_CASE("ct_config: 2:4 W8A8 int8 bitmask (channel weights, dynamic token inputs) on a fused qkv layer") {
    CtConfig cfg = parse(one_group(qargs(8, "int", "channel", false), qargs(8, "int", "token", true),
                                   "int-quantized", sparsity("sparse-24-bitmask")));
    CHECK(cfg.present);
    CHECK(cfg.format == "int-quantized");
    CHECK(cfg.quantization_status == "compressed");
    REQUIRE(cfg.groups.size() == 1);
    LayerScheme s = io::select_scheme(cfg, kQkv, "QKVParallelLinear");
    CAPTURE(s.reason);
    REQUIRE(s.kind == SchemeKind::Sparse24);
    CHECK(s.sparsity.format == SparsityFormat::Sparse24Bitmask);
    CHECK(s.quant_target == "Linear");  // class-name target: "Linear" is in "QKVParallelLinear"
    REQUIRE(s.weight_quant);
    REQUIRE(s.input_quant);
    CHECK(s.weight_quant->type == QuantType::Int);
    CHECK(s.weight_quant->strategy == QuantStrategy::Channel);
    CHECK(s.input_quant->strategy == QuantStrategy::Token);
    CHECK(s.input_quant->dynamic);
    CHECK(s.describe() == "sparse24 sparse-24-bitmask w8a8 int8: weights channel, inputs dynamic per token");
    // lm_head: quantization ignores it, so no weight args. The sparsity ignore list only
    // removes the exact target "lm_head" from the targets (vLLM), so "Linear" still
    // matches it by class name: sparse-only. (vLLM never asks: its lm_head is not a LinearBase.)
    LayerScheme head = io::select_scheme(cfg, "lm_head", "Linear");
    CHECK(head.kind == SchemeKind::Sparse24);
    CHECK(!head.weight_quant);
}

TEST_CASE("ct_config: 2:4 W8A8 fp8 dense format, tensor weights, static tensor inputs") {
    CtConfig cfg = parse(one_group(qargs(8, "float", "tensor", false), qargs(8, "float", "tensor", false),
                                   "float-quantized", sparsity("dense")));
    LayerScheme s = io::select_scheme(cfg, kDown, "RowParallelLinear");
    REQUIRE(s.kind == SchemeKind::Sparse24);
    CHECK(s.sparsity.format == SparsityFormat::Dense);
    CHECK(s.weight_quant->type == QuantType::Float);
    CHECK(s.weight_quant->strategy == QuantStrategy::Tensor);
    CHECK(!s.input_quant->dynamic);
    CHECK(s.describe() == "sparse24 dense w8a8 float8: weights tensor, inputs static per tensor");
}

TEST_CASE("ct_config: sparse-only models (no config_groups) in both formats") {
    for (const char* fmt : {"dense", "sparse-24-bitmask"}) {
        CAPTURE(fmt);
        CtConfig cfg = parse(cat("{\"quant_method\": \"compressed-tensors\", \"format\": \"dense\", \"sparsity_config\": ",
                                 sparsity(fmt), "}"));
        CHECK(cfg.groups.empty());
        LayerScheme s = io::select_scheme(cfg, kDown, "RowParallelLinear");
        REQUIRE(s.kind == SchemeKind::Sparse24);
        CHECK(!s.weight_quant);
        CHECK(!s.input_quant);
        CHECK(s.sparsity.format == (std::string(fmt) == "dense" ? SparsityFormat::Dense : SparsityFormat::Sparse24Bitmask));
    }
}

TEST_CASE("ct_config: MXFP4A16 preset selects W4A16 MXFP4; ignored lm_head is unquantized") {
    std::string q = cat("{\"quant_method\": \"compressed-tensors\", \"format\": \"mxfp4-pack-quantized\", ",
                        "\"quantization_status\": \"compressed\", \"ignore\": [\"lm_head\"], \"config_groups\": ",
                        "{\"group_0\": {\"format\": \"mxfp4-pack-quantized\", \"targets\": [\"Linear\"], ",
                        "\"weights\": ", kMxfp4Args, ", \"input_activations\": null}}}");
    CtConfig cfg = parse(q);
    LayerScheme s = io::select_scheme(cfg, "model.layers.3.mlp.gate_up_proj", "MergedColumnParallelLinear");
    REQUIRE(s.kind == SchemeKind::Mxfp4);
    CHECK(s.weight_quant->group_size == 32);
    CHECK(s.format == "mxfp4-pack-quantized");
    CHECK(io::select_scheme(cfg, "lm_head", "Linear").kind == SchemeKind::Unquantized);

    // With input activations too, vLLM still picks W4A16 MXFP4 (and ignores them).
    std::string w4a4 = q;
    w4a4.replace(w4a4.find("\"input_activations\": null"), 25,
                 "\"input_activations\": " + qargs(4, "float", "group", true, ", \"group_size\": 32"));
    LayerScheme s2 = io::select_scheme(parse(w4a4), kDown, "RowParallelLinear");
    CHECK(s2.kind == SchemeKind::Mxfp4);
    CHECK(s2.reason.find("input_activations ignored") != std::string::npos);
}

TEST_CASE("ct_config: no quantization_config, compression_config, and empty sparsity") {
    CtConfig none = io::parse_ct_config("{\"model_type\": \"llama\"}", "config.json");
    CHECK(!none.present);
    CHECK(io::select_scheme(none, kDown, "RowParallelLinear").kind == SchemeKind::Unquantized);
    CtConfig old = io::parse_ct_config(
        cat("{\"compression_config\": {\"sparsity_config\": ", sparsity("sparse-24-bitmask"), "}}"), "config.json");
    CHECK(old.present);
    CHECK(io::select_scheme(old, kDown, "RowParallelLinear").kind == SchemeKind::Sparse24);
    // A sparsity_config without targets makes nothing sparse (vLLM: targets or []).
    CtConfig no_targets = parse("{\"sparsity_config\": {\"format\": \"sparse-24-bitmask\", \"sparsity_structure\": \"2:4\"}}");
    CHECK(io::select_scheme(no_targets, kDown, "RowParallelLinear").kind == SchemeKind::Unquantized);
    CtConfig empty = parse("{\"sparsity_config\": {}}");
    CHECK(!empty.sparsity);
}

TEST_CASE("ct_config: regex targets, exact names, fused shards, group override, attention groups") {
    std::string q = cat(
        "{\"format\": \"mxfp4-pack-quantized\", \"config_groups\": {",
        "\"attn\": {\"targets\": [\"re:.*self_attn\\\\.(q|k|v)_proj$\"], \"weights\": ", kMxfp4Args, "},",
        "\"down\": {\"targets\": [\"model.layers.0.mlp.down_proj\"], \"weights\": ", kMxfp4Args, "},",
        "\"kv\": {\"targets\": [\"LlamaAttention\"], \"weights\": ", qargs(8, "float", "tensor", false), "}",
        "}}");
    CtConfig cfg = parse(q);
    CHECK(cfg.groups.size() == 2);  // the attention-only group is dropped, as vLLM does
    // qkv_proj: no name or class match; every shard matches the regex -> fused match.
    LayerScheme qkv = io::select_scheme(cfg, kQkv, "QKVParallelLinear");
    CHECK(qkv.kind == SchemeKind::Mxfp4);
    CHECK(qkv.quant_target == "re:.*self_attn\\.(q|k|v)_proj$");
    CHECK(io::select_scheme(cfg, kDown, "RowParallelLinear").quant_target == "model.layers.0.mlp.down_proj");
    // Exact names are exact: another layer's down_proj matches nothing.
    LayerScheme other = io::select_scheme(cfg, "model.layers.1.mlp.down_proj", "RowParallelLinear");
    CHECK(other.kind == SchemeKind::Unsupported);
    CHECK(other.reason.find("model.layers.1.mlp.down_proj: matches no config_groups target") != std::string::npos);
    // The regex is anchored at the start like re.match: "xmodel..." style prefixes still
    // match through ".*", but a pattern without it must match from the first character.
    CHECK(io::match_target(cfg, "layers.0.self_attn.q_proj", "Linear", {"re:self_attn"}).empty());
    CHECK(io::match_target(cfg, "self_attn.q_proj", "Linear", {"re:self_attn"}) == "re:self_attn");

    // A later group with the same target replaces the earlier one.
    CtConfig over = parse(cat("{\"format\": \"float-quantized\", \"config_groups\": {",
                              "\"a\": {\"targets\": [\"Linear\"], \"weights\": ", kMxfp4Args, "},",
                              "\"b\": {\"targets\": [\"Linear\"], \"weights\": ", qargs(8, "float", "channel", false),
                              ", \"input_activations\": ", qargs(8, "float", "token", true), "}}}"));
    CHECK(over.target_map.size() == 1);
    CHECK(io::select_scheme(over, kDown, "RowParallelLinear").weight_quant->num_bits == 8);
}

TEST_CASE("ct_config: a target with nested quantifiers is matched in linear time, not backtracked") {
    // With std::regex this config took minutes per layer name (exponential backtracking).
    auto cfg_with_target = [](const std::string& target) {
        return parse(cat("{\"format\": \"mxfp4-pack-quantized\", \"config_groups\": {\"g\": {\"targets\": [\"",
                         target, "\"], \"weights\": ", kMxfp4Args, "}}}"));
    };
    auto t0 = std::chrono::steady_clock::now();
    CtConfig hostile = cfg_with_target("re:(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*X");
    for (const char* name : {kQkv, kDown, "model.layers.0.self_attn.o_proj"}) {
        LayerScheme s = io::select_scheme(hostile, name, "RowParallelLinear");
        CHECK(s.kind == SchemeKind::Unsupported);
        CHECK(s.reason.find("matches no config_groups target") != std::string::npos);
    }
    // The same shape of pattern still matches where the name fits (fused: every shard).
    CtConfig nested = cfg_with_target("re:(.*)*(q|k|v)_proj$");
    CHECK(io::select_scheme(nested, kQkv, "QKVParallelLinear").kind == SchemeKind::Mxfp4);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 2.0);
    // Targets as real configs write them keep working.
    CHECK(io::select_scheme(cfg_with_target("re:.*mlp.*"), kDown, "RowParallelLinear").kind == SchemeKind::Mxfp4);
    CHECK(io::select_scheme(cfg_with_target("re:model.layers.\\\\d+.mlp.down_proj"), kDown, "RowParallelLinear").kind ==
          SchemeKind::Mxfp4);
    // Syntax outside the Python / ECMAScript common subset names the field and the construct.
    std::string e = parse_error(cat("{\"ignore\": [\"re:.*(?=q)\"], \"config_groups\": {\"g\": {\"targets\": [\"Linear\"],",
                                    " \"weights\": ", kMxfp4Args, "}}}"));
    CHECK(e.find("quantization_config.ignore[0]") != std::string::npos);
    CHECK(e.find("invalid regular expression \".*(?=q)\" (at position 3: only (?:...)") != std::string::npos);
}

TEST_CASE("ct_config: class-name targets are case-insensitive substrings, names are not") {
    CtConfig cfg = parse(cat("{\"config_groups\": {\"g\": {\"targets\": [\"linear\"], \"weights\": ", kMxfp4Args, "}}}"));
    CHECK(io::match_target(cfg, "x", "RowParallelLinear", {"linear"}) == "linear");
    CHECK(io::match_target(cfg, "x", "ParallelLMHead", {"linear"}).empty());
    CHECK(io::match_target(cfg, "Linear", "Foo", {"linear"}).empty());  // name match is exact
}

TEST_CASE("ct_config: ignore lists on fused layers") {
    auto cfg_with_ignore = [](const std::string& ignore) {
        return parse(cat("{\"ignore\": ", ignore, ", \"config_groups\": {\"g\": {\"targets\": [\"Linear\"], \"weights\": ",
                         kMxfp4Args, "}}}"));
    };
    CtConfig all = cfg_with_ignore("[\"re:.*self_attn\\\\.[qkv]_proj\"]");
    CHECK(io::select_scheme(all, kQkv, "QKVParallelLinear").kind == SchemeKind::Unquantized);
    CHECK(io::select_scheme(all, kDown, "RowParallelLinear").kind == SchemeKind::Mxfp4);

    CtConfig some = cfg_with_ignore("[\"model.layers.0.self_attn.q_proj\"]");
    LayerScheme s = io::select_scheme(some, kQkv, "QKVParallelLinear");
    CHECK(s.kind == SchemeKind::Unsupported);
    CHECK(s.reason == std::string(kQkv) +
                          ": the ignore list covers q_proj but not k_proj, v_proj; the shards of a fused layer must "
                          "share one scheme");
    // The fused name itself in the list ignores the layer.
    CHECK(io::select_scheme(cfg_with_ignore(cat("[\"", kQkv, "\"]")), kQkv, "QKVParallelLinear").kind ==
          SchemeKind::Unquantized);
    // Exact names in ignore match only exactly.
    CHECK(io::select_scheme(cfg_with_ignore("[\"down_proj\"]"), kDown, "RowParallelLinear").kind == SchemeKind::Mxfp4);
}

TEST_CASE("ct_config: unsupported combinations say why") {
    struct Case {
        const char* what;
        std::string config;
        const char* want;
    };
    const Case cases[] = {
        {"dense fp8 W8A8 (no sparsity)",
         one_group(qargs(8, "float", "channel", false), qargs(8, "float", "token", true), "float-quantized"),
         "no 2:4 sparsity: vLLM would use CompressedTensorsW8A8Fp8 (dense fp8), which ctk does not implement"},
        {"dense int8 W8A8 (no sparsity)",
         one_group(qargs(8, "int", "channel", false), qargs(8, "int", "token", true), "int-quantized"),
         "vLLM would use CompressedTensorsW8A8Int8"},
        {"weight-only int8 with 2:4",
         one_group(qargs(8, "int", "channel", false), "", "pack-quantized", sparsity("sparse-24-bitmask")),
         "not 2:4-eligible (weight-only quantization (2:4 W8A8 needs input_activations)): vLLM would use "
         "CompressedTensorsWNA16"},
        {"mixed int weights, float inputs",
         one_group(qargs(8, "int", "channel", false), qargs(8, "float", "token", true), "int-quantized",
                   sparsity("sparse-24-bitmask")),
         "2:4 W8A8 with int weights and float inputs (vLLM: \"Quantization type not supported by Cutlass\")"},
        {"group weights with 2:4",
         one_group(qargs(8, "int", "group", false, ", \"group_size\": 128"), qargs(8, "int", "token", true),
                   "int-quantized", sparsity("sparse-24-bitmask")),
         "weight strategy group (2:4 needs tensor or channel)"},
        {"4-bit weights with 2:4",
         one_group(qargs(4, "int", "channel", false), qargs(8, "int", "token", true), "int-quantized",
                   sparsity("sparse-24-bitmask")),
         "weights 4-bit and inputs 8-bit (2:4 needs 8 and 8)"},
        {"unstructured sparsity with quantization",
         one_group(qargs(8, "float", "channel", false), qargs(8, "float", "token", true), "float-quantized",
                   sparsity("sparse-bitmask", "unstructured")),
         "sparsity_structure is \"unstructured\""},
        {"marlin-24 format",
         one_group(qargs(8, "float", "channel", false), qargs(8, "float", "token", true), "float-quantized",
                   sparsity("marlin-24")),
         "sparsity format \"marlin-24\" is neither dense nor sparse-24-bitmask"},
        {"nvfp4",
         one_group(qargs(4, "float", "tensor_group", false, ", \"group_size\": 16"), "", "nvfp4-pack-quantized"),
         "CompressedTensorsW4A16Fp4 (NVFP4)"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        LayerScheme s = io::select_scheme(parse(c.config), kDown, "RowParallelLinear");
        CAPTURE(s.reason);
        CHECK(s.kind == SchemeKind::Unsupported);
        CHECK(s.reason.rfind(std::string(kDown) + ": ", 0) == 0);  // names the layer
        CHECK(s.reason.find(c.want) != std::string::npos);
    }
    // Unquantized layer under an unusable sparsity config keeps the reason.
    LayerScheme u = io::select_scheme(parse(cat("{\"sparsity_config\": ", sparsity("dense", "unstructured"), "}")), kDown,
                                      "RowParallelLinear");
    CHECK(u.kind == SchemeKind::Unquantized);
    CHECK(u.reason.find("sparsity_structure is \"unstructured\"") != std::string::npos);
    // A scheme vLLM has nothing for: weight-only int8 per tensor in a weight-only format.
    LayerScheme n = io::select_scheme(parse(one_group(qargs(8, "int", "tensor", false), "", "dense")), kDown,
                                      "RowParallelLinear");
    CHECK(n.kind == SchemeKind::Unsupported);
    CHECK(n.reason.find("no compressed-tensors scheme in vLLM runs this") != std::string::npos);
}

TEST_CASE("ct_config: QuantizationArgs defaults and strategy inference") {
    auto weights_of = [](const std::string& w) {
        return parse(cat("{\"format\": \"pack-quantized\", \"config_groups\": {\"g\": {\"targets\": [\"Linear\"], "
                         "\"weights\": ", w, "}}}"))
            .groups.at(0)
            .weights;
    };
    QuantArgs d = weights_of("{}");  // compressed-tensors defaults
    CHECK(d.num_bits == 8);
    CHECK(d.type == QuantType::Int);
    CHECK(d.strategy == QuantStrategy::Tensor);
    CHECK(d.symmetric);
    CHECK(!d.dynamic);
    CHECK(d.group_size == 0);
    QuantArgs g = weights_of("{\"num_bits\": 4, \"group_size\": 128}");
    CHECK(g.strategy == QuantStrategy::Group);
    CHECK(g.group_size == 128);
    CHECK(weights_of("{\"group_size\": -1}").strategy == QuantStrategy::Channel);
    CHECK(weights_of("{\"type\": \"FLOAT\", \"strategy\": \"CHANNEL\"}").strategy == QuantStrategy::Channel);
    CHECK(weights_of("{\"strategy\": \"token\", \"dynamic\": true}").dynamic);
}

TEST_CASE("ct_config: every bad field gives one error naming file, field and position") {
    const std::string W = qargs(8, "int", "channel", false);
    auto group = [](const std::string& body) { return cat("{\"config_groups\": {\"g\": ", body, "}}"); };
    struct Case {
        std::string config;  // the quantization_config object
        std::string field;   // the field path in the message
        std::string anchor;  // where the offending value starts: its first occurrence in the config
        std::string what;    // the rest of the message (a prefix of it)
    };
    const std::string G = "quantization_config.config_groups.g.";
    const Case cases[] = {
        {"{\"quant_method\": \"gptq\"}", "quantization_config.quant_method", "\"gptq\"",
         "\"gptq\" checkpoints are not read by ctk"},
        {"{\"format\": \"int4-magic\"}", "quantization_config.format", "\"int4-magic\"",
         "unknown compressed-tensors format \"int4-magic\""},
        {"{\"config_groups\": []}", "quantization_config.config_groups", "[]", "expected an object, found array"},
        {group("{\"weights\": " + W + "}"), G + "targets", "{\"weights", "missing"},
        {group("{\"targets\": [1], \"weights\": " + W + "}"), G + "targets[0]", "1]", "expected a string, found 1"},
        {group("{\"targets\": [\"Linear\"], \"weights\": null}"), G + "weights", "{\"targets", "missing or null"},
        {group("{\"targets\": [\"Linear\"], \"weights\": " + W + ", \"wieghts\": 1}"), G + "wieghts", "1}",
         "unknown field"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"num_bit\": 8}}"), G + "weights.num_bit", "8}",
         "unknown QuantizationArgs field"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"type\": \"intx\"}}"), G + "weights.type", "\"intx\"",
         "expected \"int\" or \"float\", found \"intx\""},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"strategy\": \"row\"}}"), G + "weights.strategy", "\"row\"",
         "expected one of tensor, channel, group"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"strategy\": \"attn_head\"}}"), G + "weights.strategy",
         "\"attn_head\"", "strategy \"attn_head\" quantizes attention heads"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 8.5}}"), G + "weights.num_bits", "8.5",
         "expected an integer, found 8.5"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 16, \"type\": \"float\"}}"), G + "weights.num_bits",
         "{\"num_bits\": 16", "float quantization is 4-bit (E2M1) or 8-bit (E4M3), found 16"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"strategy\": \"token\"}}"), G + "weights.strategy",
         "\"token\"", "static token quantization is not possible"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"strategy\": \"group\"}}"), G + "weights.group_size",
         "\"group\"", "strategy group needs a positive group_size"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"strategy\": \"channel\", \"group_size\": 32}}"),
         G + "weights.group_size", "\"channel\"", "a positive group_size needs strategy group, found strategy channel"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"group_size\": 0}}"), G + "weights.group_size", "0}",
         "expected a positive group size (strategy group) or -1 (channel), found 0"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"strategy\": \"channel\", \"dynamic\": true}}"),
         G + "weights.dynamic", "\"channel\"",
         "dynamic quantization needs strategy token, tensor, group or tensor_group, found channel"},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"dynamic\": \"yes\"}}"),
         G + "weights.dynamic (true, false or \"local\")", "\"yes\"", "expected true or false, found \"yes\""},
        {group("{\"targets\": [\"Linear\"], \"weights\": {\"strategy\": \"block\"}}"), G + "weights.block_structure",
         "\"block\"", "strategy block and block_structure go together"},
        {group("{\"targets\": [\"re:(unclosed\"], \"weights\": " + W + "}"), G + "targets[0]", "\"re:(",
         "invalid regular expression \"(unclosed\""},
        {"{\"ignore\": [\"re:(?P<x>lm_head)\"]}", "quantization_config.ignore[0]", "\"re:",
         "invalid regular expression \"(?P<x>lm_head)\""},
        {"{\"format\": \"int-quantized\", \"config_groups\": {\"g\": {\"targets\": [\"Linear\"], \"weights\": " + W + "}}}",
         G + "input_activations", "{\"targets",
         "missing, but format \"int-quantized\" quantizes activations and the weights are int"},
        {"{\"sparsity_config\": {\"targets\": [\"Linear\"]}}", "quantization_config.sparsity_config.format",
         "{\"targets", "missing"},
        {"{\"sparsity_config\": {\"format\": \"dense\", \"targets\": \"Linear\"}}",
         "quantization_config.sparsity_config.targets", "\"Linear\"", "expected a list of strings"},
        {"{\"ignore\": \"lm_head\"}", "quantization_config.ignore", "\"lm_head\"",
         "expected a list of strings, found \"lm_head\""},
        {"{\"ignore\": [\"re:" + std::string(1001, 'a') + "\"]}", "quantization_config.ignore[0]", "\"re:",
         "regular expression of 1001 characters (ctk accepts up to 1000)"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.config);
        std::string msg = parse_error(c.config);
        CAPTURE(msg);
        // The whole config.json is one line: the column is the anchor's byte offset + 1.
        std::string text = "{\"model_type\": \"llama\", \"quantization_config\": " + c.config + "}";
        size_t at = text.find(c.anchor, text.find("\"quantization_config\""));
        REQUIRE(at != std::string::npos);
        std::string want = cat("config.json: ", c.field, " (line 1, column ", at + 1, "): ", c.what);
        CHECK(msg.rfind(want, 0) == 0);
    }
    CHECK_THROWS_WITH_AS(io::parse_ct_config("{\"quantization_config\": 3}", "config.json"),
                         doctest::Contains("quantization_config (line 1, column 25): expected an object"), Error);
    CHECK_THROWS_WITH_AS(io::parse_ct_config("[1]", "config.json"),
                         doctest::Contains("(top level) (line 1, column 1): expected an object"), Error);
    CHECK_THROWS_WITH_AS(io::parse_ct_config("{\"a\": }", "dir/config.json"),
                         doctest::Contains("dir/config.json:1:7: expected a JSON value"), Error);
    CHECK_THROWS_WITH_AS(io::load_ct_config("/nonexistent/config.json"),
                         doctest::Contains("/nonexistent/config.json: cannot open"), Error);
}
