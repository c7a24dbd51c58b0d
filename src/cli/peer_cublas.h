// cuBLAS / cuBLASLt dense GEMM, the peer every GEMM benchmark is timed against.
// Benchmarks only: the library itself never calls cuBLAS.
//   out[M, N] = x[M, K] @ w[N, K]^T, all device tensors, row-major.
// In cuBLAS's column-major terms this is out^T [N, M] = w (K x N, transposed) * x^T
// (K x M): the "TN" layout, which cuBLASLt requires for int8 and fp8.
#pragma once
#include <memory>

#include "core/tensor.h"

namespace ctk::cli {

// f16 x f16 -> f16 and bf16 x bf16 -> bf16 (fp32 accumulation).
void cublas_gemm(const Tensor& x, const Tensor& w, Tensor& out);

// A cuBLASLt matmul planned once (descriptors, layouts and the heuristic's first
// algorithm chosen outside the timed region), so run() is one cublasLtMatmul call.
//   i8:      x, w i8; out i32 (int32 accumulation and output, alpha = 1).
//   f8e4m3:  x, w e4m3; out bf16 or f16; fp32 accumulation; per-tensor fp32 scales
//            (device pointers, the A/B scale attributes) so out = sx * sw * (x w^T).
class CublasLtGemm {
  public:
    CublasLtGemm(DType in, DType out, int64_t M, int64_t N, int64_t K);
    ~CublasLtGemm();
    // x: [M, K], w: [N, K], out: [M, N]; for fp8, x_scale / w_scale: device f32 [1].
    void run(const Tensor& x, const Tensor& w, Tensor& out, const Tensor& x_scale = Tensor(),
             const Tensor& w_scale = Tensor());

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ctk::cli

namespace ctk::cli {
// The memory-bound peer: one device-to-device copy of src into dst (same byte count).
void device_copy(Tensor& dst, const Tensor& src);
// A new device tensor holding a copy of the device tensor t.
Tensor device_clone(const Tensor& t);
}  // namespace ctk::cli
