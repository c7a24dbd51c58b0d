// cuBLAS / cuBLASLt dense GEMM, the peer every GEMM benchmark is timed against.
// Benchmarks only: the library itself never calls cuBLAS.
//   out[M, N] = x[M, K] @ w[N, K]^T, all device tensors, row-major.
#pragma once
#include "core/tensor.h"

namespace ctk::cli {

// f16 x f16 -> f16 and bf16 x bf16 -> bf16 (fp32 accumulation).
void cublas_gemm(const Tensor& x, const Tensor& w, Tensor& out);

}  // namespace ctk::cli
