// Checkpoint folders: module discovery, q/k/v and gate/up fusion, scheme selection and
// the tensor check per scheme (checkpoint.h).
#include "io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include "core/error.h"
#include "io/json.h"

namespace fs = std::filesystem;

namespace ctk::io {

// No overflow here or in bf16_bytes: a module's N and K are positive only when its shape
// passed linear_shape, and then N <= N x K <= 2 x the tensor's bytes (N x K/2 elements of
// weight_packed or compressed, N x K of weight). Every file of a checkpoint is mapped at
// once, so the bytes of all shards together are below the address space (< 2^57): the sum
// of the widths, and that sum x K x 2, stay far below 2^63. Modules with a shape problem
// get N = K = 0.
int64_t LinearLayer::out_features() const {
    return std::accumulate(logical_widths.begin(), logical_widths.end(), int64_t{0});
}

uint64_t LinearLayer::bf16_bytes() const {
    uint64_t n = static_cast<uint64_t>(out_features());
    return n * static_cast<uint64_t>(in_features) * 2 + (has_bias ? n * 2 : 0);
}

namespace {

// One checkpoint module: its parameters (short name -> full tensor name).
struct Module {
    std::string name;
    std::map<std::string, std::string> params;
    int64_t N = 0, K = 0;
    std::string shape_tensor;   // the tensor N and K come from (for messages)
    std::string shape_problem;
};

// N and K must be positive, and are checked before any arithmetic on them: a tensor with
// a zero dimension holds no bytes, so nothing bounds the other one ([2^62, 0] is a valid
// header), and K = 2 x shape[1] or the sum of fused widths could overflow.
bool positive_dims(const TensorInfo& t, Module& m, const char* layout) {
    if (t.shape[0] > 0 && t.shape[1] > 0) return true;
    m.shape_problem = cat("tensor '", t.name, "': shape ", shape_str(t.shape), ": expected N > 0 and K > 0 (", layout,
                          ")");
    return false;
}

// Output and input features of a linear module, or false when it is not one.
bool linear_shape(const SafetensorsDir& st, Module& m) {
    auto info = [&](const char* p) -> const TensorInfo* {
        auto it = m.params.find(p);
        return it == m.params.end() ? nullptr : &st.info(it->second);
    };
    if (const TensorInfo* wp = info("weight_packed")) {
        m.shape_tensor = wp->name;
        if (wp->shape.size() != 2) {
            m.shape_problem = cat("tensor '", wp->name, "': expected 2-D [N, K/2], found ", shape_str(wp->shape));
            return true;
        }
        if (!positive_dims(*wp, m, "weight_packed is [N, K/2]")) return true;
        m.N = wp->shape[0];
        m.K = wp->shape[1] * 2;
        return true;
    }
    if (const TensorInfo* c = info("compressed")) {
        const TensorInfo* s = info("shape");
        m.shape_tensor = c->name;
        if (!s) {
            m.shape_problem = cat("missing tensor '", m.name, ".shape' (sparse-24-bitmask stores {N, K} there)");
            return true;
        }
        if (s->dtype != DType::I64 || shape_numel(s->shape) != 2) {
            m.shape_problem = cat("tensor '", s->name, "': expected i64 [2, 1] {N, K}, found ",
                                  dtype_name(s->dtype), shape_str(s->shape));
            return true;
        }
        Tensor v = st.load(s->name);
        m.N = v.data<int64_t>()[0];
        m.K = v.data<int64_t>()[1];
        if (m.N <= 0 || m.K <= 0 || c->shape.size() != 2 || c->shape[0] != m.N || m.K % 2 != 0 ||
            c->shape[1] != m.K / 2)
            m.shape_problem = cat("tensor '", c->name, "': shape ", shape_str(c->shape), " does not fit {N, K} = {",
                                  m.N, ", ", m.K, "} from '", s->name, "' (expected [N, K/2])");
        return true;
    }
    if (const TensorInfo* w = info("weight")) {
        if (w->shape.size() != 2) return false;  // norms and other 1-D weights
        m.shape_tensor = w->name;
        if (!positive_dims(*w, m, "a linear weight is [N, K]")) return true;
        m.N = w->shape[0];
        m.K = w->shape[1];
        return true;
    }
    return false;
}

// The parameters the scheme reads (vLLM's create_weights), with their dtypes.
std::map<std::string, std::vector<DType>> expected_params(const LayerScheme& s, const std::string& module_class) {
    const std::vector<DType> floats = {DType::F32, DType::F16, DType::BF16};
    std::map<std::string, std::vector<DType>> p;
    if (module_class == "ParallelLMHead" || s.kind == SchemeKind::Unquantized) {
        p["weight"] = floats;
    } else if (s.kind == SchemeKind::Mxfp4) {
        p["weight_packed"] = {DType::U8};
        p["weight_scale"] = {DType::U8};
    } else if (s.kind == SchemeKind::Sparse24) {
        std::vector<DType> wt = floats;
        if (s.weight_quant) wt = {s.weight_quant->type == QuantType::Int ? DType::I8 : DType::F8E4M3};
        if (s.sparsity.format == SparsityFormat::Dense) {
            p["weight"] = wt;
        } else {
            p["compressed"] = wt;
            p["bitmask"] = {DType::U8};
            p["shape"] = {DType::I64};
        }
        // Scales: compressed-tensors stores them in the model dtype; vLLM copies them into f32.
        if (s.weight_quant) p["weight_scale"] = floats;
        if (s.input_quant && !s.input_quant->dynamic) p["input_scale"] = floats;
    }
    return p;
}

std::string dtype_list(const std::vector<DType>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " or " : "") + std::string(safetensors_dtype_name(v[i]));
    return s;
}

// "" when every shard holds exactly the tensors the scheme reads (plus an optional
// bias on all shards or none), in the right dtypes.
std::string check_tensors(const SafetensorsDir& st, const LinearLayer& layer, const std::vector<const Module*>& mods) {
    if (layer.scheme.kind == SchemeKind::Unsupported) return "";
    auto want = expected_params(layer.scheme, layer.module_class);
    size_t with_bias = 0;
    for (const Module* m : mods) {
        for (const auto& kv : want) {
            auto it = m->params.find(kv.first);
            if (it == m->params.end())
                return cat("missing tensor '", m->name, ".", kv.first, "' (the ", scheme_kind_name(layer.scheme.kind),
                           " scheme reads it)");
            DType dt = st.info(it->second).dtype;
            if (std::find(kv.second.begin(), kv.second.end(), dt) == kv.second.end())
                return cat("tensor '", it->second, "': expected dtype ", dtype_list(kv.second), ", found ",
                           safetensors_dtype_name(dt));
        }
        for (const auto& kv : m->params) {
            if (kv.first == "bias") {
                ++with_bias;
                continue;
            }
            if (!want.count(kv.first)) {
                std::string names;
                for (const auto& w : want) names += (names.empty() ? "" : ", ") + w.first;
                return cat("unexpected tensor '", kv.second, "' (the ", layer.scheme.describe(), " scheme reads ",
                           names, ", bias)");
            }
        }
    }
    if (with_bias != 0 && with_bias != mods.size())
        return cat("only ", with_bias, " of ", mods.size(), " shards have a bias");
    return "";
}

// Two layers under one name: a pre-fused X.qkv_proj (or gate_up_proj) beside its shards
// X.q_proj, X.k_proj, X.v_proj, which vLLM would load into one parameter. Every such layer
// gets a problem naming the tensors of each, so `--layer` cannot silently take one.
// `layers` is sorted by name.
void flag_duplicate_names(std::vector<LinearLayer>& layers, const std::map<std::string, Module>& modules) {
    for (size_t i = 0; i < layers.size();) {
        size_t j = i + 1;
        while (j < layers.size() && layers[j].name == layers[i].name) ++j;
        if (j - i > 1) {
            std::string from;
            for (size_t k = i; k < j; ++k) {
                from += k == i ? "one from " : ", one from ";
                for (size_t s = 0; s < layers[k].shards.size(); ++s)
                    from += cat(s ? ", '" : "'", modules.at(layers[k].shards[s]).shape_tensor, "'");
            }
            for (size_t k = i; k < j; ++k)
                layers[k].problem = cat(j - i, " layers are named ", layers[i].name, ": ", from,
                                        " (vLLM would load them into one parameter; keep the fused tensors or the "
                                        "shards, not both)");
        }
        i = j;
    }
}

}  // namespace

const LinearLayer& Checkpoint::layer(const std::string& name) const {
    for (const auto& l : layers) {
        if (l.name == name) return l;
        if (std::find(l.shards.begin(), l.shards.end(), name) != l.shards.end()) return l;
    }
    std::string some;
    for (size_t i = 0; i < layers.size() && i < 6; ++i) some += (i ? ", " : "") + layers[i].name;
    if (layers.size() > 6) some += ", ...";
    throw Error(cat(dir, ": no linear layer '", name, "' (", layers.size(), " layers: ", some,
                    "; `ctk info ", dir, "` lists them all)"));
}

Checkpoint open_checkpoint(const std::string& dir) {
    Checkpoint ck;
    ck.dir = dir;
    std::error_code ec;
    CTK_CHECK(fs::is_directory(dir, ec), dir, ": not a model folder (expected a directory with config.json and "
                                              "*.safetensors)");
    std::string cfg_path = (fs::path(dir) / "config.json").string();
    CTK_CHECK(fs::exists(cfg_path, ec), cfg_path, ": missing (a model folder needs its config.json)");
    std::string cfg_text = json::read_text_file(cfg_path);
    ck.config = parse_ct_config(cfg_text, cfg_path);
    // The activation dtype: torch_dtype (or dtype in newer transformers) when 16-bit.
    json::Value root = json::parse(cfg_text, cfg_path);
    for (const char* key : {"torch_dtype", "dtype"}) {
        const json::Value* v = root.find(key);
        if (v && v->is_string()) {
            if (v->string == "float16") ck.params_dtype = DType::F16;
            if (v->string == "bfloat16") ck.params_dtype = DType::BF16;
            break;
        }
    }
    ck.tensors = SafetensorsDir::open(dir);
    const SafetensorsDir& st = ck.tensors;

    // Modules: tensor names split at the last '.'.
    std::map<std::string, Module> modules;
    for (const auto& name : st.names()) {
        size_t dot = name.rfind('.');
        if (dot == std::string::npos) continue;
        Module& m = modules[name.substr(0, dot)];
        m.name = name.substr(0, dot);
        m.params[name.substr(dot + 1)] = name;
    }
    std::map<std::string, Module*> linear;
    for (auto& kv : modules) {
        if (kv.first.find("embed") != std::string::npos) continue;
        Module& m = kv.second;
        if (!linear_shape(st, m)) continue;
        // A layer needs a name to be selected by (`--layer`, vLLM's module path).
        CTK_CHECK(!m.name.empty(), dir, ": tensor '", m.shape_tensor, "' has no module name before the '.' (a linear ",
                  "layer's tensors are named <module>.weight)");
        // Sizes claimed by a shape that has a problem are backed by no bytes: not used.
        if (!m.shape_problem.empty()) m.N = m.K = 0;
        linear[kv.first] = &m;
    }

    // Fuse q/k/v and gate/up shards of one parent when all of them exist.
    std::set<std::string> used;
    auto add_layer = [&](const std::string& name, const std::string& cls, const std::vector<Module*>& mods) {
        LinearLayer l;
        l.name = name;
        l.module_class = cls;
        std::vector<const Module*> cmods;
        for (Module* m : mods) {
            l.shards.push_back(m->name);
            l.logical_widths.push_back(m->N);
            for (const auto& p : m->params) {
                l.tensors.push_back(p.second);
                l.bytes += st.info(p.second).nbytes();
                if (p.first == "bias") l.has_bias = true;
            }
            if (l.problem.empty()) l.problem = m->shape_problem;
            cmods.push_back(m);
            used.insert(m->name);
        }
        l.in_features = mods[0]->K;
        for (const Module* m : mods)
            if (l.problem.empty() && m->K != l.in_features)
                l.problem = cat("shards of a fused layer need one K: ", mods[0]->name, " has K = ", l.in_features,
                                ", ", m->name, " has K = ", m->K);
        if (cls == "ParallelLMHead") {
            // vLLM's lm_head is not a LinearBase: compressed-tensors schemes never apply.
            l.scheme.kind = SchemeKind::Unquantized;
            l.scheme.reason = "unquantized (ParallelLMHead: vLLM applies no compressed-tensors scheme)";
        } else {
            l.scheme = select_scheme(ck.config, name, cls);
        }
        if (l.problem.empty()) l.problem = check_tensors(st, l, cmods);
        ck.layers.push_back(l);
    };
    // Pass 1: fused layers (every shard present under one parent). Pass 2: the rest.
    for (auto& kv : linear) {
        const std::string& name = kv.first;
        size_t dot = name.rfind('.');
        std::string parent = dot == std::string::npos ? "" : name.substr(0, dot + 1);
        std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
        for (const auto& fm : fused_modules()) {
            if (fm.second[0] != leaf) continue;
            std::vector<Module*> mods;
            for (const auto& shard : fm.second) {
                auto it = linear.find(parent + shard);
                if (it != linear.end()) mods.push_back(it->second);
            }
            if (mods.size() == fm.second.size())
                add_layer(parent + fm.first,
                          fm.first == "qkv_proj" ? "QKVParallelLinear" : "MergedColumnParallelLinear", mods);
        }
    }
    for (auto& kv : linear) {
        if (used.count(kv.first)) continue;
        size_t dot = kv.first.rfind('.');
        std::string leaf = dot == std::string::npos ? kv.first : kv.first.substr(dot + 1);
        add_layer(kv.first, leaf == "lm_head" ? "ParallelLMHead" : "Linear", {kv.second});
    }
    std::vector<LinearLayer>& kept = ck.layers;
    std::sort(kept.begin(), kept.end(), [](const LinearLayer& a, const LinearLayer& b) { return a.name < b.name; });
    flag_duplicate_names(kept, modules);
    return ck;
}

}  // namespace ctk::io
