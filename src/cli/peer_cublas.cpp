#include "cli/peer_cublas.h"

#if CTK_HAVE_CUDA
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"
#include "ops.h"

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

#define LT_CHECK(expr)                                                                               \
    do {                                                                                             \
        cublasStatus_t st_ = (expr);                                                                 \
        CTK_CHECK(st_ == CUBLAS_STATUS_SUCCESS, "cuBLASLt: ", #expr, " failed with status ", int(st_)); \
    } while (0)

struct CublasLtGemm::Impl {
    cublasLtHandle_t lt = nullptr;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    void* workspace = nullptr;
    size_t workspace_bytes = size_t(32) << 20;
    DType in, out;
    int64_t M, N, K;
};

CublasLtGemm::CublasLtGemm(DType in, DType out, int64_t M, int64_t N, int64_t K) : impl_(new Impl) {
    Impl& p = *impl_;
    p.in = in, p.out = out, p.M = M, p.N = N, p.K = K;
    const bool i8 = in == DType::I8;
    CTK_CHECK((i8 && out == DType::I32) || (in == DType::F8E4M3 && (out == DType::BF16 || out == DType::F16)),
              "CublasLtGemm: supported: i8 -> i32, f8e4m3 -> bf16/f16; found ", dtype_name(in), " -> ", dtype_name(out));
    LT_CHECK(cublasLtCreate(&p.lt));
    const cudaDataType_t ab = i8 ? CUDA_R_8I : CUDA_R_8F_E4M3;
    const cudaDataType_t cd = i8 ? CUDA_R_32I : (out == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F);
    LT_CHECK(cublasLtMatmulDescCreate(&p.op, i8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F, i8 ? CUDA_R_32I : CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    LT_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    LT_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    // A = w (K x N column-major, used transposed), B = x (K x M), C = D = out^T (N x M).
    LT_CHECK(cublasLtMatrixLayoutCreate(&p.a, ab, K, N, K));
    LT_CHECK(cublasLtMatrixLayoutCreate(&p.b, ab, K, M, K));
    LT_CHECK(cublasLtMatrixLayoutCreate(&p.c, cd, N, M, N));
    CTK_CHECK(cudaMalloc(&p.workspace, p.workspace_bytes) == cudaSuccess, "CublasLtGemm: workspace allocation failed");
    if (!i8) {
        // The scale pointers must be set before the heuristic (they select fp8 kernels).
        static float* one = nullptr;
        if (!one) {
            CTK_CHECK(cudaMalloc(&one, sizeof(float)) == cudaSuccess, "CublasLtGemm: scale allocation failed");
            float h = 1.0f;
            CTK_CHECK(cudaMemcpy(one, &h, sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess, "CublasLtGemm: copy");
        }
        LT_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &one, sizeof(one)));
        LT_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &one, sizeof(one)));
    }
    cublasLtMatmulPreference_t pref = nullptr;
    LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &p.workspace_bytes,
                                                  sizeof(p.workspace_bytes)));
    cublasLtMatmulHeuristicResult_t res{};
    int found = 0;
    LT_CHECK(cublasLtMatmulAlgoGetHeuristic(p.lt, p.op, p.a, p.b, p.c, p.c, pref, 1, &res, &found));
    cublasLtMatmulPreferenceDestroy(pref);
    CTK_CHECK(found > 0, "CublasLtGemm: no cuBLASLt algorithm for ", dtype_name(in), " ", M, "x", N, "x", K);
    p.algo = res.algo;
}

CublasLtGemm::~CublasLtGemm() {
    Impl& p = *impl_;
    if (p.a) cublasLtMatrixLayoutDestroy(p.a);
    if (p.b) cublasLtMatrixLayoutDestroy(p.b);
    if (p.c) cublasLtMatrixLayoutDestroy(p.c);
    if (p.op) cublasLtMatmulDescDestroy(p.op);
    if (p.workspace) cudaFree(p.workspace);
    if (p.lt) cublasLtDestroy(p.lt);
}

void CublasLtGemm::run(const Tensor& x, const Tensor& w, Tensor& out, const Tensor& x_scale, const Tensor& w_scale) {
    Impl& p = *impl_;
    CTK_CHECK(x.dtype == p.in && w.dtype == p.in && out.dtype == p.out && x.shape == (Shape{p.M, p.K}) &&
                  w.shape == (Shape{p.N, p.K}) && out.shape == (Shape{p.M, p.N}),
              "CublasLtGemm::run: operands do not match the plan (", dtype_name(p.in), " ", p.M, "x", p.N, "x", p.K,
              "): ", x.describe(), ", ", w.describe(), ", ", out.describe());
    if (p.in == DType::F8E4M3 && x_scale.defined() && w_scale.defined()) {
        const void* sa = w_scale.raw();  // A is the weight
        const void* sb = x_scale.raw();
        LT_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof(sa)));
        LT_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof(sb)));
    }
    int32_t ialpha = 1, ibeta = 0;
    float falpha = 1.0f, fbeta = 0.0f;
    const void* alpha = p.in == DType::I8 ? static_cast<const void*>(&ialpha) : &falpha;
    const void* beta = p.in == DType::I8 ? static_cast<const void*>(&ibeta) : &fbeta;
    LT_CHECK(cublasLtMatmul(p.lt, p.op, alpha, w.raw(), p.a, x.raw(), p.b, beta, out.raw(), p.c, out.raw(), p.c, &p.algo,
                            p.workspace, p.workspace_bytes, 0));
}

void device_copy(Tensor& dst, const Tensor& src) {
    CTK_CHECK(dst.nbytes() == src.nbytes(), "device_copy: sizes differ: ", dst.describe(), " vs ", src.describe());
    CTK_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice) == cudaSuccess,
              "device_copy: cudaMemcpyAsync failed");
}

Tensor device_clone(const Tensor& t) {
    Tensor c = cuda::device_empty(t.dtype, t.shape);
    device_copy(c, t);
    return c;
}

}  // namespace ctk::cli
#else
#include "core/error.h"
namespace ctk::cli {
struct CublasLtGemm::Impl {};
CublasLtGemm::CublasLtGemm(DType, DType, int64_t, int64_t, int64_t) {
    throw Error("CublasLtGemm: this build has no CUDA (nvcc was not found)");
}
CublasLtGemm::~CublasLtGemm() = default;
void CublasLtGemm::run(const Tensor&, const Tensor&, Tensor&, const Tensor&, const Tensor&) {}
void device_copy(Tensor&, const Tensor&) { throw Error("device_copy: this build has no CUDA"); }
Tensor device_clone(const Tensor&) { throw Error("device_clone: this build has no CUDA"); }
}  // namespace ctk::cli
#endif
