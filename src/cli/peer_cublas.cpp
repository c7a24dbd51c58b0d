#include "cli/peer_cublas.h"

#if CTK_HAVE_CUDA
#include <cublas_v2.h>

#include "core/error.h"

namespace ctk::cli {

static cublasHandle_t handle() {
    static cublasHandle_t h = nullptr;
    if (!h) CTK_CHECK(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS, "cublasCreate failed");
    return h;
}

void cublas_gemm(const Tensor& x, const Tensor& w, Tensor& out) {
    CTK_CHECK(x.dtype == w.dtype && x.dtype == out.dtype && (x.dtype == DType::F16 || x.dtype == DType::BF16),
              "cublas_gemm: f16 or bf16 operands and output of one dtype expected, found ", x.describe(), ", ",
              w.describe(), ", ", out.describe());
    int M = static_cast<int>(x.size(0)), K = static_cast<int>(x.size(1)), N = static_cast<int>(w.size(0));
    cudaDataType_t t = x.dtype == DType::F16 ? CUDA_R_16F : CUDA_R_16BF;
    float alpha = 1.0f, beta = 0.0f;
    // Column-major view: out^T [N, M] = w [N, K] (as K x N, transposed) * x^T (K x M).
    cublasStatus_t st = cublasGemmEx(handle(), CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, w.raw(), t, K, x.raw(),
                                     t, K, &beta, out.raw(), t, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    CTK_CHECK(st == CUBLAS_STATUS_SUCCESS, "cublasGemmEx failed with status ", static_cast<int>(st));
}

}  // namespace ctk::cli
#endif
