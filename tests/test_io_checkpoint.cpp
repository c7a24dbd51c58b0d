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

TEST_CASE("checkpoint: a linear weight with a zero dimension is a shape problem of its layer") {
    // [0, K] and [N, 0] hold no bytes, so nothing bounds the other dimension: N, K = 2 x
    // shape[1] or the fused width sum could overflow. Such a layer gets N = K = 0 and a problem.
    const std::string o = "model.layers.0.self_attn.o_proj";
    const int64_t big = int64_t{1} << 62;
    struct Case {
        const char* src;
        const char* param;
        Shape shape;
        const char* layout;
    };
    const Case cases[] = {
        {"tiny", "weight", {0, 32}, "a linear weight is [N, K]"},
        {"tiny", "weight", {32, 0}, "a linear weight is [N, K]"},
        {"tiny", "weight", {big, 0}, "a linear weight is [N, K]"},
        {"tiny-mxfp4", "weight_packed", {0, 16}, "weight_packed is [N, K/2]"},
        {"tiny-mxfp4", "weight_packed", {0, big}, "weight_packed is [N, K/2]"},  // K = 2^63 would overflow
        {"tiny-mxfp4", "weight_packed", {int64_t{1} << 40, 0}, "weight_packed is [N, K/2]"},
    };
    for (const Case& c : cases) {
        const std::string tname = o + "." + c.param;
        CAPTURE(tname);
        CAPTURE(shape_str(c.shape));
        TempDir tmp;
        std::string dir = tmp.file("m");
        DType dt = std::string(c.param) == "weight" ? DType::BF16 : DType::U8;  // the dtype the scheme reads
        mutate(data(c.src), dir, [&](io::NamedTensors& t) { tensor_named(t, tname) = Tensor::zeros(dt, c.shape); });
        io::Checkpoint ck = io::open_checkpoint(dir);
        const io::LinearLayer& l = ck.layer(kO);
        std::string want = cat("tensor '", tname, "': shape ", shape_str(c.shape), ": expected N > 0 and K > 0 (",
                               c.layout, ")");
        CHECK(l.problem == want);
        CHECK(l.out_features() == 0);
        CHECK(l.in_features == 0);
        CHECK(error_of([&] { io::load_layer(ck, kO, Backend::CPU, DType::BF16); }) ==
              cat(dir, ": layer ", kO, ": ", want));
        CHECK(ck.layer(kDown).problem.empty());  // the other layers are fine
    }
    // Fused: three [2^62, 0] shards would sum to more than int64 holds.
    TempDir tmp;
    std::string dir = tmp.file("qkv");
    mutate(data("tiny"), dir, [&](io::NamedTensors& t) {
        for (const char* s : {"q_proj", "k_proj", "v_proj"})
            tensor_named(t, cat("model.layers.0.self_attn.", s, ".weight")) = Tensor::zeros(DType::BF16, {big, 0});
    });
    io::Checkpoint ck = io::open_checkpoint(dir);
    const io::LinearLayer& qkv = ck.layer(kQkv);
    CHECK(qkv.problem.find("tensor 'model.layers.0.self_attn.q_proj.weight': shape [4611686018427387904, 0]: "
                           "expected N > 0 and K > 0") == 0);
    CHECK(qkv.logical_widths == std::vector<int64_t>{0, 0, 0});
    CHECK(qkv.out_features() == 0);
    CHECK(qkv.bf16_bytes() == 0);
}

TEST_CASE("checkpoint: two layers under one name, or a layer without a name, name their tensors") {
    // A pre-fused qkv_proj beside its q/k/v shards: vLLM would load both into one parameter.
    TempDir tmp;
    std::string dir = tmp.file("dup");
    mutate(data("tiny"), dir, [](io::NamedTensors& t) {
        t.emplace_back(std::string(kQkv) + ".weight", Tensor::zeros(DType::BF16, {64, 32}));
    });
    io::Checkpoint ck = io::open_checkpoint(dir);
    int named = 0;
    for (const auto& l : ck.layers) {
        if (l.name != kQkv) continue;
        ++named;
        CAPTURE(l.problem);
        CHECK(l.problem.rfind(cat("2 layers are named ", kQkv, ": one from "), 0) == 0);
        CHECK(l.problem.find("'model.layers.0.self_attn.qkv_proj.weight'") != std::string::npos);
        CHECK(l.problem.find("'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight', "
                             "'model.layers.0.self_attn.v_proj.weight'") != std::string::npos);
    }
    CHECK(named == 2);
    std::string err = error_of([&] { io::load_layer(ck, kQkv, Backend::CPU, DType::BF16); });
    CHECK(err.find(cat(dir, ": layer ", kQkv, ": 2 layers are named ")) == 0);
    CHECK(ck.layer(kO).problem.empty());

    // A tensor named ".weight" would be a layer with an empty name.
    std::string unnamed = tmp.file("unnamed");
    mutate(data("tiny"), unnamed, [](io::NamedTensors& t) { t.emplace_back(".weight", Tensor::zeros(DType::BF16, {4, 32})); });
    CHECK(error_of([&] { io::open_checkpoint(unnamed); }) ==
          unnamed + ": tensor '.weight' has no module name before the '.' (a linear layer's tensors are named "
                    "<module>.weight)");
}

TEST_CASE("checkpoint: NaN or Inf in a float weight or bias names the tensor, file and element") {
    const std::string q = "model.layers.0.self_attn.q_proj";
    const std::string o = "model.layers.0.self_attn.o_proj";
    struct Case {
        std::string what;
        const char* src;
        const char* layer;
        DType params;
        std::function<void(io::NamedTensors&)> edit;
        std::string tensor, error;
    };
    Tensor big_bias = Tensor::zeros(DType::F32, {32});
    big_bias.data<float>()[2] = 1e5f;  // finite in f32 and bf16, Inf in f16
    Tensor big_weight = Tensor::zeros(DType::F32, {32, 32});
    big_weight.data<float>()[1 * 32 + 3] = -7e4f;
    const Case cases[] = {
        {"NaN dense weight", "tiny", kO, DType::BF16,
         [&](io::NamedTensors& t) { ref::store_f32(tensor_named(t, o + ".weight"), 1 * 32 + 3, NAN); }, o + ".weight",
         "weight: element (row 1, column 3) is nan"},
        {"Inf bias", "tiny", kQkv, DType::BF16,
         [&](io::NamedTensors& t) { ref::store_f32(tensor_named(t, q + ".bias"), 5, -INFINITY); }, q + ".bias",
         "bias: element 5 is -inf"},
        {"NaN bias of a 2:4 layer", "tiny-sparse24-bitmask", kQkv, DType::BF16,
         [&](io::NamedTensors& t) { ref::store_f32(tensor_named(t, q + ".bias"), 7, NAN); }, q + ".bias",
         "bias: element 7 is nan"},
        {"Inf in the compressed values of a 2:4 layer", "tiny-sparse24-bitmask", kO, DType::BF16,
         [&](io::NamedTensors& t) { ref::store_f32(tensor_named(t, o + ".compressed"), 2 * 16 + 3, -INFINITY); },
         o + ".compressed", "compressed: element (row 2, column 3) is -inf"},
        {"finite f32 bias, Inf in f16", "tiny", kQkv, DType::F16,
         [&](io::NamedTensors& t) { tensor_named(t, q + ".bias") = big_bias; }, q + ".bias",
         "bias rounded to f16: element 2 is inf"},
        {"finite f32 weight, Inf in f16", "tiny", kO, DType::F16,
         [&](io::NamedTensors& t) { tensor_named(t, o + ".weight") = big_weight; }, o + ".weight",
         "weight rounded to f16: element (row 1, column 3) is -inf"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        TempDir tmp;
        std::string dir = tmp.file("m");
        mutate(data(c.src), dir, c.edit);
        io::Checkpoint ck = io::open_checkpoint(dir);
        std::string err = error_of([&] { io::load_layer(ck, c.layer, Backend::CPU, c.params); });
        CHECK(err == cat(dir, ": layer ", c.layer, ": tensor '", c.tensor, "' (", dir, "/model.safetensors): ", c.error));
    }
    // The same f32 values are fine in bf16.
    TempDir tmp;
    mutate(data("tiny"), tmp.file("m"), [&](io::NamedTensors& t) {
        tensor_named(t, q + ".bias") = big_bias;
        tensor_named(t, o + ".weight") = big_weight;
    });
    io::Checkpoint ck = io::open_checkpoint(tmp.file("m"));
    CHECK(error_of([&] { io::load_layer(ck, kQkv, Backend::CPU, DType::BF16); }) == "");
    CHECK(error_of([&] { io::load_layer(ck, kO, Backend::CPU, DType::BF16); }) == "");
}

TEST_CASE("checkpoint: ctk compress refuses empty weights and clashing tensors before making the output folder") {
    TempDir tmp;
    const std::string o = "model.layers.0.self_attn.o_proj";
    io::CompressOptions sparse;
    io::CompressOptions int8;
    int8.scheme = io::CompressScheme::Sparse24W8A8Int8;
    struct Case {
        std::string what;
        std::function<void(io::NamedTensors&)> edit;
        io::CompressOptions opt;
        std::string error;
    };
    auto weight_shape = [&](const std::string& name, Shape s) {
        return [=](io::NamedTensors& t) { tensor_named(t, name) = Tensor::zeros(DType::BF16, s); };
    };
    auto add = [&](const std::string& name) {
        return [=](io::NamedTensors& t) { t.emplace_back(name, Tensor::zeros(DType::F32, {1})); };
    };
    const char* kEmpty = ": expected N > 0 and K > 0 (a Linear weight is [out_features, in_features])";
    auto extra = [&](const std::string& param) {
        return cat("tensor '", o, ".", param, "': ", o, " is to be compressed, so it may hold only weight and bias ",
                   "(ctk compress writes its other tensors; a dense model has no '", param, "')");
    };
    const Case cases[] = {
        {"N = 0", weight_shape(o + ".weight", {0, 32}), sparse, cat("tensor '", o, ".weight': shape [0, 32]", kEmpty)},
        {"K = 0", weight_shape(o + ".weight", {32, 0}), sparse, cat("tensor '", o, ".weight': shape [32, 0]", kEmpty)},
        // Pruning looped over 2^40 rows of nothing.
        {"[2^40, 0]", weight_shape(o + ".weight", {int64_t{1} << 40, 0}), sparse,
         cat("tensor '", o, ".weight': shape [1099511627776, 0]", kEmpty)},
        // lm_head is copied, not compressed, but `ctk run` still loads it as a layer.
        {"empty lm_head", weight_shape("lm_head.weight", {0, 32}), sparse,
         cat("tensor 'lm_head.weight': shape [0, 32]", kEmpty)},
        {"weight_scale in the input (sparse24)", add(o + ".weight_scale"), sparse, extra("weight_scale")},
        // w8a8 writes a weight_scale itself: this used to fail on the temporary part file.
        {"weight_scale in the input (w8a8)", add(o + ".weight_scale"), int8, extra("weight_scale")},
        {"input_scale in the input", add(o + ".input_scale"), int8, extra("input_scale")},
    };
    int i = 0;
    for (const Case& c : cases) {
        CAPTURE(c.what);
        std::string in = tmp.file(cat("in", i)), out = tmp.file(cat("out", i++));
        mutate(data("tiny"), in, c.edit);
        std::string err = error_of([&] { io::compress_model(in, out, c.opt); });
        CHECK(err == cat(in, "/model.safetensors: ", c.error));
        CHECK(!fs::exists(out));
    }
    // A weight_scale of a module that stays dense (--ignore) is copied as it is.
    io::CompressOptions keep = sparse;
    keep.ignore = {o};
    mutate(data("tiny"), tmp.file("in_keep"), add(o + ".weight_scale"));
    CHECK(error_of([&] { io::compress_model(tmp.file("in_keep"), tmp.file("out_keep"), keep); }) == "");
}

TEST_CASE("checkpoint: ctk compress checks --input-scale as stored in each weight dtype") {
    // compressed-tensors stores input_scale in the weight's dtype; the loader needs a
    // positive, finite, normal fp32 after reading it back.
    TempDir tmp;
    io::CompressOptions o;
    o.scheme = io::CompressScheme::Sparse24W8A8Fp8;
    o.format = SparsityFormat::Dense;
    o.per_channel = false;
    o.dynamic_inputs = false;
    const std::string f16 = tmp.file("f16");
    mutate(data("tiny"), f16, [](io::NamedTensors& t) {
        for (auto& nt : t) nt.second = ref::from_f32(ref::to_f32(nt.second), DType::F16);
    });
    const std::string first = "model.layers.0.mlp.down_proj.weight";  // the first linear weight by name
    struct Case {
        std::string in;
        float scale;
        std::string error;  // "" = accepted
    };
    const std::string rule = "; static input quantization needs a positive, finite, normal fp32 scale (>= 1.17549e-38)";
    const Case cases[] = {
        {data("tiny"), 1e-39f, "--input-scale: static input quantization needs a positive finite calibration "
                               "scale, a normal fp32 (>= 1.17549e-38), found 1e-39"},
        {data("tiny"), 1e-45f, "found 1.4013e-45"},
        {data("tiny"), 3.4e38f, cat("--input-scale 3.4e+38: stored in bf16 (the dtype of '", first,
                                    "', which compressed-tensors keeps input_scale in) it becomes inf", rule)},
        {f16, 1e-9f, cat("--input-scale 1e-09: stored in f16 (the dtype of '", first,
                         "', which compressed-tensors keeps input_scale in) it becomes 0", rule)},
        {f16, 70000.0f, "stored in f16 (the dtype of '" + first + "', which compressed-tensors keeps input_scale in) "
                        "it becomes inf"},
        {f16, 1e-7f, ""},  // subnormal in f16, but a normal fp32 once read back
        {data("tiny"), 0.03f, ""},
    };
    int i = 0;
    for (const Case& c : cases) {
        CAPTURE(c.in);
        CAPTURE(c.scale);
        o.input_scale = c.scale;
        std::string out = tmp.file(cat("out", i++));
        std::string err = error_of([&] { io::compress_model(c.in, out, o); });
        CAPTURE(err);
        if (c.error.empty()) {
            CHECK(err == "");
            io::Checkpoint ck = io::open_checkpoint(out);
            CHECK(error_of([&] { io::load_layer(ck, kO, Backend::CPU, ck.params_dtype); }) == "");
            continue;
        }
        CHECK(err.find(c.error) != std::string::npos);
        CHECK(!fs::exists(out));
    }
}

TEST_CASE("checkpoint: a compress that fails half way leaves no output behind") {
    // A NaN in the last linear weight by name: with small shards, parts are written first.
    TempDir tmp;
    const std::string in = tmp.file("in");
    mutate(data("tiny"), in, [](io::NamedTensors& t) {
        ref::store_f32(tensor_named(t, "model.layers.0.self_attn.v_proj.weight"), 0, NAN);
    });
    io::CompressOptions o;
    o.max_shard_bytes = 2000;
    std::vector<std::string> progress;
    o.progress = [&](const std::string& line) { progress.push_back(line); };
    std::string err = error_of([&] { io::compress_model(in, tmp.file("out"), o); });
    CHECK(err.find("tensor 'model.layers.0.self_attn.v_proj.weight'") != std::string::npos);
    CHECK(progress.size() >= 5);  // the failure came after other weights were compressed
    CHECK(!fs::exists(tmp.file("out")));
    // A folder that existed (empty) before stays, empty.
    fs::create_directories(tmp.file("pre"));
    CHECK(error_of([&] { io::compress_model(in, tmp.file("pre"), o); }) == err);
    CHECK(fs::is_directory(tmp.file("pre")));
    CHECK(fs::is_empty(tmp.file("pre")));
}
