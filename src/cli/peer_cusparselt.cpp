// cuSPARSELt peer through dlopen (see peer_cusparselt.h).
#include "cli/peer_cusparselt.h"

#if CTK_HAVE_CUDA
#include <cuda_runtime.h>
#include <cusparse.h>  // cusparseStatus_t, cusparseOrder_t, cusparseOperation_t (types only)
#include <dlfcn.h>
#include <glob.h>
#include <library_types.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace ctk::cli {
namespace {

// cuSPARSELt's opaque objects are fixed-size structs passed by pointer (1 KiB or less
// in 0.8); an oversized aligned buffer is always large enough.
struct alignas(64) LtOpaque {
    uint8_t data[16384];
};
using LtHandle = LtOpaque;
using LtMatDesc = LtOpaque;
using LtMatmulDesc = LtOpaque;
using LtAlgSel = LtOpaque;
using LtPlan = LtOpaque;

// Enumerations of cusparseLt.h (0.6+ numbering).
constexpr int kLtSparsity50 = 0;     // CUSPARSELT_SPARSITY_50_PERCENT
constexpr int kLtCompute32I = 0;     // CUSPARSE_COMPUTE_32I
constexpr int kLtCompute32F = 2;     // CUSPARSE_COMPUTE_32F
constexpr int kLtAlgDefault = 0;     // CUSPARSELT_MATMUL_ALG_DEFAULT
constexpr int kLtPruneStrip = 1;     // CUSPARSELT_PRUNE_SPMMA_STRIP

struct LtApi {
    cusparseStatus_t (*init)(LtHandle*);
    cusparseStatus_t (*destroy)(const LtHandle*);
    cusparseStatus_t (*structured_init)(const LtHandle*, LtMatDesc*, int64_t, int64_t, int64_t, uint32_t,
                                        cudaDataType, cusparseOrder_t, int);
    cusparseStatus_t (*dense_init)(const LtHandle*, LtMatDesc*, int64_t, int64_t, int64_t, uint32_t, cudaDataType,
                                   cusparseOrder_t);
    cusparseStatus_t (*mat_destroy)(const LtMatDesc*);
    cusparseStatus_t (*matmul_desc_init)(const LtHandle*, LtMatmulDesc*, cusparseOperation_t, cusparseOperation_t,
                                         const LtMatDesc*, const LtMatDesc*, const LtMatDesc*, const LtMatDesc*, int);
    cusparseStatus_t (*alg_init)(const LtHandle*, LtAlgSel*, const LtMatmulDesc*, int);
    cusparseStatus_t (*plan_init)(const LtHandle*, LtPlan*, const LtMatmulDesc*, const LtAlgSel*);
    cusparseStatus_t (*plan_destroy)(const LtPlan*);
    cusparseStatus_t (*workspace)(const LtHandle*, const LtPlan*, size_t*);
    cusparseStatus_t (*prune)(const LtHandle*, const LtMatmulDesc*, const void*, void*, int, cudaStream_t);
    cusparseStatus_t (*compressed_size)(const LtHandle*, const LtPlan*, size_t*, size_t*);
    cusparseStatus_t (*compress)(const LtHandle*, const LtPlan*, const void*, void*, void*, cudaStream_t);
    cusparseStatus_t (*search)(const LtHandle*, LtPlan*, const void*, const void*, const void*, const void*,
                               const void*, void*, void*, cudaStream_t*, int32_t);
    cusparseStatus_t (*matmul)(const LtHandle*, const LtPlan*, const void*, const void*, const void*, const void*,
                               const void*, void*, void*, cudaStream_t*, int32_t);
};

LtApi* g_api = nullptr;
std::string g_load_error;

void* open_library() {
    std::vector<std::string> tries;
    if (const char* dir = std::getenv("CUSPARSELT")) {
        tries.push_back(std::string(dir) + "/libcusparseLt.so.0");
        tries.push_back(std::string(dir) + "/lib/libcusparseLt.so.0");
    }
    tries.push_back("libcusparseLt.so.0");
    for (const char* pattern : {"/opt/torch/.venv/lib/python3*/site-packages/nvidia/cusparselt/lib/libcusparseLt.so*",
                                "/usr/local/lib/python3*/dist-packages/nvidia/cusparselt/lib/libcusparseLt.so*",
                                "/usr/lib/python3/dist-packages/nvidia/cusparselt/lib/libcusparseLt.so*"}) {
        glob_t g;
        if (glob(pattern, 0, nullptr, &g) == 0)
            for (size_t i = 0; i < g.gl_pathc; ++i) tries.push_back(g.gl_pathv[i]);
        globfree(&g);
    }
    std::string errors;
    for (const auto& path : tries) {
        if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
        errors += cat("\n  ", path, ": ", dlerror());
    }
    g_load_error = cat("libcusparseLt.so.0 not found (set CUSPARSELT=<dir>); tried:", errors);
    return nullptr;
}

template <class F>
bool sym(void* lib, const char* name, F& f) {
    f = reinterpret_cast<F>(dlsym(lib, name));
    if (!f) g_load_error = cat("cuSPARSELt has no symbol ", name);
    return f != nullptr;
}

}  // namespace

bool cusparselt_load(std::string* why) {
    static bool tried = false;
    if (!tried) {
        tried = true;
        if (void* lib = open_library()) {
            auto* a = new LtApi;
            bool ok = sym(lib, "cusparseLtInit", a->init) && sym(lib, "cusparseLtDestroy", a->destroy) &&
                      sym(lib, "cusparseLtStructuredDescriptorInit", a->structured_init) &&
                      sym(lib, "cusparseLtDenseDescriptorInit", a->dense_init) &&
                      sym(lib, "cusparseLtMatDescriptorDestroy", a->mat_destroy) &&
                      sym(lib, "cusparseLtMatmulDescriptorInit", a->matmul_desc_init) &&
                      sym(lib, "cusparseLtMatmulAlgSelectionInit", a->alg_init) &&
                      sym(lib, "cusparseLtMatmulPlanInit", a->plan_init) &&
                      sym(lib, "cusparseLtMatmulPlanDestroy", a->plan_destroy) &&
                      sym(lib, "cusparseLtMatmulGetWorkspace", a->workspace) &&
                      sym(lib, "cusparseLtSpMMAPrune", a->prune) &&
                      sym(lib, "cusparseLtSpMMACompressedSize", a->compressed_size) &&
                      sym(lib, "cusparseLtSpMMACompress", a->compress) &&
                      sym(lib, "cusparseLtMatmulSearch", a->search) && sym(lib, "cusparseLtMatmul", a->matmul);
            if (ok) g_api = a;
            else delete a;
        }
    }
    if (!g_api && why) *why = g_load_error;
    return g_api != nullptr;
}

struct CusparseltGemm {
    LtHandle handle;
    LtMatDesc a, b, c;
    LtMatmulDesc mm;
    LtAlgSel alg;
    LtPlan plan;
    bool have_handle = false, have_a = false, have_b = false, have_c = false, have_plan = false;
    void* compressed = nullptr;
    void* workspace = nullptr;
    const void* x = nullptr;
    void* out = nullptr;
    float alpha = 1.0f, beta = 0.0f;
};

void CusparseltGemmDeleter::operator()(CusparseltGemm* g) const {
    if (!g) return;
    if (g_api) {
        if (g->have_plan) g_api->plan_destroy(&g->plan);
        if (g->have_c) g_api->mat_destroy(&g->c);
        if (g->have_b) g_api->mat_destroy(&g->b);
        if (g->have_a) g_api->mat_destroy(&g->a);
        if (g->have_handle) g_api->destroy(&g->handle);
    }
    if (g->compressed) cudaFree(g->compressed);
    if (g->workspace) cudaFree(g->workspace);
    delete g;
}

CusparseltGemmPtr cusparselt_prepare(const Tensor& x, const Tensor& w_dense, Tensor& out, std::string* why) {
    if (!cusparselt_load(why)) return nullptr;
    const LtApi& api = *g_api;
    cudaDataType in_t, out_t;
    int compute;
    switch (x.dtype) {
        case DType::F16: in_t = CUDA_R_16F, out_t = CUDA_R_16F, compute = kLtCompute32F; break;
        case DType::BF16: in_t = CUDA_R_16BF, out_t = CUDA_R_16BF, compute = kLtCompute32F; break;
        case DType::F8E4M3: in_t = CUDA_R_8F_E4M3, out_t = CUDA_R_16BF, compute = kLtCompute32F; break;
        case DType::I8: in_t = CUDA_R_8I, out_t = CUDA_R_16BF, compute = kLtCompute32I; break;
        default: *why = cat("cuSPARSELt peer: unsupported dtype ", dtype_name(x.dtype)); return nullptr;
    }
    CTK_CHECK(out.dtype == (x.dtype == DType::F16 ? DType::F16 : DType::BF16), "cusparselt_prepare: out dtype");
    const int64_t M = x.size(0), K = x.size(1), N = w_dense.size(0);
    CusparseltGemmPtr g(new CusparseltGemm);
    auto fail = [&](const char* step, cusparseStatus_t s) {
        *why = cat("cuSPARSELt ", step, " failed with status ", int(s));
        return nullptr;
    };
    cusparseStatus_t s;
    if ((s = api.init(&g->handle)) != CUSPARSE_STATUS_SUCCESS) return fail("init", s);
    g->have_handle = true;
    // Column-major: A = W stored K x N (ld K), used transposed; B = x stored K x M (ld K);
    // C = D = out stored N x M (ld N), i.e. out [M, N] row-major.
    if ((s = api.structured_init(&g->handle, &g->a, K, N, K, 16, in_t, CUSPARSE_ORDER_COL, kLtSparsity50)) !=
        CUSPARSE_STATUS_SUCCESS)
        return fail("structured descriptor", s);
    g->have_a = true;
    if ((s = api.dense_init(&g->handle, &g->b, K, M, K, 16, in_t, CUSPARSE_ORDER_COL)) != CUSPARSE_STATUS_SUCCESS)
        return fail("dense descriptor (x)", s);
    g->have_b = true;
    if ((s = api.dense_init(&g->handle, &g->c, N, M, N, 16, out_t, CUSPARSE_ORDER_COL)) != CUSPARSE_STATUS_SUCCESS)
        return fail("dense descriptor (out)", s);
    g->have_c = true;
    if ((s = api.matmul_desc_init(&g->handle, &g->mm, CUSPARSE_OPERATION_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                  &g->a, &g->b, &g->c, &g->c, compute)) != CUSPARSE_STATUS_SUCCESS)
        return fail("matmul descriptor", s);
    if ((s = api.alg_init(&g->handle, &g->alg, &g->mm, kLtAlgDefault)) != CUSPARSE_STATUS_SUCCESS)
        return fail("algorithm selection", s);
    if ((s = api.plan_init(&g->handle, &g->plan, &g->mm, &g->alg)) != CUSPARSE_STATUS_SUCCESS)
        return fail("plan", s);
    g->have_plan = true;
    // Prune a copy of the dense weight in place, then compress it.
    void* pruned = nullptr;
    if (cudaMalloc(&pruned, w_dense.nbytes()) != cudaSuccess) return fail("cudaMalloc (pruned)", CUSPARSE_STATUS_ALLOC_FAILED);
    cudaMemcpy(pruned, w_dense.raw(), w_dense.nbytes(), cudaMemcpyDeviceToDevice);
    s = api.prune(&g->handle, &g->mm, pruned, pruned, kLtPruneStrip, nullptr);
    size_t csize = 0, cbuf = 0, wsize = 0;
    if (s == CUSPARSE_STATUS_SUCCESS) s = api.compressed_size(&g->handle, &g->plan, &csize, &cbuf);
    void* cbuffer = nullptr;
    if (s == CUSPARSE_STATUS_SUCCESS && cudaMalloc(&g->compressed, csize) != cudaSuccess) s = CUSPARSE_STATUS_ALLOC_FAILED;
    if (s == CUSPARSE_STATUS_SUCCESS && cbuf && cudaMalloc(&cbuffer, cbuf) != cudaSuccess) s = CUSPARSE_STATUS_ALLOC_FAILED;
    if (s == CUSPARSE_STATUS_SUCCESS) s = api.compress(&g->handle, &g->plan, pruned, g->compressed, cbuffer, nullptr);
    cudaDeviceSynchronize();
    cudaFree(pruned);
    if (cbuffer) cudaFree(cbuffer);
    if (s != CUSPARSE_STATUS_SUCCESS) return fail("prune/compress", s);
    if ((s = api.workspace(&g->handle, &g->plan, &wsize)) != CUSPARSE_STATUS_SUCCESS) return fail("workspace", s);
    if (wsize && cudaMalloc(&g->workspace, wsize) != cudaSuccess) return fail("cudaMalloc (workspace)", CUSPARSE_STATUS_ALLOC_FAILED);
    g->x = x.raw();
    g->out = out.raw();
    if ((s = api.search(&g->handle, &g->plan, &g->alpha, g->compressed, g->x, &g->beta, g->out, g->out, g->workspace,
                        nullptr, 0)) != CUSPARSE_STATUS_SUCCESS)
        return fail("matmul search", s);
    // The search may pick an algorithm needing more workspace.
    size_t wsize2 = 0;
    if (api.workspace(&g->handle, &g->plan, &wsize2) == CUSPARSE_STATUS_SUCCESS && wsize2 > wsize) {
        if (g->workspace) cudaFree(g->workspace);
        g->workspace = nullptr;
        if (cudaMalloc(&g->workspace, wsize2) != cudaSuccess) return fail("cudaMalloc (workspace)", CUSPARSE_STATUS_ALLOC_FAILED);
    }
    if (cudaDeviceSynchronize() != cudaSuccess) {
        *why = cat("cuSPARSELt search: ", cudaGetErrorString(cudaGetLastError()));
        return nullptr;
    }
    return g;
}

void cusparselt_run(CusparseltGemm& g) {
    cusparseStatus_t s = g_api->matmul(&g.handle, &g.plan, &g.alpha, g.compressed, g.x, &g.beta, g.out, g.out,
                                       g.workspace, nullptr, 0);
    CTK_CHECK(s == CUSPARSE_STATUS_SUCCESS, "cusparseLtMatmul failed with status ", int(s));
}

}  // namespace ctk::cli

#else  // !CTK_HAVE_CUDA

namespace ctk::cli {
struct CusparseltGemm {};
void CusparseltGemmDeleter::operator()(CusparseltGemm* g) const { delete g; }
bool cusparselt_load(std::string* why) {
    if (why) *why = "built without CUDA";
    return false;
}
CusparseltGemmPtr cusparselt_prepare(const Tensor&, const Tensor&, Tensor&, std::string* why) {
    cusparselt_load(why);
    return nullptr;
}
void cusparselt_run(CusparseltGemm&) {}
}  // namespace ctk::cli

#endif
