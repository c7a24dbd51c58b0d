// ctk bench quant (placeholder until the quant kernels land).
#include "cli/bench.h"
#include "core/error.h"

namespace ctk::cli {
void bench_quant(const Args&, std::vector<BenchCase>&) { throw Error("bench quant: not implemented yet"); }
}  // namespace ctk::cli
