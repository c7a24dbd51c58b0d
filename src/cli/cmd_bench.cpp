// ctk bench [quant|sparse24|mxfp4|all] [family options]: kernels against library peers.
#include <cstdio>

#include "cli/bench.h"
#include "core/error.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk::cli {

int cmd_bench(const Args& args) {
    if (args.empty() || wants_help(args)) {
        std::printf(
            "usage: ctk bench <quant|sparse24|sparse24v3|mxfp4|all> [options]\n"
            "Times each kernel (median of CUDA events, L2 flushed) beside its library peer in\n"
            "the same run; prints one JSON line per case, then a table with the ratio.\n");
        return args.empty() ? 2 : 0;
    }
#if !CTK_HAVE_CUDA
    throw Error("ctk bench needs CUDA: this build has no GPU kernels (nvcc was not found)");
#else
    CTK_CHECK(cuda::device_count() > 0, "ctk bench needs a CUDA device; none was found");
    std::printf("device: %s\n", cuda::device_description().c_str());
    const std::string& family = args[0];
    Args rest(args.begin() + 1, args.end());
    std::vector<BenchCase> cases;
    bool all = family == "all";
    CTK_CHECK(all || family == "quant" || family == "sparse24" || family == "sparse24v3" || family == "mxfp4",
              "unknown benchmark family '", family, "' (expected quant, sparse24, sparse24v3, mxfp4 or all)");
    if (all || family == "quant") {
        std::vector<BenchCase> c;
        bench_quant(rest, c);
        bench_table("activation quantization", c);
        cases.insert(cases.end(), c.begin(), c.end());
    }
    if (all || family == "sparse24") {
        std::vector<BenchCase> c;
        bench_sparse24(rest, c);
        bench_table("2:4 sparse", c);
    }
    if (family == "sparse24v3") {  // the Hopper rung (needs sm_90), with the cuSPARSELt peer
        std::vector<BenchCase> c;
        bench_sparse24_v3(rest, c);
        bench_table("2:4 sparse, Hopper v3 (wgmma.sp)", c);
    }
    if (all || family == "mxfp4") {
        std::vector<BenchCase> c;
        bench_mxfp4(rest, c);
        bench_table("MXFP4 W4A16", c);
    }
    return 0;
#endif
}

}  // namespace ctk::cli
