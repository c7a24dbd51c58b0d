// ctk info DIR: the linear layers of a compressed-tensors model folder, as vLLM would
// build them (io/checkpoint.h): scheme, shards, K, dtypes, bytes on disk, ratio to bf16.
#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "io/checkpoint.h"

namespace ctk::cli {

static const char* kInfoHelp =
    "usage: ctk info DIR\n"
    "\n"
    "Lists every linear layer of a compressed-tensors model folder (config.json +\n"
    "*.safetensors) the way vLLM builds it: q/k/v and gate/up fused with their logical\n"
    "widths, the scheme vLLM would pick (sparse24, mxfp4-w4a16, unquantized or\n"
    "unsupported), K, the dtypes of the stored tensors, bytes on disk and the ratio to\n"
    "the same layer in bf16. Exits 1 (after the table) when a layer is unsupported or\n"
    "its tensors do not fit its scheme, naming the layer and the reason.\n";

namespace {

std::string widths_str(const std::vector<int64_t>& w) {
    std::string s;
    for (size_t i = 0; i < w.size(); ++i) s += (i ? "+" : "") + std::to_string(w[i]);
    return s;
}

// "compressed i8, bitmask u8, shape i64" (one entry per parameter name, first shard's dtype).
std::string dtypes_str(const io::Checkpoint& ck, const io::LinearLayer& l) {
    std::map<std::string, std::string> by_param;
    for (const auto& t : l.tensors) {
        std::string param = t.substr(t.rfind('.') + 1);
        if (!by_param.count(param)) by_param[param] = dtype_name(ck.tensors.info(t).dtype);
    }
    std::string s;
    for (const auto& kv : by_param) s += (s.empty() ? "" : ", ") + kv.first + " " + kv.second;
    return s;
}

// "sparse24 bitmask int8 w:channel x:token", "mxfp4-w4a16", "unquantized", "UNSUPPORTED".
std::string short_scheme(const io::LayerScheme& s) {
    switch (s.kind) {
        case io::SchemeKind::Unquantized: return "unquantized";
        case io::SchemeKind::Unsupported: return "UNSUPPORTED";
        case io::SchemeKind::Mxfp4: return "mxfp4-w4a16";
        case io::SchemeKind::Sparse24: break;
    }
    std::string r = s.sparsity.format == SparsityFormat::Dense ? "sparse24 dense" : "sparse24 bitmask";
    if (!s.weight_quant) return r;
    return r + (s.weight_quant->type == QuantType::Int ? " int8" : " fp8") + " w:" +
           quant_strategy_name(s.weight_quant->strategy) + " x:" + (s.input_quant->dynamic ? "token" : "static");
}

}  // namespace

int cmd_info(const Args& args) {
    if (wants_help(args)) {
        std::fputs(kInfoHelp, stdout);
        return 0;
    }
    ParsedArgs p = parse_args(args, "info", {}, {});
    if (p.positional.size() != 1) {
        std::fprintf(stderr, "ctk info: expected one model folder\n\n%s", kInfoHelp);
        return 2;
    }
    io::Checkpoint ck = io::open_checkpoint(p.positional[0]);
    std::printf("%s\n", ck.dir.c_str());
    for (const auto& f : ck.tensors.files())
        std::printf("  %s: %zu tensors, %llu bytes\n", f.path().c_str(), f.tensors().size(),
                    static_cast<unsigned long long>(f.file_size()));
    const io::CtConfig& c = ck.config;
    if (!c.present) {
        std::printf("  no quantization_config: a dense model\n");
    } else {
        std::printf("  quantization_config: format %s, %zu config group(s), ignore [%zu]",
                    c.format.empty() ? "(none)" : c.format.c_str(), c.groups.size(), c.ignore.size());
        if (c.sparsity)
            std::printf(", sparsity %s %s", c.sparsity->format.c_str(), c.sparsity->structure.c_str());
        std::printf("\n");
    }
    std::printf("  activations: %s\n\n", dtype_name(ck.params_dtype));

    struct Row {
        std::string cells[7];
    };
    std::vector<Row> rows;
    rows.push_back({{"layer", "scheme", "N (shards)", "K", "tensors", "bytes", "vs bf16"}});
    uint64_t total = 0, total_bf16 = 0;
    int bad = 0;
    for (const auto& l : ck.layers) {
        std::string scheme = short_scheme(l.scheme);
        if (!l.problem.empty()) scheme = "ERROR (" + scheme + ")";
        char ratio[32];
        std::snprintf(ratio, sizeof ratio, "%.3f", l.bf16_bytes() ? static_cast<double>(l.bytes) / l.bf16_bytes() : 0.0);
        rows.push_back({{l.name, scheme,
                         std::to_string(l.out_features()) + (l.shards.size() > 1 ? " (" + widths_str(l.logical_widths) + ")" : ""),
                         std::to_string(l.in_features), dtypes_str(ck, l), std::to_string(l.bytes), ratio}});
        total += l.bytes;
        total_bf16 += l.bf16_bytes();
    }
    size_t w[7] = {0};
    for (const auto& r : rows)
        for (int i = 0; i < 7; ++i) w[i] = std::max(w[i], r.cells[i].size());
    for (const auto& r : rows) {
        for (int i = 0; i < 7; ++i)
            std::printf(i >= 5 ? "%*s  " : "%-*s  ", static_cast<int>(w[i]), r.cells[i].c_str());
        std::printf("\n");
    }
    std::printf("\n%zu linear layers, %llu bytes (%.3f of bf16)\n", ck.layers.size(),
                static_cast<unsigned long long>(total), total_bf16 ? static_cast<double>(total) / total_bf16 : 0.0);

    for (const auto& l : ck.layers) {
        if (l.scheme.kind == io::SchemeKind::Unsupported) {
            std::fprintf(stderr, "ctk info: unsupported: %s\n", l.scheme.reason.c_str());
            ++bad;
        }
        if (!l.problem.empty()) {
            std::fprintf(stderr, "ctk info: %s: layer %s: %s\n", ck.dir.c_str(), l.name.c_str(), l.problem.c_str());
            ++bad;
        }
    }
    return bad ? 1 : 0;
}

}  // namespace ctk::cli
