// ctk bench sparse24 (placeholder until the sparse24 kernels land).
#include "cli/bench.h"
#include "core/error.h"

namespace ctk::cli {
void bench_sparse24(const Args&, std::vector<BenchCase>&) { throw Error("bench sparse24: not implemented yet"); }
}  // namespace ctk::cli
