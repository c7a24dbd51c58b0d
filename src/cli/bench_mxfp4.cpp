// ctk bench mxfp4 (placeholder until the mxfp4 kernels land).
#include "cli/bench.h"
#include "core/error.h"

namespace ctk::cli {
void bench_mxfp4(const Args&, std::vector<BenchCase>&) { throw Error("bench mxfp4: not implemented yet"); }
}  // namespace ctk::cli
