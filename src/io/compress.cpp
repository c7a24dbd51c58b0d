// compress_model (compress.h): dense Linear weights -> compressed-tensors folder.
#include "io/compress.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "io/ct_config.h"
#include "io/json.h"
#include "io/name_regex.h"
#include "io/safetensors.h"
#include "ref/weight_quant.h"
#include "ref/mxfp4.h"
#include "ref/sparse24.h"
#include "ref/tensor_math.h"

namespace fs = std::filesystem;

namespace ctk::io {

const char* compress_scheme_name(CompressScheme s) {
    switch (s) {
        case CompressScheme::Sparse24: return "sparse24";
        case CompressScheme::Sparse24W8A8Int8: return "sparse24-w8a8-int8";
        case CompressScheme::Sparse24W8A8Fp8: return "sparse24-w8a8-fp8";
        case CompressScheme::Mxfp4A16: return "mxfp4-a16";
    }
    return "?";
}

bool compress_scheme_from_name(const std::string& name, CompressScheme* out) {
    for (CompressScheme s : {CompressScheme::Sparse24, CompressScheme::Sparse24W8A8Int8,
                             CompressScheme::Sparse24W8A8Fp8, CompressScheme::Mxfp4A16})
        if (name == compress_scheme_name(s)) {
            *out = s;
            return true;
        }
    return false;
}

namespace {

using json::Value;

Value str(const std::string& s) { return Value::from_string(s); }
Value strings(const std::vector<std::string>& v) {
    Value a = Value::make_array();
    for (const auto& s : v) a.push(str(s));
    return a;
}

// json.dump(..., sort_keys=True): every object's members in key order.
void sort_keys(Value& v) {
    if (v.is_object()) {
        std::sort(v.object.begin(), v.object.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto& kv : v.object) sort_keys(kv.second);
    } else if (v.is_array()) {
        for (auto& x : v.array) sort_keys(x);
    }
}

const char* torch_dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "float32";
        case DType::F16: return "float16";
        case DType::BF16: return "bfloat16";
        default: return "";
    }
}

// A QuantizationArgs as compressed-tensors' model_dump writes it. `mx_fields` adds
// scale_dtype / zp_dtype, which only the compressed-tensors versions with MX support
// know (older ones forbid unknown fields, so the 2:4 schemes leave them out).
Value quant_args_json(const QuantArgs& q, const char* observer, bool mx_fields) {
    Value v = Value::make_object();
    v.set("actorder", Value::null());
    v.set("block_structure", Value::null());
    v.set("dynamic", Value::from_bool(q.dynamic));
    v.set("group_size", q.group_size ? Value::from_int(q.group_size) : Value::null());
    v.set("num_bits", Value::from_int(q.num_bits));
    v.set("observer", observer ? str(observer) : Value::null());
    v.set("observer_kwargs", Value::make_object());
    if (mx_fields) {
        v.set("scale_dtype", str("torch.uint8"));
        v.set("zp_dtype", Value::null());  // serialized as null when symmetric
    }
    v.set("strategy", str(quant_strategy_name(q.strategy)));
    v.set("symmetric", Value::from_bool(q.symmetric));
    v.set("type", str(quant_type_name(q.type)));
    return v;
}

// The --ignore list: exact module names or "re:" patterns (io/name_regex.h, re.match).
struct Matcher {
    std::vector<std::string> entries;
    std::vector<NameRegex> regexes;  // one per entry; unused for exact entries
    explicit Matcher(const std::vector<std::string>& e) : entries(e) {
        for (const auto& s : e) {
            try {
                regexes.push_back(s.rfind("re:", 0) == 0 ? NameRegex(s.substr(3)) : NameRegex());
            } catch (const Error& err) {
                throw Error(cat("--ignore \"", s, "\": invalid regular expression (", err.what(), ")"));
            }
        }
    }
    bool matches(const std::string& name) const {
        for (size_t i = 0; i < entries.size(); ++i) {
            if (entries[i].rfind("re:", 0) == 0) {
                if (regexes[i].match(name)) return true;
            } else if (entries[i] == name) {
                return true;
            }
        }
        return false;
    }
};

// Streams tensors into shards of at most max_bytes, named at the end.
struct ShardWriter {
    std::string dir;
    uint64_t max_bytes;
    std::map<std::string, std::string> meta = {{"format", "pt"}};  // transformers requires it
    NamedTensors pending;
    uint64_t pending_bytes = 0;
    std::vector<std::string> tmp_files;
    std::vector<std::vector<std::string>> shard_names;
    std::vector<std::string> written;  // every path created, for removal when compress fails

    ShardWriter(std::string d, uint64_t max) : dir(std::move(d)), max_bytes(max) {}
    void add(const std::string& name, const Tensor& t) {
        if (!pending.empty() && pending_bytes + t.nbytes() > max_bytes) flush();
        pending.emplace_back(name, t);
        pending_bytes += t.nbytes();
    }
    void flush() {
        if (pending.empty()) return;
        std::string tmp = (fs::path(dir) / cat("part-", tmp_files.size(), ".safetensors.partial")).string();
        write_safetensors(tmp, pending, meta);
        written.push_back(tmp);
        tmp_files.push_back(tmp);
        std::vector<std::string> names;
        for (const auto& nt : pending) names.push_back(nt.first);
        shard_names.push_back(names);
        pending.clear();
        pending_bytes = 0;
    }
    // Renames the parts to model.safetensors, or model-0000i-of-0000n.safetensors plus
    // the index. Returns the file names.
    std::vector<std::string> finish(uint64_t total_bytes) {
        flush();
        std::vector<std::string> files;
        if (tmp_files.size() == 1) {
            written.push_back((fs::path(dir) / "model.safetensors").string());
            fs::rename(tmp_files[0], written.back());
            return {"model.safetensors"};
        }
        Value weight_map = Value::make_object();
        for (size_t i = 0; i < tmp_files.size(); ++i) {
            char name[64];
            std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, tmp_files.size());
            written.push_back((fs::path(dir) / name).string());
            fs::rename(tmp_files[i], written.back());
            files.push_back(name);
            for (const auto& t : shard_names[i]) weight_map.set(t, str(name));
        }
        sort_keys(weight_map);
        Value index = Value::make_object();
        Value m = Value::make_object();
        m.set("total_size", Value::from_int(static_cast<int64_t>(total_bytes)));
        index.set("metadata", m);
        index.set("weight_map", weight_map);
        std::string path = (fs::path(dir) / "model.safetensors.index.json").string();
        written.push_back(path);
        std::FILE* fp = std::fopen(path.c_str(), "wb");
        CTK_CHECK(fp, path, ": cannot create");
        std::string text = json::write(index, 2) + "\n";
        bool ok = std::fwrite(text.data(), 1, text.size(), fp) == text.size();
        ok = std::fclose(fp) == 0 && ok;
        CTK_CHECK(ok, path, ": write failed");
        files.push_back("model.safetensors.index.json");
        return files;
    }
};

// The rule the loader applies to input_scale (layers/sparse24_linear.cpp): positive,
// finite and a normal fp32 (>= FLT_MIN), since the activation quantizers divide by it and
// 1 / a subnormal is Inf.
bool valid_input_scale(float v) { return std::isfinite(v) && v >= FLT_MIN; }

// compressed-tensors stores input_scale in the weight's dtype, and rounding there can
// break the rule (1e-9 is 0 in f16, 70000 is Inf in f16, 1e-39 is subnormal in f32 and
// bf16): checked on the stored value, once per weight dtype, before anything is written.
void check_stored_input_scale(const SafetensorsDir& in, const std::vector<std::string>& linear, float v) {
    std::vector<DType> seen;
    for (const auto& m : linear) {
        DType dt = in.info(m + ".weight").dtype;
        if (std::find(seen.begin(), seen.end(), dt) != seen.end()) continue;
        seen.push_back(dt);
        Tensor s = Tensor::empty(dt, {1});
        ref::store_f32(s, 0, v);
        float stored = ref::load_f32(s, 0);
        CTK_CHECK(valid_input_scale(stored), "--input-scale ", v, ": stored in ", dtype_name(dt), " (the dtype of '", m,
                  ".weight', which compressed-tensors keeps input_scale in) it becomes ", stored,
                  "; static input quantization needs a positive, finite, normal fp32 scale (>= ", FLT_MIN, ")");
    }
}

// A 2-D `*.weight` outside embeddings is a Linear [out_features, in_features] to vLLM and
// to `ctk run`, compressed or copied (lm_head, --ignore): an empty one is refused before
// any work ([2^40, 0] holds no bytes, yet pruning would loop over 2^40 rows).
void check_linear_shape(const SafetensorsDir& in, const std::string& name) {
    const Shape& s = in.info(name).shape;
    CTK_CHECK(s[0] > 0 && s[1] > 0, in.file_of(name).path(), ": tensor '", name, "': shape ", shape_str(s),
              ": expected N > 0 and K > 0 (a Linear weight is [out_features, in_features])");
}

// A module that compress rewrites leaves with exactly the tensors its scheme writes, plus
// the bias it copies. Any other input tensor of that module (the weight_scale or
// input_scale of an already quantized model, a weight_zero_point...) would be copied
// beside them and refused by `ctk run` and vLLM as unexpected, or clash with a tensor
// compress writes; refused here, naming it, before the output folder is made.
void check_no_extra_tensors(const SafetensorsDir& in, const std::vector<std::string>& linear) {
    for (const auto& name : in.names()) {
        size_t dot = name.rfind('.');
        if (dot == std::string::npos) continue;
        const std::string module = name.substr(0, dot), param = name.substr(dot + 1);
        if (param == "weight" || param == "bias" || !std::binary_search(linear.begin(), linear.end(), module))
            continue;
        throw Error(cat(in.file_of(name).path(), ": tensor '", name, "': ", module,
                        " is to be compressed, so it may hold only weight and bias (ctk compress writes its other "
                        "tensors; a dense model has no '", param, "')"));
    }
}

// Writes OUT (shards, index) and config.json: every tensor compressed or copied, in name
// order, then the quantization_config. The caller removes what was written on failure.
CompressSummary write_model(const SafetensorsDir& in, const std::vector<std::string>& names,
                            const std::vector<std::string>& linear, const std::vector<std::string>& ignore,
                            Value config, const CompressOptions& opt, ShardWriter& out, const std::string& cfg_path) {
    const bool sparse = opt.scheme != CompressScheme::Mxfp4A16;
    const bool w8a8 = opt.scheme == CompressScheme::Sparse24W8A8Int8 || opt.scheme == CompressScheme::Sparse24W8A8Fp8;
    auto module_of = [](const std::string& name) { return name.substr(0, name.size() - 7); };  // strip ".weight"
    CompressSummary sum;
    uint64_t zeros = 0, elements = 0;
    DType model_dtype = in.info(linear[0] + ".weight").dtype;
    size_t step = 0;
    for (const auto& name : names) {
        ++step;
        Tensor t = in.load(name);
        sum.bytes_in += t.nbytes();
        bool is_linear = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
                         std::binary_search(linear.begin(), linear.end(), module_of(name));
        if (!is_linear) {
            out.add(name, t);
            sum.bytes_out += t.nbytes();
            ++sum.copied;
            continue;
        }
        const std::string m = module_of(name);
        const int64_t K = t.shape[1];
        std::vector<std::pair<std::string, Tensor>> made;
        try {
            if (opt.scheme == CompressScheme::Mxfp4A16) {
                CTK_CHECK(K % 32 == 0, "K = ", K, " is not a multiple of the MXFP4 block (32)");
                ref::Mxfp4Weight q = ref::mxfp4_quantize(t, MxScaleRule::Even);
                made = {{m + ".weight_packed", q.packed}, {m + ".weight_scale", q.scales}};
            } else {
                CTK_CHECK(K % 4 == 0, "K = ", K, " is not a multiple of 4 (2:4 groups run along K)");
                if (opt.format == SparsityFormat::Sparse24Bitmask)
                    CTK_CHECK(K % 8 == 0, "K = ", K, " is not a multiple of 8 (the sparse-24-bitmask packs 8 "
                                                     "columns per byte; use --format dense)");
                Tensor pruned = ref::prune_24(t);
                for (int64_t i = 0; i < pruned.numel(); ++i) zeros += ref::load_f32(pruned, i) == 0.0f;
                elements += static_cast<uint64_t>(pruned.numel());
                Tensor stored = pruned;
                if (w8a8) {
                    DType qt = opt.scheme == CompressScheme::Sparse24W8A8Int8 ? DType::I8 : DType::F8E4M3;
                    ref::QuantizedWeight qw = ref::quantize_weight_8bit(pruned, qt, opt.per_channel);
                    stored = qw.q;
                    made.push_back({m + ".weight_scale", qw.scale});
                    if (!opt.dynamic_inputs) {
                        Tensor s = Tensor::empty(t.dtype, {1});  // stored in the model dtype, like the observer's
                        ref::store_f32(s, 0, opt.input_scale);
                        made.push_back({m + ".input_scale", s});
                    }
                }
                if (opt.format == SparsityFormat::Sparse24Bitmask) {
                    ref::Bitmask24 bm = ref::bitmask_encode(stored);
                    made.push_back({m + ".compressed", bm.compressed});
                    made.push_back({m + ".bitmask", bm.bitmask});
                    made.push_back({m + ".shape", bm.shape});
                } else {
                    made.push_back({m + ".weight", stored});
                }
            }
        } catch (const Error& e) {
            throw Error(cat(in.file_of(name).path(), ": tensor '", name, "': ", e.what()));
        }
        std::sort(made.begin(), made.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        uint64_t nb = 0;
        for (const auto& nt : made) {
            out.add(nt.first, nt.second);
            nb += nt.second.nbytes();
        }
        sum.bytes_out += nb;
        ++sum.compressed;
        if (opt.progress)
            opt.progress(cat("[", step, "/", names.size(), "] ", name, " ", dtype_name(t.dtype), shape_str(t.shape),
                             " -> ", compress_scheme_name(opt.scheme), " (", t.nbytes(), " -> ", nb, " bytes)"));
    }
    sum.files = out.finish(sum.bytes_out);

    // quantization_config, as compressed-tensors' ModelCompressor.update_config writes it.
    Value qc = Value::make_object();
    qc.set("quant_method", str("compressed-tensors"));
    if (sparse) {
        Value sc = Value::make_object();
        sc.set("format", str(opt.format == SparsityFormat::Dense ? "dense" : "sparse-24-bitmask"));
        sc.set("global_sparsity", Value::from_double(elements ? static_cast<double>(zeros) / elements : 0.0));
        sc.set("registry_requires_subclass", Value::from_bool(false));
        sc.set("sparsity_structure", str("2:4"));
        // Every Linear but lm_head: the class name; otherwise the compressed modules by name.
        bool all = opt.ignore.empty();
        sc.set("targets", all ? strings({"Linear"}) : strings(linear));
        sc.set("ignore", strings(ignore));
        qc.set("sparsity_config", sc);
    } else {
        qc.set("sparsity_config", Value::make_object());
    }
    qc.set("transform_config", Value::make_object());
    if (opt.scheme != CompressScheme::Sparse24) {
        Value group = Value::make_object();
        std::string format;
        if (opt.scheme == CompressScheme::Mxfp4A16) {
            format = "mxfp4-pack-quantized";
            QuantArgs w{4, QuantType::Float, QuantStrategy::Group, false, true, 32};
            group.set("format", str(format));
            group.set("weights", quant_args_json(w, "memoryless_minmax", true));
            group.set("input_activations", Value::null());
        } else {
            bool is_int = opt.scheme == CompressScheme::Sparse24W8A8Int8;
            format = is_int ? "int-quantized" : "float-quantized";
            QuantType qt = is_int ? QuantType::Int : QuantType::Float;
            QuantArgs w{8, qt, opt.per_channel ? QuantStrategy::Channel : QuantStrategy::Tensor, false, true, 0};
            QuantArgs x{8, qt, opt.dynamic_inputs ? QuantStrategy::Token : QuantStrategy::Tensor, opt.dynamic_inputs,
                        true, 0};
            group.set("weights", quant_args_json(w, "minmax", false));
            group.set("input_activations", quant_args_json(x, opt.dynamic_inputs ? nullptr : "minmax", false));
        }
        group.set("output_activations", Value::null());
        group.set("targets", strings({"Linear"}));
        Value groups = Value::make_object();
        groups.set("group_0", group);
        qc.set("config_groups", groups);
        qc.set("format", str(format));
        qc.set("ignore", strings(ignore));
        qc.set("kv_cache_scheme", Value::null());
        qc.set("quantization_status", str("compressed"));
    }
    config.set("quantization_config", qc);
    if (!config.find("torch_dtype")) config.set("torch_dtype", str(torch_dtype_name(model_dtype)));
    sort_keys(config);
    std::string text = json::write(config, 2) + "\n";
    std::FILE* fp = std::fopen(cfg_path.c_str(), "wb");
    CTK_CHECK(fp, cfg_path, ": cannot create");
    bool ok = std::fwrite(text.data(), 1, text.size(), fp) == text.size();
    ok = std::fclose(fp) == 0 && ok;
    CTK_CHECK(ok, cfg_path, ": write failed");
    sum.files.insert(sum.files.begin(), "config.json");

    // Read back through our own strict reader and vLLM's scheme selection.
    (void)parse_ct_config(text, cfg_path);
    return sum;
}

// Removes what a failed compress wrote, so no half-written model folder is left behind.
void remove_output(const std::vector<std::string>& files, const std::string& dir, bool made_dir) {
    std::error_code ec;
    for (const auto& f : files) fs::remove(f, ec);
    if (made_dir) fs::remove(dir, ec);  // only if empty: never what someone else put there
}

}  // namespace

CompressSummary compress_model(const std::string& in_path, const std::string& out_dir, const CompressOptions& opt) {
    const bool w8a8 = opt.scheme == CompressScheme::Sparse24W8A8Int8 || opt.scheme == CompressScheme::Sparse24W8A8Fp8;
    if (w8a8 && !opt.dynamic_inputs)
        CTK_CHECK(valid_input_scale(opt.input_scale),
                  "--input-scale: static input quantization needs a positive finite calibration scale, a normal "
                  "fp32 (>= ", FLT_MIN, "), found ", opt.input_scale);

    // Input tensors and the input folder's config.json.
    SafetensorsDir in = SafetensorsDir::open(in_path);
    std::error_code ec;
    fs::path in_dir = fs::is_directory(in_path, ec) ? fs::path(in_path) : fs::path(in_path).parent_path();
    fs::path in_cfg = in_dir / "config.json";
    Value config = Value::make_object();
    if (fs::exists(in_cfg, ec)) {
        config = json::parse(json::read_text_file(in_cfg.string()), in_cfg.string());
        CTK_CHECK(config.is_object(), in_cfg.string(), ": expected a JSON object");
        for (const char* key : {"quantization_config", "compression_config"})
            CTK_CHECK(!config.find(key), in_cfg.string(), ": ", key,
                      " is already set; ctk compress starts from a dense (unquantized) model");
    }

    // The output folder: new or empty, so no stale shard can mix in (made below, once the
    // input has passed its checks).
    const bool made_dir = !fs::exists(out_dir, ec);
    if (!made_dir) {
        CTK_CHECK(fs::is_directory(out_dir, ec), out_dir, ": exists and is not a folder");
        CTK_CHECK(fs::is_empty(out_dir, ec), out_dir, ": exists and is not empty (ctk compress writes a new folder)");
    }

    // Which tensors are linear weights to compress.
    std::vector<std::string> ignore = {"lm_head"};
    for (const auto& s : opt.ignore)
        if (std::find(ignore.begin(), ignore.end(), s) == ignore.end()) ignore.push_back(s);
    Matcher ignored(ignore);
    auto module_of = [](const std::string& name) { return name.substr(0, name.size() - 7); };  // strip ".weight"
    std::vector<std::string> names = in.names();
    std::vector<std::string> linear;  // module names
    for (const auto& name : names) {
        const TensorInfo& t = in.info(name);
        bool is_weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
        if (!is_weight || t.shape.size() != 2 || name.find("embed") != std::string::npos) continue;
        check_linear_shape(in, name);
        if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16) continue;
        if (!ignored.matches(module_of(name))) linear.push_back(module_of(name));
    }
    std::sort(linear.begin(), linear.end());
    CTK_CHECK(!linear.empty(), in_path, ": no Linear weight to compress (2-D f32/f16/bf16 *.weight tensors outside ",
              "embeddings, lm_head and --ignore)");
    // vLLM needs the shards of a fused layer (q/k/v, gate/up) to share one scheme.
    for (const auto& m : linear) {
        size_t dot = m.rfind('.');
        std::string parent = dot == std::string::npos ? "" : m.substr(0, dot + 1);
        std::string leaf = dot == std::string::npos ? m : m.substr(dot + 1);
        for (const auto& fm : fused_modules())
            for (const auto& shard : fm.second) {
                if (shard != leaf) continue;
                for (const auto& sib : fm.second) {
                    std::string other = parent + sib;
                    CTK_CHECK(!in.contains(other + ".weight") || !ignored.matches(other), "--ignore: ", other,
                              " is ignored but ", m, " is not; vLLM fuses them into ", parent + fm.first,
                              ", whose shards must share one scheme");
                }
            }
    }
    check_no_extra_tensors(in, linear);
    if (w8a8 && !opt.dynamic_inputs) check_stored_input_scale(in, linear, opt.input_scale);

    fs::create_directories(out_dir, ec);
    CTK_CHECK(!ec, out_dir, ": cannot create: ", ec.message());
    ShardWriter out{out_dir, opt.max_shard_bytes};
    const std::string cfg_path = (fs::path(out_dir) / "config.json").string();
    try {
        return write_model(in, names, linear, ignore, config, opt, out, cfg_path);
    } catch (...) {
        std::vector<std::string> written = out.written;
        written.push_back(cfg_path);
        remove_output(written, out_dir, made_dir);
        throw;
    }
}

}  // namespace ctk::io
