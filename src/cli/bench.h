// Benchmark output shared by every `ctk bench` family: one machine-readable JSON line
// per case as soon as it is measured, then a table with the peer and the ratio.
//
// Conventions (docs/benchmarks.md): ms is the median of CUDA-event timings after
// warm-up, L2 flushed before each timed run unless a family says otherwise; tflops
// counts 2*M*N*K (dense-equivalent for 2:4); gbps counts the fewest bytes the op must
// move (each input read once, each output written once).
#pragma once
#include <string>
#include <vector>

#include "cli/commands.h"

namespace ctk::cli {

struct BenchCase {
    std::string op;      // "sparse24_gemm_v2", "quant_fp8_dynamic_per_token", ...
    std::string shape;   // "MxNxK" (or "TxH" for quantization)
    std::string dtype;   // "bf16", "f8e4m3", ...
    double ms = 0;
    double flops = 0;    // total operations of one call (0 if not meaningful)
    double bytes = 0;    // bytes one call must move
    std::string peer;    // "cublas_bf16", "copy", ... (empty: none)
    double peer_ms = 0;  // peer's median ms in the same run
    std::string note;    // free text for the table
};

std::string mnk(long long m, long long n, long long k);  // "16x4096x4096"
// Steady-state benches (cuda::time_steady_ms) rotate through copies of a weight: how many
// copies of `bytes` each stream at least 240 MiB (4x the L2 of an H100 or H200) before
// one is read again; at least 3.
int steady_copies(long long bytes);
// A steady case timed again with overlapped launches (cuda::time_steady_overlapped_ms, on
// the same calls): the plain row with " overlapped" after its op, the overlapped time and
// the plain one in the note; the peer column repeats the plain row's (the peer is launched
// as it always is).
BenchCase overlapped_row(const BenchCase& plain, double overlapped_ms);
void bench_emit(const BenchCase& c);                      // the JSON line
void bench_table(const std::string& title, const std::vector<BenchCase>& cases);

// Families (each in cli/bench_<family>.cpp); they append their cases.
void bench_quant(const Args& args, std::vector<BenchCase>& out);
void bench_sparse24(const Args& args, std::vector<BenchCase>& out);
void bench_sparse24_v3(const Args& args, std::vector<BenchCase>& out);  // Hopper rung (bench_sparse24_v3.cpp)
void bench_mxfp4(const Args& args, std::vector<BenchCase>& out);

}  // namespace ctk::cli
