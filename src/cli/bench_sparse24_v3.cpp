// ctk bench sparse24v3 [f16|bf16|f8e4m3|i8 ...] [quick]: the Hopper 2:4 GEMM (v3,
// cuda/sparse24_gemm_sm90.cu) against the libraries a user would pick instead, timed in
// the same run: cuBLAS / cuBLASLt dense GEMM of the same dtype, and cuSPARSELt 2:4 GEMM
// (loaded at run time, plan cached, algorithm searched) when it is found.
//
// Shapes: 8192^3, and the LLM projections (N, K) = (14336, 4096), (4096, 14336) for
// M = 1 .. 4096 tokens. Random data (never zeros). 16-bit cases run without scales,
// 8-bit cases with per-token x scales and per-channel w scales (the W8A8 epilogue); the
// peers run alpha = 1 (cuBLASLt i8 writes int32, the other peers f16/bf16).
// Times: median of CUDA events, L2 flushed before each run (cuda::time_median_ms);
// 'steady': the decode cases launched back to back over copies of the weight
// (cuda::time_steady_ms), against the dense peer only; each case again with overlapped
// launches (cuda::set_overlapped_launch). 'once M N K DTYPE': three untimed calls (for ncu).
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "cli/bench.h"
#include "core/error.h"
#include "core/random.h"

#if CTK_HAVE_CUDA
#include <cublasLt.h>
#include <cuda_runtime.h>

#include "cli/peer_cublas.h"
#include "cli/peer_cusparselt.h"
#include "formats/formats.h"
#include "formats/sparse24_layout.h"
#include "ops.h"
#endif

namespace ctk::cli {

#if !CTK_HAVE_CUDA
void bench_sparse24_v3(const Args&, std::vector<BenchCase>&) { throw Error("bench sparse24v3 needs CUDA"); }
#else
namespace {

// Random finite values of dtype t, fast: a 256-entry table of normal samples indexed by
// random bytes (the benchmark fills up to 10^8 elements on the host).
Tensor random_host(DType t, const Shape& shape, Rng& rng) {
    Tensor x = Tensor::empty(t, shape);
    uint16_t table16[256];
    uint8_t table8[256];
    for (int i = 0; i < 256; ++i) {
        float v = rng.normal();
        table16[i] = t == DType::BF16 ? bf16_from_float(v) : fp16_from_float(v);
        table8[i] = t == DType::I8 ? static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(rng.below(255)) - 127))
                                   : e4m3_from_float(2.0f * v);
    }
    const int64_t n = x.numel();
    if (dtype_size(t) == 2) {
        uint16_t* p = static_cast<uint16_t*>(x.raw());
        for (int64_t i = 0; i < n; i += 8) {
            uint64_t r = rng.next_u64();
            for (int j = 0; j < 8 && i + j < n; ++j, r >>= 8) p[i + j] = table16[r & 0xFF];
        }
    } else {
        uint8_t* p = static_cast<uint8_t*>(x.raw());
        for (int64_t i = 0; i < n; i += 8) {
            uint64_t r = rng.next_u64();
            for (int j = 0; j < 8 && i + j < n; ++j, r >>= 8) p[i + j] = table8[r & 0xFF];
        }
    }
    return x;
}

// Metadata of a random 2:4 weight in the kernel layout: every nibble a valid code.
Tensor random_meta(int64_t N, int64_t K, Rng& rng) {
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
    Tensor m = Tensor::empty(DType::I32, {Np / 16, Kp / 64, 32});
    static const uint32_t kCodes[6] = {0x4, 0x8, 0xC, 0x9, 0xD, 0xE};
    uint32_t* p = reinterpret_cast<uint32_t*>(m.data<int32_t>());
    for (int64_t i = 0; i < m.numel(); ++i) {
        uint64_t r = rng.next_u64();
        uint32_t w = 0;
        for (int c = 0; c < 8; ++c, r >>= 8) w |= kCodes[(r & 0xFF) % 6] << (4 * c);
        p[i] = w;
    }
    return m;
}

// cuBLASLt dense GEMM for the 8-bit types: out^T [N, M] = W [N, K] * x^T, "TN" (both
// operands K-major, the layout cuBLASLt requires for fp8 and int8).
struct LtDense {
    cublasLtHandle_t h = nullptr;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo;
    void* ws = nullptr;
    size_t ws_size = size_t(64) << 20;
    const void* w = nullptr;
    const void* x = nullptr;
    void* out = nullptr;
    bool int8 = false;
    ~LtDense() {
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (c) cublasLtMatrixLayoutDestroy(c);
        if (op) cublasLtMatmulDescDestroy(op);
        if (h) cublasLtDestroy(h);
        if (ws) cudaFree(ws);
    }
};

#define LT_CHECK(expr)                                                                          \
    do {                                                                                        \
        cublasStatus_t s_ = (expr);                                                             \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                      \
            *why = cat(#expr, " failed with status ", int(s_));                                 \
            return false;                                                                       \
        }                                                                                       \
    } while (0)

// out: [M, N] bf16 (fp8) or i32 (i8).
bool lt_prepare(LtDense& g, const Tensor& x, const Tensor& w, Tensor& out, std::string* why) {
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    g.int8 = x.dtype == DType::I8;
    const cudaDataType in_t = g.int8 ? CUDA_R_8I : CUDA_R_8F_E4M3;
    const cudaDataType out_t = g.int8 ? CUDA_R_32I : CUDA_R_16BF;
    LT_CHECK(cublasLtCreate(&g.h));
    LT_CHECK(cublasLtMatmulDescCreate(&g.op, g.int8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F,
                                      g.int8 ? CUDA_R_32I : CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    LT_CHECK(cublasLtMatmulDescSetAttribute(g.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    LT_CHECK(cublasLtMatmulDescSetAttribute(g.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    LT_CHECK(cublasLtMatrixLayoutCreate(&g.a, in_t, K, N, K));
    LT_CHECK(cublasLtMatrixLayoutCreate(&g.b, in_t, K, M, K));
    LT_CHECK(cublasLtMatrixLayoutCreate(&g.c, out_t, N, M, N));
    if (cudaMalloc(&g.ws, g.ws_size) != cudaSuccess) {
        *why = "cudaMalloc (cuBLASLt workspace) failed";
        return false;
    }
    cublasLtMatmulPreference_t pref = nullptr;
    LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &g.ws_size, sizeof(g.ws_size));
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(g.h, g.op, g.a, g.b, g.c, g.c, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
        *why = cat("cuBLASLt found no algorithm (status ", int(s), ")");
        return false;
    }
    g.algo = res.algo;
    g.w = w.raw(), g.x = x.raw(), g.out = out.raw();
    return true;
}

void lt_run(LtDense& g) {
    const float fa = 1.0f, fb = 0.0f;
    const int32_t ia = 1, ib = 0;
    const void* alpha = g.int8 ? static_cast<const void*>(&ia) : static_cast<const void*>(&fa);
    const void* beta = g.int8 ? static_cast<const void*>(&ib) : static_cast<const void*>(&fb);
    cublasStatus_t s = cublasLtMatmul(g.h, g.op, alpha, g.w, g.a, g.x, g.b, beta, g.out, g.c, g.out, g.c, &g.algo,
                                      g.ws, g.ws_size, nullptr);
    CTK_CHECK(s == CUBLAS_STATUS_SUCCESS, "cublasLtMatmul failed with status ", int(s));
}

// How a plan adds its split-K partials, for the notes: "(cluster)", "(spread)" or "" (the
// last split adds them, or no split).
const char* reduce_tag(const cuda::Sparse24V3Plan& plan) {
    return plan.cluster_splits ? "(cluster)" : plan.spread_splits ? "(spread)" : "";
}

// steady: v3 and the dense peer of the same dtype each launched back to back over their
// own copies of the weight (cuda::time_steady_ms), a decode step's per-layer time without
// the per-call fixed cost that time_median_ms charges (cuSPARSELt keeps its own copy of
// the weight inside its plan and is left out). Appends that row and v3's calls timed again
// with overlapped launches.
void steady_cases(int64_t M, int64_t N, int64_t K, DType dt, const Tensor& x, const Tensor& values,
                  const Tensor& meta, const Tensor& w_dense, const Tensor& xs, const Tensor& ws, Tensor& o,
                  const cuda::Sparse24V3Plan& plan, std::vector<BenchCase>& out) {
    const int calls = 60;
    struct Sparse {
        Tensor values, meta;
    };
    std::vector<Sparse> sp(steady_copies(values.nbytes() + meta.nbytes())), tiled(sp.size());
    for (auto& c : sp) c = {device_clone(values), device_clone(meta)};
    for (auto& c : tiled) cuda::sparse24_v3_tile_weight(values, meta, c.values, c.meta);
    std::vector<Tensor> dense(steady_copies(w_dense.nbytes()));
    for (auto& d : dense) d = device_clone(w_dense);
    // v3 over every weight copy with the options `opt` (the default plan: {}).
    auto calls_with = [&](const cuda::Sparse24V3Options& opt) {
        std::vector<std::function<void()>> v;
        for (const auto& s : opt.tiled_weight ? tiled : sp)
            v.push_back([&, ps = &s, opt] { cuda::sparse24_gemm_v3_into(o, x, ps->values, ps->meta, N, K, xs, ws, Tensor(), opt); });
        return v;
    };
    const std::vector<std::function<void()>> ours = calls_with({});
    std::vector<std::function<void()>> peer;
    BenchCase c;
    c.op = "sparse24_gemm_v3 steady";
    c.shape = mnk(M, N, K);
    c.dtype = dtype_name(dt);
    c.ms = cuda::time_steady_ms(ours, calls);
    c.flops = 2.0 * M * N * K;
    c.bytes = double(values.nbytes()) + double(meta.nbytes()) + double(M) * K * dtype_size(dt) + double(M) * N * 2;
    c.note = cat(sp.size(), "/", dense.size(), " weight copies; bn=", plan.bn, " splits=", plan.splits);
    const DType out_t = dt == DType::F16 ? DType::F16 : DType::BF16;
    if (dtype_size(dt) == 2) {
        Tensor od = cuda::device_empty(out_t, {M, N});
        for (const auto& d : dense) peer.push_back([&, pd = &d] { cublas_gemm(x, *pd, od); });
        c.peer = cat("cublas_", dtype_name(dt), " steady");
        c.peer_ms = cuda::time_steady_ms(peer, calls);
    } else {
        Tensor od = cuda::device_empty(dt == DType::I8 ? DType::I32 : DType::BF16, {M, N});
        LtDense g;
        std::string why;
        if (lt_prepare(g, x, w_dense, od, &why)) {
            for (const auto& d : dense) peer.push_back([&g, pd = &d] { g.w = pd->raw(), lt_run(g); });
            c.peer = cat("cublaslt_", dtype_name(dt), " steady");
            c.peer_ms = cuda::time_steady_ms(peer, calls);
        } else {
            c.note += cat(" (cuBLASLt: ", why, ")");
        }
    }
    bench_emit(c);
    out.push_back(c);
    // The same calls again with overlapped launches (each call's weight tiles stream while
    // the call ahead drains; cuda/launch.cuh).
    out.push_back(overlapped_row(c, cuda::time_steady_overlapped_ms(ours, calls)));
    bench_emit(out.back());
    // The same calls on the tiled weight layout (each stage's weight block contiguous),
    // plain and overlapped.
    {
        cuda::Sparse24V3Options t;
        t.tiled_weight = 1;
        const std::vector<std::function<void()>> tc = calls_with(t);
        BenchCase a = c;
        a.op = "sparse24_gemm_v3 steady tiled";
        a.ms = cuda::time_steady_ms(tc, calls);
        a.note = "tiled_weight = 1 (docs/sparse24_v3.md 4i)";
        bench_emit(a);
        out.push_back(a);
        out.push_back(overlapped_row(a, cuda::time_steady_overlapped_ms(tc, calls)));
        bench_emit(out.back());
    }
    // Split plans: the same calls with the other global reduction (spread when the plan
    // adds the partials in the last split, and the other way round), plain and overlapped.
    if (plan.splits > 1 && !plan.cluster_splits) {
        cuda::Sparse24V3Options other;
        other.split_reduce = plan.spread_splits ? 1 : 3;
        try {
            (void)cuda::sparse24_gemm_v3_plan(M, N, K, dt, other);
        } catch (const Error& e) {
            std::printf("steady %s: the other split reduction is not possible: %s\n", mnk(M, N, K).c_str(), e.what());
            return;
        }
        const std::vector<std::function<void()>> alt = calls_with(other);
        BenchCase a = c;
        a.op = cat("sparse24_gemm_v3 steady ", plan.spread_splits ? "lastsplit" : "spread");
        a.ms = cuda::time_steady_ms(alt, calls);
        bench_emit(a);
        out.push_back(a);
        out.push_back(overlapped_row(a, cuda::time_steady_overlapped_ms(alt, calls)));
        bench_emit(out.back());
    }
}

struct Mnk {
    int64_t M, N, K;
};

}  // namespace

void bench_sparse24_v3(const Args& args, std::vector<BenchCase>& out) {
    CTK_CHECK(cuda::sparse24_v3_available(), "bench sparse24v3: needs an sm_90 device and an sm_90a build, found ",
              cuda::device_description());
    if (!args.empty() && args[0] == "once") {
        // ctk bench sparse24v3 once M N K DTYPE: three calls of the default plan, no timing
        // (for ncu: -k regex:sparse24_gemm_v3_kernel --launch-skip 2 --launch-count 1).
        DType dt;
        CTK_CHECK(args.size() == 5 && dtype_from_name(args[4], &dt),
                  "bench sparse24v3: expected 'once M N K DTYPE' (DTYPE f16, bf16, f8e4m3 or i8)");
        const int64_t M = std::stoll(args[1]), N = std::stoll(args[2]), K = std::stoll(args[3]);
        CTK_CHECK(M >= 1 && N >= 1 && K >= 1, "bench sparse24v3 once: expected positive M, N, K");
        Rng rng(2024);
        const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
        const Tensor values = cuda::to_device(random_host(dt, {Np, Kp / 2}, rng));
        const Tensor meta = cuda::to_device(random_meta(N, K, rng));
        const Tensor x = cuda::to_device(random_host(dt, {M, K}, rng));
        Tensor o = cuda::device_empty(dt == DType::F16 ? DType::F16 : DType::BF16, {M, N});
        const cuda::Sparse24V3Plan plan = cuda::sparse24_gemm_v3_plan(M, N, K, dt);
        for (int i = 0; i < 3; ++i) cuda::sparse24_gemm_v3_into(o, x, values, meta, N, K, Tensor(), Tensor(), Tensor());
        cuda::synchronize();
        std::printf("sparse24_gemm_v3 %s %s: bn=%d stages=%d splits=%d%s cluster=%d ctas=%d (3 calls)\n",
                    mnk(M, N, K).c_str(), dtype_name(dt), plan.bn, plan.stages, plan.splits, reduce_tag(plan),
                    plan.cluster, plan.ctas);
        return;
    }
    std::vector<DType> dtypes;
    bool quick = false, decode = false, ksweep = false, variants = false, steady = false;
    for (const auto& a : args) {
        DType t;
        if (a == "quick") quick = true;
        else if (a == "decode") decode = true;
        else if (a == "ksweep") ksweep = true;
        else if (a == "variants") variants = true;
        else if (a == "steady") steady = true;
        else if (dtype_from_name(a, &t)) dtypes.push_back(t);
        else
            throw Error(cat("bench sparse24v3: unknown argument '", a,
                            "' (expected a dtype, 'quick', 'decode', 'ksweep', 'variants' or 'steady')"));
    }
    if (dtypes.empty()) dtypes = {DType::F16, DType::BF16, DType::F8E4M3, DType::I8};
    std::string lt_why;
    if (!cusparselt_load(&lt_why)) std::printf("cuSPARSELt peer skipped: %s\n", lt_why.c_str());

    struct WeightShape {
        int64_t N, K;
        std::vector<int64_t> Ms;
    };
    std::vector<WeightShape> shapes = {{8192, 8192, {8192}},
                                       {14336, 4096, {1, 16, 64, 256, 1024, 4096}},
                                       {4096, 14336, {1, 16, 64, 256, 1024, 4096}}};
    if (quick) shapes = {{8192, 8192, {8192}}, {14336, 4096, {16, 4096}}};
    // decode: the M <= 64 cases of the LLM shapes only. ksweep: M = 1, N = 14336 over K,
    // to split a decode time into a fixed part and a per-byte part (docs/sparse24_v3.md 4c).
    if (decode || steady) shapes = {{14336, 4096, {1, 16, 64}}, {4096, 14336, {1, 16, 64}}};
    if (ksweep) shapes = {{14336, 256, {1}}, {14336, 1024, {1}}, {14336, 2048, {1}}, {14336, 4096, {1}}, {14336, 8192, {1}}};

    Rng rng(2024);
    for (DType dt : dtypes) {
        const size_t es = dtype_size(dt);
        const DType out_t = dt == DType::F16 ? DType::F16 : DType::BF16;
        for (const auto& ws : shapes) {
            const int64_t N = ws.N, K = ws.K;
            const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
            // The weight: kernel layout for v3, a dense random matrix for the peers
            // (cuSPARSELt prunes and compresses its own copy).
            const Tensor values = cuda::to_device(random_host(dt, {Np, Kp / 2}, rng));
            const Tensor meta = cuda::to_device(random_meta(N, K, rng));
            const Tensor w_dense = cuda::to_device(random_host(dt, {N, K}, rng));
            Tensor ws_f32 = Tensor::empty(DType::F32, {N});
            for (int64_t i = 0; i < N; ++i) ws_f32.data<float>()[i] = rng.uniform(0.001f, 0.01f);
            const Tensor w_scale_d = cuda::to_device(ws_f32);
            for (int64_t M : ws.Ms) {
                const Tensor x = cuda::to_device(random_host(dt, {M, K}, rng));
                Tensor xs_f32 = Tensor::empty(DType::F32, {M});
                for (int64_t i = 0; i < M; ++i) xs_f32.data<float>()[i] = rng.uniform(0.01f, 0.1f);
                const Tensor x_scale_d = cuda::to_device(xs_f32);
                const bool scaled = es == 1;
                Tensor o = cuda::device_empty(out_t, {M, N});
                const cuda::Sparse24V3Plan plan = cuda::sparse24_gemm_v3_plan(M, N, K, dt);
                if (steady) {
                    steady_cases(M, N, K, dt, x, values, meta, w_dense, scaled ? x_scale_d : Tensor(),
                                 scaled ? w_scale_d : Tensor(), o, plan, out);
                    continue;
                }
                auto run_v3 = [&] {
                    cuda::sparse24_gemm_v3_into(o, x, values, meta, N, K, scaled ? x_scale_d : Tensor(),
                                                scaled ? w_scale_d : Tensor(), Tensor());
                };
                const double ms = cuda::time_median_ms(run_v3);

                BenchCase c;
                c.op = "sparse24_gemm_v3";
                c.shape = mnk(M, N, K);
                c.dtype = dtype_name(dt);
                c.ms = ms;
                c.flops = 2.0 * M * N * K;
                c.bytes = double(Np) * (Kp / 2) * es + double(Np) * Kp / 8 + double(M) * K * es + double(M) * N * 2;
                char note[96];
                std::snprintf(note, sizeof note, "bn=%d stages=%d splits=%d%s cluster=%d ctas=%d", plan.bn,
                              plan.stages, plan.splits, reduce_tag(plan), plan.cluster, plan.ctas);
                c.note = note;

                // Peer 1: dense cuBLAS / cuBLASLt of the same dtype.
                if (es == 2) {
                    Tensor od = cuda::device_empty(out_t, {M, N});
                    c.peer = cat("cublas_", dtype_name(dt));
                    c.peer_ms = cuda::time_median_ms([&] { cublas_gemm(x, w_dense, od); });
                } else {
                    Tensor od = cuda::device_empty(dt == DType::I8 ? DType::I32 : DType::BF16, {M, N});
                    LtDense g;
                    std::string why;
                    if (lt_prepare(g, x, w_dense, od, &why)) {
                        c.peer = cat("cublaslt_", dtype_name(dt));
                        c.peer_ms = cuda::time_median_ms([&] { lt_run(g); });
                    } else {
                        c.note += cat(" (cuBLASLt: ", why, ")");
                    }
                }
                bench_emit(c);
                out.push_back(c);

                // A row of the same case with other options (and arrays); peer column: the
                // default plan on the row-major layout.
                auto variant_row = [&](const std::string& name, const Tensor& v_values, const Tensor& v_meta,
                                       const cuda::Sparse24V3Options& vo, const std::string& note) {
                    BenchCase cv = c;
                    cv.op = cat("sparse24_gemm_v3_", name);
                    cv.ms = cuda::time_median_ms([&] {
                        cuda::sparse24_gemm_v3_into(o, x, v_values, v_meta, N, K, scaled ? x_scale_d : Tensor(),
                                                    scaled ? w_scale_d : Tensor(), Tensor(), vo);
                    });
                    cv.peer = "sparse24_gemm_v3";
                    cv.peer_ms = ms;
                    cv.note = note;
                    bench_emit(cv);
                    out.push_back(cv);
                };
                // The same kernel without the activation multicast (clusters of 1), to
                // show what the multicast buys.
                if (plan.cluster == 2) {
                    cuda::Sparse24V3Options one;
                    one.cluster = 1;
                    variant_row("nomcast", values, meta, one, "cluster=1");
                }
                // The tiled weight layout (docs/sparse24_v3.md 4i; the layers take it once a run
                // shows it faster), on every case.
                Tensor values_t, meta_t;
                cuda::sparse24_v3_tile_weight(values, meta, values_t, meta_t);
                {
                    cuda::Sparse24V3Options t;
                    t.tiled_weight = 1;
                    variant_row("tiled", values_t, meta_t, t, "tiled_weight = 1");
                }

                // variants: other split-K plans of the same case.
                if (variants && plan.bn <= 64) {
                    struct Variant {
                        std::string name;
                        int splits, reduce, promo, cluster = 0, tiled = 0, bn = 0;
                    };
                    std::vector<Variant> vs;
                    if (plan.splits > 1) {
                        // The default plan reduces through global memory (measured faster on
                        // the H100, docs/sparse24_v3.md 4c); the cluster path is timed beside it.
                        vs.push_back({"clustersplit", plan.splits, 2, 256});
                        vs.push_back({plan.spread_splits ? "lastsplit" : "spread", plan.splits,
                                      plan.spread_splits ? 1 : 3, 256});
                        for (int s : {2, 8})
                            if (s != plan.splits) vs.push_back({cat("splits", s), s, 0, 256});
                    }
                    // The activation multicast of the large tiles (clusters of 2 neighbouring
                    // weight tiles share each x tile) at bn = 64, where x is half a stage.
                    if (plan.bn >= 64 && (sparse24_padded_rows(N) / 128) % 2 == 0) vs.push_back({"mcast2", 0, 0, 256, 2});
                    // The tiled weight layout (the row above) with the other L2 promotion.
                    vs.push_back({"tiled_l2promo128", 0, 0, 128, 0, 1});
                    // M = 64 as two token tiles of 32 (the CTAs of one weight tile run side by
                    // side and share its stream through L2; half the x tile per stage).
                    if (plan.bn == 64 && M > 32) vs.push_back({"bn32", 0, 0, 256, 0, 0, 32});
                    vs.push_back({"l2promo128", 0, 0, 128});
                    vs.push_back({"l2promo0", 0, 0, 0});
                    for (const Variant& v : vs) {
                        cuda::Sparse24V3Options vo;
                        vo.splits = v.splits;
                        vo.split_reduce = v.reduce;
                        vo.l2_promotion = v.promo;
                        vo.cluster = v.cluster;
                        vo.tiled_weight = v.tiled;
                        vo.bn = v.bn;
                        cuda::Sparse24V3Plan vp;
                        try {
                            vp = cuda::sparse24_gemm_v3_plan(M, N, K, dt, vo);
                        } catch (const Error& e) {  // e.g. a cluster split-K whose clusters do not fit
                            std::printf("variant %s of %s skipped: %s\n", v.name.c_str(), mnk(M, N, K).c_str(), e.what());
                            continue;
                        }
                        variant_row(v.name, v.tiled ? values_t : values, v.tiled ? meta_t : meta, vo,
                                    cat("bn=", vp.bn, " splits=", vp.splits, reduce_tag(vp), " cluster=", vp.cluster,
                                        " ctas=", vp.ctas));
                    }
                }

                // Peer 2: cuSPARSELt with a cached, searched plan.
                if (lt_why.empty()) {
                    BenchCase c2 = c;
                    Tensor os = cuda::device_empty(out_t, {M, N});
                    std::string why;
                    CusparseltGemmPtr g = cusparselt_prepare(x, w_dense, os, &why);
                    if (g) {
                        c2.peer = cat("cusparselt_", dtype_name(dt));
                        c2.peer_ms = cuda::time_median_ms([&] { cusparselt_run(*g); });
                    } else {
                        c2.peer = "";
                        c2.peer_ms = 0;
                        c2.note = cat("cuSPARSELt: ", why);
                    }
                    bench_emit(c2);
                    out.push_back(c2);
                }
            }
        }
    }
}
#endif

}  // namespace ctk::cli
