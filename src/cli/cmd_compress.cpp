// ctk compress IN OUT_DIR --scheme S: dense Linear weights -> a compressed-tensors
// model folder (io/compress.h does the work; this file reads the options).
#include <cstdio>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "io/compress.h"

namespace ctk::cli {

static const char* kCompressHelp =
    "usage: ctk compress IN OUT_DIR --scheme S [options]\n"
    "\n"
    "Writes a compressed-tensors model folder (config.json + safetensors) from the dense\n"
    "f32/f16/bf16 Linear weights of IN (a .safetensors file or a model folder; its\n"
    "config.json is carried over). Names, dtypes, shapes and config fields follow\n"
    "llm-compressor / compressed-tensors; lm_head and embeddings stay dense.\n"
    "\n"
    "schemes:\n"
    "  sparse24             2:4 pruning (largest 2 of every 4 along K), weights keep their dtype\n"
    "  sparse24-w8a8-int8   2:4 pruning, then int8 weights (RTN) and int8 activations\n"
    "  sparse24-w8a8-fp8    2:4 pruning, then fp8 e4m3 weights (RTN) and fp8 activations\n"
    "  mxfp4-a16            MXFP4 weights (E2M1 + E8M0 per 32, \"even\" scales), 16-bit activations\n"
    "\n"
    "options:\n"
    "  --format bitmask|dense    2:4 storage: sparse-24-bitmask (default) or the pruned dense weight\n"
    "  --weights channel|tensor  W8A8 weight scales per output channel (default) or per tensor\n"
    "  --inputs dynamic|static   W8A8 activation scales: dynamic per token (default) or static per tensor\n"
    "  --input-scale X           static inputs: the calibration scale (amax/127 int8, amax/448 fp8)\n"
    "  --ignore NAME             keep module NAME dense (exact name or re:regex; repeatable)\n"
    "  --shard-mb N              largest safetensors shard in MB (default 5000)\n"
    "  --quiet                   no progress lines\n";

int cmd_compress(const Args& args) {
    if (wants_help(args)) {
        std::fputs(kCompressHelp, stdout);
        return 0;
    }
    ParsedArgs p = parse_args(args, "compress",
                              {"--scheme", "--format", "--weights", "--inputs", "--input-scale", "--ignore", "--shard-mb"},
                              {"--quiet"});
    if (p.positional.size() != 2 || !p.has("--scheme")) {
        std::fprintf(stderr, "ctk compress: expected IN, OUT_DIR and --scheme\n\n%s", kCompressHelp);
        return 2;
    }
    io::CompressOptions opt;
    std::string scheme = p.get("--scheme");
    CTK_CHECK(io::compress_scheme_from_name(scheme, &opt.scheme), "--scheme: unknown scheme \"", scheme,
              "\" (expected sparse24, sparse24-w8a8-int8, sparse24-w8a8-fp8 or mxfp4-a16)");
    const bool sparse = opt.scheme != io::CompressScheme::Mxfp4A16;
    const bool w8a8 = sparse && opt.scheme != io::CompressScheme::Sparse24;
    CTK_CHECK(sparse || !p.has("--format"), "--format: only the 2:4 schemes have a storage format");
    for (const char* o : {"--weights", "--inputs", "--input-scale"})
        CTK_CHECK(w8a8 || !p.has(o), o, ": only for the W8A8 schemes (sparse24-w8a8-int8, sparse24-w8a8-fp8)");
    opt.format = p.get_choice("--format", "bitmask", {"bitmask", "dense"}) == "dense" ? SparsityFormat::Dense
                                                                                      : SparsityFormat::Sparse24Bitmask;
    opt.per_channel = p.get_choice("--weights", "channel", {"channel", "tensor"}) == "channel";
    opt.dynamic_inputs = p.get_choice("--inputs", "dynamic", {"dynamic", "static"}) == "dynamic";
    CTK_CHECK(opt.dynamic_inputs || p.has("--input-scale"),
              "--inputs static needs --input-scale (the calibrated activation scale)");
    CTK_CHECK(!opt.dynamic_inputs || !p.has("--input-scale"), "--input-scale: only with --inputs static");
    opt.input_scale = static_cast<float>(p.get_double("--input-scale", 0.0));
    if (p.values.count("--ignore")) opt.ignore = p.values.at("--ignore");
    opt.max_shard_bytes = static_cast<uint64_t>(p.get_int("--shard-mb", 5000, 1, 1000000)) * 1000000ull;
    if (!p.flags.count("--quiet"))
        opt.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };

    io::CompressSummary s = io::compress_model(p.positional[0], p.positional[1], opt);
    std::printf("%s: %d linear weights compressed (%s), %d tensors copied; %llu -> %llu bytes (%.3fx)\n",
                p.positional[1].c_str(), s.compressed, scheme.c_str(), s.copied,
                static_cast<unsigned long long>(s.bytes_in), static_cast<unsigned long long>(s.bytes_out),
                s.bytes_in ? static_cast<double>(s.bytes_out) / s.bytes_in : 0.0);
    for (const auto& f : s.files) std::printf("  %s\n", f.c_str());
    return 0;
}

}  // namespace ctk::cli
