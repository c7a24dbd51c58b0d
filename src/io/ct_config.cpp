// compressed-tensors config parsing and vLLM's per-layer scheme selection (ct_config.h).
#include "io/ct_config.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "core/error.h"

namespace ctk::io {

namespace {

// compressed-tensors CompressionFormat values (config/base.py).
const char* const kFormats[] = {"dense",          "sparse-bitmask",      "sparse-24-bitmask", "int-quantized",
                                "float-quantized", "naive-quantized",     "pack-quantized",    "marlin-24",
                                "mixed-precision", "nvfp4-pack-quantized", "mxfp4-pack-quantized"};
// vLLM's is_activation_quantization_format.
const char* const kActivationFormats[] = {"naive-quantized", "int-quantized", "float-quantized",
                                          "nvfp4-pack-quantized"};
// Every QuantizationArgs field (compressed-tensors forbids others: extra="forbid").
const char* const kQuantArgsFields[] = {"num_bits", "type",     "symmetric",   "group_size",     "strategy",
                                        "block_structure", "dynamic", "actorder", "scale_dtype", "zp_dtype",
                                        "observer", "observer_kwargs"};
// QuantizationScheme fields (one config group).
const char* const kGroupFields[] = {"targets", "weights", "input_activations", "output_activations", "format"};

constexpr size_t kMaxRegexChars = NameRegex::kMaxChars;

bool is_one_of(const std::string& s, const char* const* list, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (s == list[i]) return true;
    return false;
}
template <size_t N>
bool is_one_of(const std::string& s, const char* const (&list)[N]) {
    return is_one_of(s, list, N);
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
    return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Python's str.replace: every occurrence.
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
        s.replace(pos, from.size(), to);
        pos += to.size();
    }
    return s;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
}

// ---- typed access with errors naming file, field path and position -------------------

struct Reader {
    const std::string& source;

    [[noreturn]] void fail(const std::string& path, const json::Value& v, const std::string& what) const {
        std::string pos = json::position(v);
        throw Error(cat(source, ": ", path, pos.empty() ? "" : " (" + pos + ")", ": ", what));
    }
    std::string found(const json::Value& v) const {
        if (v.is_string()) return "\"" + v.string + "\"";
        if (v.is_number() || v.is_bool()) return json::write(v);
        return json::kind_name(v.kind);
    }
    const json::Value& object(const json::Value& v, const std::string& path) const {
        if (!v.is_object()) fail(path, v, cat("expected an object, found ", found(v)));
        return v;
    }
    std::string string(const json::Value& v, const std::string& path) const {
        if (!v.is_string()) fail(path, v, cat("expected a string, found ", found(v)));
        return v.string;
    }
    bool boolean(const json::Value& v, const std::string& path) const {
        if (!v.is_bool()) fail(path, v, cat("expected true or false, found ", found(v)));
        return v.boolean;
    }
    int64_t integer(const json::Value& v, const std::string& path) const {
        if (!v.is_number() || !v.is_integer) fail(path, v, cat("expected an integer, found ", found(v)));
        return v.integer;
    }
    std::vector<std::string> strings(const json::Value& v, const std::string& path) const {
        if (!v.is_array()) fail(path, v, cat("expected a list of strings, found ", found(v)));
        std::vector<std::string> out;
        for (size_t i = 0; i < v.array.size(); ++i) out.push_back(string(v.array[i], cat(path, "[", i, "]")));
        return out;
    }
    // A member that may be absent or null.
    static const json::Value* opt(const json::Value& obj, const char* key) {
        const json::Value* v = obj.find(key);
        return v && !v->is_null() ? v : nullptr;
    }
};

QuantStrategy parse_strategy(const Reader& r, const json::Value& v, const std::string& path) {
    std::string s = lower(r.string(v, path));
    static const std::pair<const char*, QuantStrategy> names[] = {
        {"tensor", QuantStrategy::Tensor}, {"channel", QuantStrategy::Channel},
        {"group", QuantStrategy::Group},   {"token", QuantStrategy::Token},
        {"block", QuantStrategy::Block},   {"tensor_group", QuantStrategy::TensorGroup}};
    for (const auto& n : names)
        if (s == n.first) return n.second;
    if (s == "attn_head")
        r.fail(path, v, "strategy \"attn_head\" quantizes attention heads, not linear layers (not supported)");
    r.fail(path, v,
           cat("expected one of tensor, channel, group, block, token, tensor_group, found ", r.found(v)));
}

// compressed-tensors QuantizationArgs, with its field and model validators.
QuantArgs parse_quant_args(const Reader& r, const json::Value& v, const std::string& path) {
    r.object(v, path);
    for (const auto& kv : v.object)
        if (!is_one_of(kv.first, kQuantArgsFields))
            r.fail(path + "." + kv.first, kv.second,
                   "unknown QuantizationArgs field (compressed-tensors forbids extra fields)");
    QuantArgs q;
    auto field = [&](const char* k) { return Reader::opt(v, k); };
    auto sub = [&](const char* k) { return path + "." + k; };

    if (const json::Value* x = field("num_bits")) {
        int64_t n = r.integer(*x, sub("num_bits"));
        if (n < 1 || n > 64) r.fail(sub("num_bits"), *x, cat("expected 1..64 bits, found ", n));
        q.num_bits = static_cast<int>(n);
    }
    if (const json::Value* x = field("type")) {
        std::string t = lower(r.string(*x, sub("type")));
        if (t == "int") q.type = QuantType::Int;
        else if (t == "float") q.type = QuantType::Float;
        else r.fail(sub("type"), *x, cat("expected \"int\" or \"float\", found ", r.found(*x)));
    }
    if (q.type == QuantType::Float && q.num_bits != 4 && q.num_bits != 8)
        r.fail(sub("num_bits"), v, cat("float quantization is 4-bit (E2M1) or 8-bit (E4M3), found ", q.num_bits));
    if (const json::Value* x = field("symmetric")) q.symmetric = r.boolean(*x, sub("symmetric"));

    std::optional<int64_t> group_size;
    if (const json::Value* x = field("group_size")) {
        group_size = r.integer(*x, sub("group_size"));
        if (*group_size < -1 || *group_size == 0)
            r.fail(sub("group_size"), *x,
                   cat("expected a positive group size (strategy group) or -1 (channel), found ", *group_size));
    }
    bool dynamic_local = false;
    if (const json::Value* x = field("dynamic")) {
        if (x->is_string() && lower(x->string) == "local") {
            q.dynamic = true;  // only local scales are dynamic; vLLM reads it as true
            dynamic_local = true;
        } else {
            q.dynamic = r.boolean(*x, sub("dynamic") + " (true, false or \"local\")");
        }
    }
    bool has_block_structure = false;
    if (const json::Value* x = field("block_structure")) {
        bool ok = x->is_string() || (x->is_array() && x->array.size() == 2 && x->array[0].is_integer &&
                                     x->array[1].is_integer);
        if (!ok) r.fail(sub("block_structure"), *x, "expected [rows, cols]");
        has_block_structure = true;
    }
    std::string actorder;
    if (const json::Value* x = field("actorder")) {
        if (x->is_bool()) actorder = x->boolean ? "group" : "";
        else actorder = lower(r.string(*x, sub("actorder")));
        if (actorder == "dynamic") actorder = "group";
        if (actorder == "static") actorder = "weight";
        if (!actorder.empty() && actorder != "group" && actorder != "weight")
            r.fail(sub("actorder"), *x, cat("expected group, weight, dynamic or static, found ", r.found(*x)));
    }
    for (const char* k : {"scale_dtype", "zp_dtype", "observer"})
        if (const json::Value* x = field(k)) r.string(*x, sub(k));
    if (const json::Value* x = field("observer_kwargs")) r.object(*x, sub("observer_kwargs"));

    // Strategy: as written, else inferred from group_size (model validator).
    const json::Value* strat = field("strategy");
    if (strat) q.strategy = parse_strategy(r, *strat, sub("strategy"));
    else if (!group_size) q.strategy = QuantStrategy::Tensor;
    else q.strategy = *group_size > 0 ? QuantStrategy::Group : QuantStrategy::Channel;
    const json::Value& at = strat ? *strat : v;
    const bool grouped = q.strategy == QuantStrategy::Group || q.strategy == QuantStrategy::TensorGroup;
    if (q.strategy == QuantStrategy::Token && !q.dynamic)
        r.fail(sub("strategy"), at, "static token quantization is not possible; token needs \"dynamic\": true");
    if (grouped && (!group_size || *group_size <= 0))
        r.fail(sub("group_size"), at, cat("strategy ", quant_strategy_name(q.strategy), " needs a positive group_size"));
    if (group_size && *group_size > 0 && !grouped)
        r.fail(sub("group_size"), at, cat("a positive group_size needs strategy group, found strategy ",
                                          quant_strategy_name(q.strategy)));
    if ((q.strategy == QuantStrategy::Block) != has_block_structure)
        r.fail(sub("block_structure"), at, "strategy block and block_structure go together");
    if (actorder == "group" && !grouped)
        r.fail(sub("actorder"), at, "group activation ordering needs strategy group or tensor_group");
    if (q.dynamic && q.strategy != QuantStrategy::Token && q.strategy != QuantStrategy::Tensor && !grouped)
        r.fail(sub("dynamic"), at, cat("dynamic quantization needs strategy token, tensor, group or tensor_group, found ",
                                       quant_strategy_name(q.strategy)));
    if (dynamic_local && q.strategy != QuantStrategy::TensorGroup)
        r.fail(sub("dynamic"), at, "\"local\" is only defined for strategy tensor_group");
    q.group_size = group_size && *group_size > 0 ? static_cast<int>(*group_size) : 0;
    return q;
}

void compile_regexes(const Reader& r, CtConfig& cfg, const std::vector<std::string>& targets,
                     const json::Value& where, const std::string& path) {
    for (size_t i = 0; i < targets.size(); ++i) {
        const std::string& t = targets[i];
        if (!starts_with(t, "re:") || cfg.regexes.count(t.substr(3))) continue;
        // Real targets are a few dozen characters; the bound keeps compiling cheap.
        if (t.size() > kMaxRegexChars)
            r.fail(cat(path, "[", i, "]"), where.is_array() && i < where.array.size() ? where.array[i] : where,
                   cat("regular expression of ", t.size() - 3, " characters (ctk accepts up to ", kMaxRegexChars, ")"));
        try {
            cfg.regexes.emplace(t.substr(3), NameRegex(t.substr(3)));
        } catch (const Error& e) {
            r.fail(cat(path, "[", i, "]"), where.is_array() && i < where.array.size() ? where.array[i] : where,
                   cat("invalid regular expression \"", t.substr(3), "\" (", e.what(),
                       "; ctk reads the common subset of Python's re and ECMAScript, docs/checkpoints.md 3)"));
        }
    }
}

std::string check_format(const Reader& r, const json::Value& v, const std::string& path) {
    std::string f = r.string(v, path);
    if (!is_one_of(f, kFormats))
        r.fail(path, v, cat("unknown compressed-tensors format \"", f, "\" (known: ", join(std::vector<std::string>(std::begin(kFormats), std::end(kFormats))),
                            ")"));
    return f;
}

}  // namespace

// ---- parsing ---------------------------------------------------------------------------

CtConfig parse_ct_config(const std::string& text, const std::string& source) {
    Reader r{source};
    json::Value root = json::parse(text, source);
    r.object(root, "(top level)");
    CtConfig cfg;
    cfg.source = source;
    // vLLM reads hf_config.quantization_config, or compression_config in older checkpoints.
    std::string qname = "quantization_config";
    const json::Value* qc = Reader::opt(root, "quantization_config");
    if (!qc) {
        qc = Reader::opt(root, "compression_config");
        qname = "compression_config";
    }
    if (!qc) return cfg;
    r.object(*qc, qname);
    cfg.present = true;
    auto sub = [&](const std::string& k) { return qname + "." + k; };

    if (const json::Value* m = Reader::opt(*qc, "quant_method")) {
        std::string method = r.string(*m, sub("quant_method"));
        if (method != "compressed-tensors")
            r.fail(sub("quant_method"), *m,
                   cat("\"", method, "\" checkpoints are not read by ctk (expected \"compressed-tensors\")"));
    }
    if (const json::Value* f = Reader::opt(*qc, "format")) cfg.format = check_format(r, *f, sub("format"));
    if (const json::Value* s = Reader::opt(*qc, "quantization_status"))
        cfg.quantization_status = r.string(*s, sub("quantization_status"));
    if (const json::Value* ig = Reader::opt(*qc, "ignore")) {
        cfg.ignore = r.strings(*ig, sub("ignore"));
        compile_regexes(r, cfg, cfg.ignore, *ig, sub("ignore"));
    }

    if (const json::Value* groups = Reader::opt(*qc, "config_groups")) {
        r.object(*groups, sub("config_groups"));
        for (const auto& kv : groups->object) {
            std::string gpath = sub("config_groups." + kv.first);
            const json::Value& g = r.object(kv.second, gpath);
            for (const auto& f : g.object)
                if (!is_one_of(f.first, kGroupFields))
                    r.fail(gpath + "." + f.first, f.second,
                           "unknown field (a config group has targets, weights, input_activations, "
                           "output_activations, format)");
            ConfigGroup cg;
            cg.name = kv.first;
            const json::Value* t = Reader::opt(g, "targets");
            if (!t) r.fail(gpath + ".targets", g, "missing (a config group needs a list of targets)");
            cg.targets = r.strings(*t, gpath + ".targets");
            if (cg.targets.empty()) r.fail(gpath + ".targets", *t, "empty list");
            // vLLM drops groups that only quantize attention (coupled with the KV cache).
            if (cg.targets.size() == 1 && ends_with(cg.targets[0], "Attention")) continue;
            compile_regexes(r, cfg, cg.targets, *t, gpath + ".targets");
            const json::Value* w = Reader::opt(g, "weights");
            if (!w)
                r.fail(gpath + ".weights", g,
                       "missing or null (activation-only quantization has no vLLM linear scheme)");
            cg.weights = parse_quant_args(r, *w, gpath + ".weights");
            if (const json::Value* f = Reader::opt(g, "format")) cg.format = check_format(r, *f, gpath + ".format");
            const std::string& fmt = cg.format.empty() ? cfg.format : cg.format;
            const json::Value* ia = Reader::opt(g, "input_activations");
            if (ia) {
                cg.input_activations = parse_quant_args(r, *ia, gpath + ".input_activations");
            } else if (is_one_of(fmt, kActivationFormats) && cg.weights.type != QuantType::Float) {
                // vLLM asserts float weights here (the only weight-only case of these formats is W8A16 fp8).
                r.fail(gpath + ".input_activations", g,
                       cat("missing, but format \"", fmt, "\" quantizes activations and the weights are int"));
            }
            if (const json::Value* oa = Reader::opt(g, "output_activations"))
                parse_quant_args(r, *oa, gpath + ".output_activations");
            size_t idx = cfg.groups.size();
            cfg.groups.push_back(cg);
            for (const auto& target : cg.targets) {
                auto it = std::find_if(cfg.target_map.begin(), cfg.target_map.end(),
                                       [&](const auto& p) { return p.first == target; });
                if (it != cfg.target_map.end()) it->second = idx;
                else cfg.target_map.emplace_back(target, idx);
            }
        }
    }

    const json::Value* sc = Reader::opt(*qc, "sparsity_config");
    if (sc && !(sc->is_object() && sc->object.empty())) {  // vLLM: a falsy sparsity_config means none
        std::string spath = sub("sparsity_config");
        r.object(*sc, spath);
        SparsityConfig s;
        const json::Value* f = Reader::opt(*sc, "format");
        if (!f) r.fail(spath + ".format", *sc, "missing (e.g. \"sparse-24-bitmask\" or \"dense\")");
        s.format = check_format(r, *f, spath + ".format");
        if (const json::Value* x = Reader::opt(*sc, "sparsity_structure"))
            s.structure = r.string(*x, spath + ".sparsity_structure");
        if (const json::Value* x = Reader::opt(*sc, "targets")) {
            s.targets = r.strings(*x, spath + ".targets");
            compile_regexes(r, cfg, s.targets, *x, spath + ".targets");
        }
        if (const json::Value* x = Reader::opt(*sc, "ignore")) {
            s.ignore = r.strings(*x, spath + ".ignore");
            compile_regexes(r, cfg, s.ignore, *x, spath + ".ignore");
        }
        if (const json::Value* x = Reader::opt(*sc, "global_sparsity")) {
            if (!x->is_number()) r.fail(spath + ".global_sparsity", *x, "expected a number");
            s.global_sparsity = x->number;
        }
        cfg.sparsity = s;
    }
    return cfg;
}

CtConfig load_ct_config(const std::string& path) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    CTK_CHECK(fp, path, ": cannot open");
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) text.append(buf, n);
    std::fclose(fp);
    return parse_ct_config(text, path);
}

// ---- matching --------------------------------------------------------------------------

const std::vector<std::pair<std::string, std::vector<std::string>>>& fused_modules() {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> m = {
        {"qkv_proj", {"q_proj", "k_proj", "v_proj"}},
        {"gate_up_proj", {"gate_proj", "up_proj"}},
    };
    return m;
}

namespace {

// vLLM's _is_equal_or_regex_match.
bool equal_or_regex(const CtConfig& cfg, const std::string& value, const std::string& target, bool check_contains) {
    if (starts_with(target, "re:")) {
        // Targets from the config were compiled (and checked) by the parser; others are
        // compiled here.
        auto it = cfg.regexes.find(target.substr(3));
        NameRegex local;
        if (it == cfg.regexes.end()) {
            try {
                local = NameRegex(target.substr(3));
            } catch (const Error& e) {
                throw Error(cat("target \"", target, "\": invalid regular expression (", e.what(), ")"));
            }
        }
        const NameRegex& re = it == cfg.regexes.end() ? local : it->second;
        return re.match(value);  // re.match
    }
    if (check_contains) return lower(value).find(lower(target)) != std::string::npos;
    return value == target;
}

std::string find_first(const CtConfig& cfg, const std::string& value, const std::vector<std::string>& targets,
                       bool check_contains) {
    for (const auto& t : targets)
        if (equal_or_regex(cfg, value, t, check_contains)) return t;
    return "";
}

// vLLM's _match_fused_layer: a fused layer matches when every shard name does; the
// first shard's target is returned.
std::string match_fused(const CtConfig& cfg, const std::string& layer_name, const std::vector<std::string>& targets) {
    for (const auto& fm : fused_modules()) {
        if (!ends_with(layer_name, fm.first)) continue;
        std::string first;
        for (const auto& shard : fm.second) {
            std::string t = find_first(cfg, replace_all(layer_name, fm.first, shard), targets, false);
            if (t.empty()) return "";
            if (first.empty()) first = t;
        }
        return first;
    }
    return "";
}

// Why supports_cutlass_24 says no ("" when it says yes).
std::string cutlass_24_refusal(const std::optional<QuantArgs>& wq, const std::optional<QuantArgs>& iq,
                               const SparsityConfig* sp) {
    if (!sp) return "no 2:4 sparsity";
    if (sp->structure != "2:4") return cat("sparsity_structure is \"", sp->structure, "\", not \"2:4\"");
    if (sp->format != "dense" && sp->format != "sparse-24-bitmask")
        return cat("sparsity format \"", sp->format, "\" is neither dense nor sparse-24-bitmask");
    if (!wq && !iq) return "";
    if (wq && !iq) return "weight-only quantization (2:4 W8A8 needs input_activations)";
    if (wq->strategy != QuantStrategy::Tensor && wq->strategy != QuantStrategy::Channel)
        return cat("weight strategy ", quant_strategy_name(wq->strategy), " (2:4 needs tensor or channel)");
    if (iq->strategy != QuantStrategy::Tensor && iq->strategy != QuantStrategy::Token)
        return cat("input strategy ", quant_strategy_name(iq->strategy), " (2:4 needs tensor or token)");
    if (wq->num_bits != 8 || iq->num_bits != 8)
        return cat("weights ", wq->num_bits, "-bit and inputs ", iq->num_bits, "-bit (2:4 needs 8 and 8)");
    return "";
}

bool is_mxfp4(const QuantArgs& q) {
    return q.strategy == QuantStrategy::Group && q.type == QuantType::Float && q.num_bits == 4 &&
           q.group_size == 32 && q.symmetric;
}
bool is_nvfp4(const std::optional<QuantArgs>& q) {
    return q && q->strategy == QuantStrategy::TensorGroup && q->type == QuantType::Float && q->num_bits == 4 &&
           q->group_size == 16 && q->symmetric;
}

// The dense scheme vLLM's _get_scheme_from_parts would pick (for the message only).
std::string vllm_dense_scheme(const QuantArgs& w, const std::optional<QuantArgs>& in, const std::string& format) {
    bool wt_tc = w.strategy == QuantStrategy::Tensor || w.strategy == QuantStrategy::Channel;
    if (is_nvfp4(w) && !in) return "CompressedTensorsW4A16Fp4 (NVFP4)";
    if (!in && !w.dynamic && (w.strategy == QuantStrategy::Channel || w.strategy == QuantStrategy::Group)) {
        if (format == "pack-quantized") return "CompressedTensorsWNA16";
        if (format == "marlin-24") return "CompressedTensorsW4A16Sparse24 (marlin-24)";
    }
    if (is_one_of(format, kActivationFormats)) {
        if (is_nvfp4(w) && is_nvfp4(in)) return "CompressedTensorsW4A4Fp4 (NVFP4)";
        bool fp8w = w.type == QuantType::Float && w.symmetric && !w.dynamic &&
                    (wt_tc || w.strategy == QuantStrategy::Block);
        if (fp8w && in && in->type == QuantType::Float &&
            (in->dynamic || (in->symmetric && in->strategy == QuantStrategy::Tensor)))
            return "CompressedTensorsW8A8Fp8 (dense fp8)";
        if (fp8w) return "CompressedTensorsW8A16Fp8";
        if (in && w.num_bits == 8 && in->num_bits == 8 && wt_tc && w.symmetric && !w.dynamic &&
            ((in->strategy == QuantStrategy::Tensor && !in->dynamic) ||
             (in->strategy == QuantStrategy::Token && in->dynamic)))
            return "CompressedTensorsW8A8Int8 (dense int8)";
    }
    return "";
}

}  // namespace

std::string match_target(const CtConfig& cfg, const std::string& layer_name, const std::string& module_class,
                         const std::vector<std::string>& targets) {
    std::string t = find_first(cfg, layer_name, targets, false);
    if (t.empty()) t = find_first(cfg, module_class, targets, true);
    if (t.empty()) t = match_fused(cfg, layer_name, targets);
    return t;
}

bool should_ignore(const CtConfig& cfg, const std::string& layer_name, const std::vector<std::string>& ignore) {
    size_t dot = layer_name.rfind('.');
    std::string proj = dot == std::string::npos ? layer_name : layer_name.substr(dot + 1);
    bool listed = std::find(ignore.begin(), ignore.end(), layer_name) != ignore.end();
    for (const auto& fm : fused_modules()) {
        if (proj != fm.first || listed) continue;
        std::vector<std::string> ignored, kept;
        for (const auto& shard : fm.second) {
            std::string shard_name = replace_all(layer_name, proj, shard);
            bool ig = std::any_of(ignore.begin(), ignore.end(),
                                  [&](const std::string& t) { return equal_or_regex(cfg, shard_name, t, false); });
            (ig ? ignored : kept).push_back(shard);
        }
        CTK_CHECK(ignored.empty() || kept.empty(), layer_name, ": the ignore list covers ", join(ignored),
                  " but not ", join(kept), "; the shards of a fused layer must share one scheme");
        return kept.empty();
    }
    return std::any_of(ignore.begin(), ignore.end(),
                       [&](const std::string& t) { return equal_or_regex(cfg, layer_name, t, false); });
}

const char* scheme_kind_name(SchemeKind k) {
    switch (k) {
        case SchemeKind::Unquantized: return "unquantized";
        case SchemeKind::Sparse24: return "sparse24";
        case SchemeKind::Mxfp4: return "mxfp4-w4a16";
        case SchemeKind::Unsupported: return "unsupported";
    }
    return "?";
}

std::string LayerScheme::describe() const {
    switch (kind) {
        case SchemeKind::Unquantized: return "unquantized";
        case SchemeKind::Unsupported: return "unsupported: " + reason;
        case SchemeKind::Mxfp4: return "mxfp4-w4a16 (" + ctk::describe(*weight_quant) + ")";
        case SchemeKind::Sparse24: {
            std::string s = cat("sparse24 ", sparsity_format_name(sparsity.format));
            if (!weight_quant) return s + " (unquantized)";
            return cat(s, " w8a8 ", quant_type_name(weight_quant->type), "8: weights ",
                       quant_strategy_name(weight_quant->strategy), ", inputs ",
                       input_quant->dynamic ? "dynamic per token" : "static per tensor");
        }
    }
    return "?";
}

LayerScheme select_scheme(const CtConfig& cfg, const std::string& layer_name, const std::string& module_class) {
    LayerScheme s;
    auto unsupported = [&](const std::string& why) {
        s.kind = SchemeKind::Unsupported;
        s.reason = cat(layer_name, ": ", why);
        return s;
    };

    // 1-2. Quantization arguments (none when ignored; no target at all is an error in vLLM).
    bool ignored = false;
    try {
        ignored = should_ignore(cfg, layer_name, cfg.ignore);
    } catch (const Error& e) {
        return unsupported(std::string(e.what()).substr(layer_name.size() + 2));
    }
    if (!ignored && !cfg.target_map.empty()) {
        std::vector<std::string> targets;
        for (const auto& kv : cfg.target_map) targets.push_back(kv.first);
        s.quant_target = match_target(cfg, layer_name, module_class, targets);
        if (s.quant_target.empty())
            return unsupported(cat("matches no config_groups target (", join(targets), ") and is not in ignore",
                                   " (vLLM: \"Unable to find matching target\")"));
        for (const auto& kv : cfg.target_map)
            if (kv.first == s.quant_target) {
                const ConfigGroup& g = cfg.groups[kv.second];
                s.weight_quant = g.weights;
                s.input_quant = g.input_activations;
                s.format = g.format.empty() ? cfg.format : g.format;
            }
    }

    // 3. Sparsity: targets minus the sparsity ignore list; no match means none.
    const SparsityConfig* sp = nullptr;
    if (cfg.sparsity) {
        std::vector<std::string> targets;
        for (const auto& t : cfg.sparsity->targets)
            if (std::find(cfg.sparsity->ignore.begin(), cfg.sparsity->ignore.end(), t) == cfg.sparsity->ignore.end())
                targets.push_back(t);
        if (!match_target(cfg, layer_name, module_class, targets).empty()) sp = &*cfg.sparsity;
    }

    // 4. CompressedTensors24, then unquantized, then the dense schemes.
    std::string refusal = cutlass_24_refusal(s.weight_quant, s.input_quant, sp);
    if (refusal.empty()) {
        s.kind = SchemeKind::Sparse24;
        s.sparsity.format = sp->format == "dense" ? SparsityFormat::Dense : SparsityFormat::Sparse24Bitmask;
        s.sparsity.structure = sp->structure;
        if (s.weight_quant) {
            // CompressedTensors24's constructor and create_weights reject these.
            if (s.weight_quant->type != s.input_quant->type)
                return unsupported(cat("2:4 W8A8 with ", quant_type_name(s.weight_quant->type), " weights and ",
                                       quant_type_name(s.input_quant->type),
                                       " inputs (vLLM: \"Quantization type not supported by Cutlass\")"));
            if (!s.input_quant->dynamic && s.input_quant->strategy != QuantStrategy::Tensor)
                return unsupported(cat("static input quantization must be per tensor, found ",
                                       quant_strategy_name(s.input_quant->strategy)));
        }
        s.reason = s.describe();
        return s;
    }
    if (!s.weight_quant) {
        s.kind = SchemeKind::Unquantized;
        s.reason = sp ? cat("unquantized (2:4 sparsity not used: ", refusal, ")") : "unquantized";
        return s;
    }
    if (is_mxfp4(*s.weight_quant)) {
        s.kind = SchemeKind::Mxfp4;
        s.reason = s.describe();
        if (s.input_quant) s.reason += " (input_activations ignored, as vLLM does)";
        return s;
    }
    std::string dense = vllm_dense_scheme(*s.weight_quant, s.input_quant, s.format);
    std::string args = cat("weights ", ctk::describe(*s.weight_quant),
                           s.input_quant ? ", inputs " + ctk::describe(*s.input_quant) : std::string(", no input quantization"),
                           ", format \"", s.format, "\"");
    std::string why = sp ? cat("not 2:4-eligible (", refusal, ")") : std::string("no 2:4 sparsity");
    if (!dense.empty())
        return unsupported(cat(args, "; ", why, ": vLLM would use ", dense, ", which ctk does not implement",
                               " (ctk runs CompressedTensors24 and W4A16 MXFP4)"));
    return unsupported(cat(args, "; ", why, ": no compressed-tensors scheme in vLLM runs this",
                           " (vLLM: \"No compressed-tensors compatible scheme was found\")"));
}

}  // namespace ctk::io
