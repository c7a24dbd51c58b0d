// Checkpoint folders end to end: the tiny models in tests/data/ (written by
// `ctk compress`, tests/data/regen.sh) read back through every scheme and checked
// against the dense input (tests/data/tiny) with the CPU references; a fresh compress
// must reproduce their bytes; and every kind of broken checkpoint gives one error that
// names the layer, the tensor or the field.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/random.h"
#include "io/checkpoint.h"
#include "io/compress.h"
#include "io/load_layer.h"
#include "ref/weight_quant.h"
#include "ref/gemm.h"
#include "ref/mxfp4.h"
#include "ref/quant.h"
#include "ref/sparse24.h"
#include "ref/tensor_math.h"
#include "temp_dir.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace ctk;
using ctk::test::error_of;
using ctk::test::TempDir;

namespace {

// tests/data beside the build folder of this binary (build/ctk_tests -> tests/data).
std::string data_dir() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    fs::path d = exe.parent_path().parent_path() / "tests" / "data";
    return fs::exists(d / "tiny", ec) ? d.string() : std::string("tests/data");
}
std::string data(const std::string& name) { return data_dir() + "/" + name; }

const char* kQkv = "model.layers.0.self_attn.qkv_proj";
const char* kGateUp = "model.layers.0.mlp.gate_up_proj";
const char* kDown = "model.layers.0.mlp.down_proj";
const char* kO = "model.layers.0.self_attn.o_proj";

// The options tests/data/regen.sh passes for each folder.
struct Variant {
    const char* dir;
    io::CompressScheme scheme;
    SparsityFormat format;
    bool per_channel, dynamic;
    float input_scale;
};
const Variant kVariants[] = {
    {"tiny-sparse24-bitmask", io::CompressScheme::Sparse24, SparsityFormat::Sparse24Bitmask, true, true, 0},
    {"tiny-sparse24-dense", io::CompressScheme::Sparse24, SparsityFormat::Dense, true, true, 0},
    {"tiny-w8a8-int8", io::CompressScheme::Sparse24W8A8Int8, SparsityFormat::Sparse24Bitmask, true, true, 0},
    {"tiny-w8a8-int8-static", io::CompressScheme::Sparse24W8A8Int8, SparsityFormat::Dense, false, false, 0.03f},
    {"tiny-w8a8-fp8", io::CompressScheme::Sparse24W8A8Fp8, SparsityFormat::Sparse24Bitmask, true, true, 0},
    {"tiny-w8a8-fp8-static", io::CompressScheme::Sparse24W8A8Fp8, SparsityFormat::Dense, false, false, 0.01f},
    {"tiny-mxfp4", io::CompressScheme::Mxfp4A16, SparsityFormat::Dense, true, true, 0},
};

io::CompressOptions options_of(const Variant& v) {
    io::CompressOptions o;
    o.scheme = v.scheme;
    o.format = v.format;
    o.per_channel = v.per_channel;
    o.dynamic_inputs = v.dynamic;
    o.input_scale = v.input_scale;
    return o;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    return a.dtype == b.dtype && a.shape == b.shape && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Rows of the dense input's shards stacked (q, k, v / gate, up), in the input dtype.
Tensor dense_rows(const io::SafetensorsDir& dense, const std::vector<std::string>& modules, const char* param) {
    std::vector<Tensor> parts;
    for (const auto& m : modules) parts.push_back(dense.load(m + "." + param));
    return concat_rows(parts);
}

Tensor random_x(int64_t M, int64_t K, uint64_t seed) {
    Rng rng(seed);
    Tensor f = Tensor::empty(DType::F32, {M, K});
    for (int64_t i = 0; i < f.numel(); ++i) f.data<float>()[i] = rng.normal();
    return ref::from_f32(f, DType::BF16);
}

// A copy of a tests/data folder with its tensors changed by `edit` and its config text
// by `edit_config`.
void mutate(const std::string& src, const std::string& dst, const std::function<void(io::NamedTensors&)>& edit,
            const std::function<void(std::string&)>& edit_config = nullptr) {
    io::SafetensorsDir in = io::SafetensorsDir::open(src);
    io::NamedTensors t;
    for (const auto& n : in.names()) t.emplace_back(n, in.load(n));
    edit(t);
    fs::create_directories(dst);
    io::write_safetensors(dst + "/model.safetensors", t, {{"format", "pt"}});
    std::string cfg = test::read_bytes(src + "/config.json");
    if (edit_config) edit_config(cfg);
    test::write_bytes(dst + "/config.json", cfg);
}

Tensor& tensor_named(io::NamedTensors& t, const std::string& name) {
    for (auto& nt : t)
        if (nt.first == name) return nt.second;
    throw Error("test: no tensor " + name);
}

}  // namespace

TEST_CASE("checkpoint: every tests/data folder lists the layers vLLM builds, with their schemes") {
    for (const Variant& v : kVariants) {
        CAPTURE(v.dir);
        io::Checkpoint ck = io::open_checkpoint(data(v.dir));
        CHECK(ck.params_dtype == DType::BF16);
        REQUIRE(ck.layers.size() == 5);
        const io::LinearLayer& qkv = ck.layer(kQkv);
        CHECK(qkv.module_class == "QKVParallelLinear");
        CHECK(qkv.shards == std::vector<std::string>{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                                                     "model.layers.0.self_attn.v_proj"});
        CHECK(qkv.logical_widths == std::vector<int64_t>{32, 16, 16});
        CHECK(qkv.in_features == 32);
        CHECK(qkv.has_bias);
        CHECK(ck.layer(kGateUp).logical_widths == std::vector<int64_t>{64, 64});
        CHECK(ck.layer(kDown).in_features == 64);
        CHECK(&ck.layer("model.layers.0.self_attn.k_proj") == &qkv);  // a shard name finds its fused layer
        CHECK(ck.layer("lm_head").scheme.kind == io::SchemeKind::Unquantized);
        io::SchemeKind want = v.scheme == io::CompressScheme::Mxfp4A16 ? io::SchemeKind::Mxfp4 : io::SchemeKind::Sparse24;
        for (const char* name : {kQkv, kGateUp, kDown, kO}) {
            const io::LinearLayer& l = ck.layer(name);
            CAPTURE(name);
            CHECK(l.problem == "");
            CHECK(l.scheme.kind == want);
            if (want == io::SchemeKind::Sparse24) {
                CHECK(l.scheme.sparsity.format == v.format);
                bool quantized = v.scheme != io::CompressScheme::Sparse24;
                REQUIRE(l.scheme.weight_quant.has_value() == quantized);
                if (quantized) {
                    CHECK(l.scheme.weight_quant->strategy == (v.per_channel ? QuantStrategy::Channel : QuantStrategy::Tensor));
                    CHECK(l.scheme.input_quant->dynamic == v.dynamic);
                    CHECK(l.scheme.weight_quant->type ==
                          (v.scheme == io::CompressScheme::Sparse24W8A8Int8 ? QuantType::Int : QuantType::Float));
                }
            }
        }
    }
    io::Checkpoint dense = io::open_checkpoint(data("tiny"));
    CHECK(!dense.config.present);
    for (const auto& l : dense.layers) CHECK(l.scheme.kind == io::SchemeKind::Unquantized);
}

TEST_CASE("checkpoint: a fresh ctk compress writes exactly the bytes in tests/data") {
    for (const Variant& v : kVariants) {
        CAPTURE(v.dir);
        TempDir tmp;
        std::string out = tmp.file(v.dir);
        io::CompressSummary s = io::compress_model(data("tiny"), out, options_of(v));
        CHECK(s.compressed == 7);  // q, k, v, o, gate, up, down (lm_head and embeddings stay dense)
        CHECK(s.copied == 8);
        for (const char* f : {"config.json", "model.safetensors"}) {
            CAPTURE(f);
            CHECK(test::read_bytes(out + "/" + f) == test::read_bytes(data(v.dir) + "/" + f));
        }
    }
}

TEST_CASE("checkpoint: stored tensors equal the references applied to the dense input") {
    io::SafetensorsDir dense = io::SafetensorsDir::open(data("tiny"));
    for (const Variant& v : kVariants) {
        CAPTURE(v.dir);
        io::Checkpoint ck = io::open_checkpoint(data(v.dir));
        for (const auto& l : ck.layers) {
            if (l.name == "lm_head") continue;
            for (const auto& m : l.shards) {
                CAPTURE(m);
                Tensor w = dense.load(m + ".weight");
                const int64_t K = w.shape[1];
                if (v.scheme == io::CompressScheme::Mxfp4A16) {
                    ref::Mxfp4Weight q = ref::mxfp4_quantize(w, MxScaleRule::Even);
                    CHECK(same_bytes(ck.tensors.load(m + ".weight_packed"), q.packed));
                    CHECK(same_bytes(ck.tensors.load(m + ".weight_scale"), q.scales));
                    continue;
                }
                Tensor want = ref::prune_24(w);
                if (v.scheme != io::CompressScheme::Sparse24) {
                    DType qt = v.scheme == io::CompressScheme::Sparse24W8A8Int8 ? DType::I8 : DType::F8E4M3;
                    ref::QuantizedWeight qw = ref::quantize_weight_8bit(want, qt, v.per_channel);
                    want = qw.q;
                    CHECK(same_bytes(ck.tensors.load(m + ".weight_scale"), qw.scale));
                    if (!v.dynamic) {
                        Tensor s = ck.tensors.load(m + ".input_scale");
                        CHECK(s.shape == Shape{1});
                        CHECK(ref::load_f32(s, 0) == bf16_to_float(bf16_from_float(v.input_scale)));
                    }
                }
                if (v.format == SparsityFormat::Dense) {
                    CHECK(same_bytes(ck.tensors.load(m + ".weight"), want));
                } else {
                    Tensor shape = ck.tensors.load(m + ".shape");
                    CHECK(shape.shape == Shape{2, 1});
                    CHECK(shape.data<int64_t>()[0] == w.shape[0]);
                    CHECK(shape.data<int64_t>()[1] == K);
                    Tensor back = ref::bitmask_decode(ck.tensors.load(m + ".compressed"), ck.tensors.load(m + ".bitmask"), K);
                    CHECK(same_bytes(back, want));
                }
            }
        }
    }
}

TEST_CASE("checkpoint: load_layer + apply equals the reference GEMM on the dense input, every scheme") {
    io::SafetensorsDir dense = io::SafetensorsDir::open(data("tiny"));
    for (const Variant& v : kVariants) {
        for (const char* name : {kQkv, kGateUp, kDown, kO}) {
            CAPTURE(v.dir);
            CAPTURE(name);
            io::Checkpoint ck = io::open_checkpoint(data(v.dir));
            const io::LinearLayer& d = ck.layer(name);
            io::LoadedLayer layer = io::load_layer(ck, name, Backend::CPU, DType::BF16);
            for (int64_t M : {1, 7, 17}) {
                CAPTURE(M);
                Tensor x = random_x(M, d.in_features, 100 + M);
                Tensor got = io::apply(layer, x);
                Tensor w = dense_rows(dense, d.shards, "weight");
                Tensor bias = d.has_bias ? dense_rows(dense, d.shards, "bias") : Tensor();
                Tensor want;
                if (v.scheme == io::CompressScheme::Mxfp4A16) {
                    want = ref::mxfp4_gemm(x, ref::mxfp4_quantize(w, MxScaleRule::Even), bias);
                } else if (v.scheme == io::CompressScheme::Sparse24) {
                    want = ref::scaled_gemm(x, ref::prune_24(w), Tensor(), Tensor(), bias, DType::BF16);
                } else {
                    // Per shard: prune, quantize (per channel, or one scale per shard), stack.
                    bool is_int = v.scheme == io::CompressScheme::Sparse24W8A8Int8;
                    DType qt = is_int ? DType::I8 : DType::F8E4M3;
                    std::vector<Tensor> qs;
                    std::vector<float> scales;
                    for (const auto& m : d.shards) {
                        Tensor wm = dense.load(m + ".weight");
                        ref::QuantizedWeight qw = ref::quantize_weight_8bit(ref::prune_24(wm), qt, v.per_channel);
                        qs.push_back(qw.q);
                        for (int64_t r = 0; r < wm.shape[0]; ++r)
                            scales.push_back(ref::load_f32(qw.scale, v.per_channel ? r : 0));
                    }
                    io::NamedTensors stacked;
                    Tensor wq = Tensor::empty(qt, {static_cast<int64_t>(scales.size()), d.in_features});
                    size_t off = 0;
                    for (const Tensor& q : qs) {
                        std::memcpy(static_cast<char*>(wq.raw()) + off, q.raw(), q.nbytes());
                        off += q.nbytes();
                    }
                    Tensor ws = Tensor::empty(DType::F32, {static_cast<int64_t>(scales.size())});
                    std::copy(scales.begin(), scales.end(), ws.data<float>());
                    float in_s = bf16_to_float(bf16_from_float(v.input_scale));
                    ref::QuantResult qx = is_int ? (v.dynamic ? ref::quant_int8_dynamic_per_token(x)
                                                              : ref::quant_int8_static(x, in_s))
                                                 : (v.dynamic ? ref::quant_fp8_dynamic_per_token(x)
                                                              : ref::quant_fp8_static(x, in_s));
                    want = ref::scaled_gemm(qx.q, wq, qx.scale, ws, bias, DType::BF16);
                }
                CHECK(same_bytes(got, want));
            }
        }
    }
}

TEST_CASE("checkpoint: broken checkpoints name the layer, tensor or field") {
    const std::string src = data("tiny-w8a8-int8");
    const std::string q = "model.layers.0.self_attn.q_proj";
    struct Case {
        const char* what;
        std::function<void(io::NamedTensors&)> edit;
        std::function<void(std::string&)> edit_config;
        bool at_open;      // the error comes from open_checkpoint (else from load_layer)
        std::vector<std::string> want;  // parts of the open_checkpoint or load_layer error
    };
    auto scale_value = [&](float v) {
        return [=](io::NamedTensors& t) { ref::store_f32(tensor_named(t, q + ".weight_scale"), 3, v); };
    };
    const Case cases[] = {
        {"missing tensor",
         [&](io::NamedTensors& t) {
             t.erase(std::find_if(t.begin(), t.end(), [&](const auto& nt) { return nt.first == q + ".weight_scale"; }));
         },
         nullptr, false, {"missing tensor 'model.layers.0.self_attn.q_proj.weight_scale'"}},
        {"extra tensor", [&](io::NamedTensors& t) { t.emplace_back(q + ".weight_zero_point", Tensor::zeros(DType::I8, {32, 1})); },
         nullptr, false, {"unexpected tensor 'model.layers.0.self_attn.q_proj.weight_zero_point'"}},
        {"wrong dtype",
         [&](io::NamedTensors& t) { tensor_named(t, q + ".bitmask").dtype = DType::I8; }, nullptr, false,
         {"tensor 'model.layers.0.self_attn.q_proj.bitmask': expected dtype U8, found I8"}},
        {"zero scale", scale_value(0.0f), nullptr, false,
         {"tensor 'model.layers.0.self_attn.q_proj.weight_scale' (", "found 0 at index 3"}},
        {"negative scale", scale_value(-1.0f), nullptr, false, {"scales must be positive and finite"}},
        {"NaN scale", scale_value(NAN), nullptr, false, {"scales must be positive and finite"}},
        {"bitmask nibble with 3 bits",
         [&](io::NamedTensors& t) { tensor_named(t, q + ".bitmask").data<uint8_t>()[5] |= 0x70; }, nullptr, false,
         {"tensor 'model.layers.0.self_attn.q_proj.bitmask' (", "): bitmask: row 1, group 3 (columns 12..15) has "}},
        {"shape tensor disagrees",
         [&](io::NamedTensors& t) { tensor_named(t, q + ".shape").data<int64_t>()[1] = 40; }, nullptr, false,
         {"does not fit {N, K} = {32, 40}"}},
        {"shards with different K",
         [&](io::NamedTensors& t) {
             Tensor& s = tensor_named(t, "model.layers.0.self_attn.k_proj.shape");
             s.data<int64_t>()[1] = 64;
             tensor_named(t, "model.layers.0.self_attn.k_proj.compressed") = Tensor::zeros(DType::I8, {16, 32});
         },
         nullptr, false, {"shards of a fused layer need one K"}},
        {"only some shards have a bias",
         [&](io::NamedTensors& t) {
             t.erase(std::find_if(t.begin(), t.end(), [&](const auto& nt) { return nt.first == q + ".bias"; }));
         },
         nullptr, false, {"only 2 of 3 shards have a bias"}},
        {"unknown scheme in config",
         [](io::NamedTensors&) {},
         [](std::string& c) { c.replace(c.find("\"int-quantized\""), 15, "\"int3-magic\""); }, true,
         {"quantization_config.format (line"}},
        {"unsupported scheme (dense W8A8 without sparsity)",
         [](io::NamedTensors&) {},
         [](std::string& c) { c.replace(c.find("\"sparsity_config\": {"), 20, "\"sparsity_off\": {"); }, false,
         {"unsupported scheme: model.layers.0.self_attn.qkv_proj: weights int8 channel"}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        TempDir tmp;
        std::string dir = tmp.file("m");
        mutate(src, dir, c.edit, c.edit_config);
        std::string open_err = error_of([&] { io::open_checkpoint(dir); });
        CAPTURE(open_err);
        if (c.at_open) {
            for (const auto& w : c.want) CHECK(open_err.find(w) != std::string::npos);
            continue;
        }
        REQUIRE(open_err.empty());
        io::Checkpoint ck = io::open_checkpoint(dir);
        std::string problem = ck.layer(kQkv).problem;
        std::string load_err = error_of([&] { io::load_layer(ck, kQkv, Backend::CPU, DType::BF16); });
        CAPTURE(problem);
        CAPTURE(load_err);
        CHECK(load_err.rfind(dir + ": layer model.layers.0.self_attn.qkv_proj: ", 0) == 0);
        for (const auto& w : c.want) CHECK(load_err.find(w) != std::string::npos);
    }
}

TEST_CASE("checkpoint: folders without config.json, and bad compress requests") {
    TempDir tmp;
    fs::create_directories(tmp.file("noconfig"));
    fs::copy_file(data("tiny") + "/model.safetensors", tmp.file("noconfig/model.safetensors"));
    CHECK(error_of([&] { io::open_checkpoint(tmp.file("noconfig")); }).find("config.json: missing") != std::string::npos);
    CHECK(error_of([&] { io::open_checkpoint(tmp.file("absent")); }).find("not a model folder") != std::string::npos);

    io::CompressOptions o;
    o.scheme = io::CompressScheme::Sparse24W8A8Int8;
    o.dynamic_inputs = false;
    o.input_scale = 0.0f;
    CHECK(error_of([&] { io::compress_model(data("tiny"), tmp.file("a"), o); }).find("--input-scale") != std::string::npos);
    o = io::CompressOptions();
    o.ignore = {"model.layers.0.self_attn.q_proj"};
    CHECK(error_of([&] { io::compress_model(data("tiny"), tmp.file("b"), o); })
              .find("model.layers.0.self_attn.q_proj is ignored but model.layers.0.self_attn.k_proj is not") !=
          std::string::npos);
    o.ignore = {"re:(bad"};
    CHECK(error_of([&] { io::compress_model(data("tiny"), tmp.file("c"), o); }).find("invalid regular expression") !=
          std::string::npos);
    o = io::CompressOptions();
    CHECK(error_of([&] { io::compress_model(data("tiny"), data("tiny"), o); }).find("is not empty") != std::string::npos);
    CHECK(error_of([&] { io::compress_model(data("tiny-mxfp4"), tmp.file("d"), o); })
              .find("quantization_config is already set") != std::string::npos);
    // K not a multiple of 32 for MXFP4 names the tensor.
    fs::create_directories(tmp.file("odd"));
    io::write_safetensors(tmp.file("odd/model.safetensors"), {{"layer.weight", Tensor::zeros(DType::BF16, {4, 48})}});
    o.scheme = io::CompressScheme::Mxfp4A16;
    CHECK(error_of([&] { io::compress_model(tmp.file("odd"), tmp.file("e"), o); })
              .find("tensor 'layer.weight': K = 48 is not a multiple of the MXFP4 block (32)") != std::string::npos);
}

TEST_CASE("checkpoint: --ignore keeps layers dense and names the 2:4 targets") {
    TempDir tmp;
    io::CompressOptions o;
    o.scheme = io::CompressScheme::Sparse24W8A8Fp8;
    o.ignore = {"model.layers.0.mlp.down_proj"};
    o.max_shard_bytes = 6000;  // forces several shards + index
    io::CompressSummary s = io::compress_model(data("tiny"), tmp.file("m"), o);
    CHECK(s.compressed == 6);
    CHECK(fs::exists(tmp.file("m/model.safetensors.index.json")));
    CHECK(s.files.size() > 3);
    io::Checkpoint ck = io::open_checkpoint(tmp.file("m"));
    CHECK(ck.config.sparsity->targets.size() == 6);  // the compressed modules by name
    CHECK(ck.layer(kDown).scheme.kind == io::SchemeKind::Unquantized);
    CHECK(ck.layer(kQkv).scheme.kind == io::SchemeKind::Sparse24);  // fused match over the shard names
    CHECK(ck.layer(kGateUp).scheme.kind == io::SchemeKind::Sparse24);
    io::LoadedLayer l = io::load_layer(ck, kGateUp, Backend::CPU, DType::BF16);
    CHECK(io::apply(l, random_x(3, 32, 5)).shape == Shape{3, 128});
}
