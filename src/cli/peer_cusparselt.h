// cuSPARSELt 2:4 GEMM, the library peer of the sparse kernels (benchmarks only).
//
// The library is loaded at run time with dlopen, so neither the build nor the program
// depends on it: when it is missing the benchmark prints why and skips the peer. Where
// it looks: $CUSPARSELT (a directory holding libcusparseLt.so.0, or its lib/), the
// loader's path, then the pip wheel (nvidia-cusparselt-cu13) in the usual Python
// site-packages. The C entry points it needs are declared here by hand (cuSPARSELt
// 0.7/0.8 ABI), so no cuSPARSELt header is needed either.
//
//   out[M, N] = x[M, K] * W[N, K]^T, W pruned 2:4 and compressed by the library.
// Layout: column-major "TN" (W as the transposed sparse operand, both operands
// K-major), the form cuSPARSELt 0.8 accepts for f16, bf16, e4m3 and i8 on sm_90.
#pragma once
#include <memory>
#include <string>

#include "core/tensor.h"

namespace ctk::cli {

struct CusparseltGemm;  // handle, plan, compressed weight, workspace
struct CusparseltGemmDeleter {
    void operator()(CusparseltGemm* g) const;
};
using CusparseltGemmPtr = std::unique_ptr<CusparseltGemm, CusparseltGemmDeleter>;

// Loads the library once; false (with the reason in *why) when it cannot be used.
bool cusparselt_load(std::string* why);

// Prunes and compresses w_dense [N, K] (device, x's dtype: f16, bf16, f8e4m3, i8), plans
// out [M, N] (f16 for f16, bf16 otherwise) = x [M, K] * W^T, and picks the fastest
// algorithm (cusparseLtMatmulSearch). Returns nullptr with *why set on any failure.
CusparseltGemmPtr cusparselt_prepare(const Tensor& x, const Tensor& w_dense, Tensor& out, std::string* why);

// One matmul with the cached plan (what the benchmark times).
void cusparselt_run(CusparseltGemm& g);

}  // namespace ctk::cli
