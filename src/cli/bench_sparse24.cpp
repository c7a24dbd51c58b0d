// ctk bench sparse24: the 2:4 GEMM rungs and the compression kernels, each beside its
// library peer timed in the same run (docs/sparse24.md quotes the H100 table).
//   GEMM: M in {1, 16, 128, 1024, 4096} x (N, K) in {(4096, 4096), (14336, 4096),
//   (4096, 14336)} plus 8192^3, for f16, bf16, i8 and f8e4m3 (fp8 for the record: its
//   mma.sp is emulated on sm_90). Peer: cuBLAS dense GEMM of the same dtype on the same
//   (pruned, dense-stored) weight: f16/bf16 cublasGemmEx; i8 cuBLASLt int32 compute and
//   output; fp8 cuBLASLt TN, fp32 accumulation, per-tensor scales, bf16 output.
//   Ours runs the full epilogue (i8/fp8: per-token [M] and per-channel [N] scales).
//   Compression: dense -> kernel layout and bitmask -> kernel layout, in GB/s of bytes
//   read + written; peer: a device-to-device copy of the dense weight.
// Options: --quick (8192^3 and M = 16 only), --no-v1 (skip the readable rung),
// --compress-only (only the compression rows: f16, i8, fp8).
#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <string>

#include "cli/bench.h"
#include "cli/peer_cublas.h"
#include "core/error.h"
#include "core/random.h"
#include "formats/sparse24_layout.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk::cli {

#if !CTK_HAVE_CUDA
void bench_sparse24(const Args&, std::vector<BenchCase>&) { throw Error("bench sparse24 needs CUDA"); }
#else

namespace {

const char* peer_name(DType t) {
    switch (t) {
        case DType::F16: return "cublas_f16";
        case DType::BF16: return "cublas_bf16";
        case DType::I8: return "cublaslt_i8_i32";
        default: return "cublaslt_e4m3";
    }
}

Tensor device_scales(int64_t n, uint64_t seed, float scale) {
    Tensor s = cuda::device_empty(DType::F32, {n});
    cuda::fill_random(s, seed, scale, false);  // uniform in [-scale, scale): magnitudes don't matter for speed
    return s;
}

// Median ms of fn, or 0 (and a note) when the peer refuses the shape.
double time_or_zero(const std::function<void()>& fn, std::string& note) {
    try {
        fn();
        cuda::synchronize();
        return cuda::time_median_ms(fn);
    } catch (const Error& e) {
        note = std::string("peer failed: ") + e.what();
        return 0;
    }
}

}  // namespace

void bench_sparse24(const Args& args, std::vector<BenchCase>& out) {
    bool quick = false, v1 = true, compress_only = false;
    std::vector<std::string> only;  // "dtype:MxNxK" cases (GEMM v2 only)
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--quick") quick = true;
        else if (a == "--no-v1") v1 = false;
        else if (a == "--compress-only") compress_only = true;
        else if (a == "--only" && i + 1 < args.size()) only.push_back(args[++i]);
        else throw Error(cat("bench sparse24: unknown option '", a, "' (expected --quick, --no-v1, --compress-only or --only dtype:MxNxK)"));
    }
    auto emit = [&](BenchCase c) {
        bench_emit(c);
        out.push_back(c);
    };
    if (!only.empty()) {
        for (const std::string& o : only) {
            DType t;
            long long M = 0, N = 0, K = 0;
            const size_t colon = o.find(':');
            CTK_CHECK(colon != std::string::npos && dtype_from_name(o.substr(0, colon), &t) &&
                          std::sscanf(o.c_str() + colon + 1, "%lldx%lldx%lld", &M, &N, &K) == 3,
                      "bench sparse24: --only expects dtype:MxNxK, found '", o, "'");
            Tensor w = cuda::device_empty(t, {N, K}), x = cuda::device_empty(t, {M, K});
            cuda::fill_random_24(w, 7, t == DType::I8 ? 100.0f : 1.0f, false);
            cuda::fill_random(x, 8, t == DType::I8 ? 100.0f : 1.0f, false);
            cuda::Sparse24KernelWeight wk = cuda::sparse24_compress(w);
            const bool w8a8 = t == DType::I8 || t == DType::F8E4M3;
            Tensor xs = w8a8 ? device_scales(M, 3, 1e-3f) : Tensor(), ws = w8a8 ? device_scales(N, 4, 1e-2f) : Tensor();
            Tensor o_ = cuda::device_empty(t == DType::F16 ? DType::F16 : DType::BF16, {M, N});
            BenchCase c;
            c.op = "sparse24_gemm_v2";
            c.shape = mnk(M, N, K);
            c.dtype = dtype_name(t);
            c.ms = cuda::time_median_ms([&] { cuda::sparse24_gemm_into(o_, x, wk, xs, ws, Tensor(), 2); });
            c.flops = 2.0 * M * N * K;
            c.bytes = double(M) * K * dtype_size(t) + double(wk.values.nbytes()) + double(wk.meta.nbytes()) + 2.0 * M * N;
            if (const char* tile = std::getenv("CTK_SPARSE24_TILE")) c.note = tile;
            emit(c);
        }
        return;
    }
    struct NK {
        int64_t N, K;
    };
    std::vector<NK> nks = {{4096, 4096}, {14336, 4096}, {4096, 14336}, {8192, 8192}};
    std::vector<int64_t> ms_all = {1, 16, 128, 1024, 4096};
    if (quick) nks = {{4096, 4096}, {8192, 8192}};


    // ---- GEMM ----
    for (DType t : {DType::F16, DType::BF16, DType::I8, DType::F8E4M3}) {
        if (compress_only) break;
        const size_t es = dtype_size(t);
        const bool w8a8 = t == DType::I8 || t == DType::F8E4M3;
        const DType out_dtype = t == DType::F16 ? DType::F16 : DType::BF16;
        for (const NK& nk : nks) {
            const int64_t N = nk.N, K = nk.K;
            Tensor w = cuda::device_empty(t, {N, K});
            cuda::fill_random_24(w, 7 + N + K, t == DType::I8 ? 100.0f : 1.0f, false);
            cuda::Sparse24KernelWeight wk = cuda::sparse24_compress(w);
            const double w_bytes = double(wk.values.nbytes()) + double(wk.meta.nbytes());
            std::vector<int64_t> ms;
            if (N == 8192) ms = {8192};
            else ms = quick ? std::vector<int64_t>{16} : ms_all;
            for (int64_t M : ms) {
                Tensor x = cuda::device_empty(t, {M, K});
                cuda::fill_random(x, 11 + M, t == DType::I8 ? 100.0f : 1.0f, false);
                Tensor xs = w8a8 ? device_scales(M, 3, 1e-3f) : Tensor(), ws = w8a8 ? device_scales(N, 4, 1e-2f) : Tensor();
                Tensor o = cuda::device_empty(out_dtype, {M, N});
                // The peer, in the same run.
                std::string note;
                double peer_ms = 0;
                if (t == DType::F16 || t == DType::BF16) {
                    Tensor po = cuda::device_empty(t, {M, N});
                    peer_ms = time_or_zero([&] { cublas_gemm(x, w, po); }, note);
                } else {
                    try {
                        CublasLtGemm lt(t, t == DType::I8 ? DType::I32 : DType::BF16, M, N, K);
                        Tensor po = cuda::device_empty(t == DType::I8 ? DType::I32 : DType::BF16, {M, N});
                        Tensor one = device_scales(1, 5, 1.0f);
                        peer_ms = time_or_zero([&] { lt.run(x, w, po, one, one); }, note);
                    } catch (const Error& e) {
                        note = std::string("peer failed: ") + e.what();
                    }
                }
                std::vector<int> versions = {2};
                if (v1 && (t == DType::F16 || t == DType::I8) && N == 4096 && K == 4096 && (M == 16 || M == 1024))
                    versions.push_back(1);
                for (int version : versions) {
                    BenchCase c;
                    c.op = cat("sparse24_gemm_v", version);
                    c.shape = mnk(M, N, K);
                    c.dtype = dtype_name(t);
                    c.ms = cuda::time_median_ms([&] { cuda::sparse24_gemm_into(o, x, wk, xs, ws, Tensor(), version); });
                    c.flops = 2.0 * M * N * K;
                    c.bytes = double(M) * K * es + w_bytes + double(M) * N * 2;
                    c.peer = peer_name(t);
                    c.peer_ms = peer_ms;
                    c.note = note;
                    if (t == DType::F8E4M3) c.note += c.note.empty() ? "mma.sp e4m3 emulated on sm_90" : "";
                    emit(c);
                }
            }
        }
    }

    // ---- compression ----
    for (DType t : {DType::F16, DType::I8, DType::F8E4M3}) {
        const size_t es = dtype_size(t);
        for (const NK& nk : std::vector<NK>{{14336, 4096}, {8192, 8192}}) {
            const int64_t N = nk.N, K = nk.K;
            Tensor w = cuda::device_empty(t, {N, K});
            cuda::fill_random_24(w, 99, t == DType::I8 ? 100.0f : 1.0f, false);
            cuda::Sparse24KernelWeight wk = cuda::sparse24_alloc(N, K, t);
            Tensor copy = cuda::device_empty(t, {N, K});
            std::string note;
            const double peer_ms = time_or_zero([&] { device_copy(copy, w); }, note);
            const double out_bytes = double(N) * K / 2 * es + double(N) * K / 8;  // values + metadata
            BenchCase c;
            c.op = "sparse24_compress";
            c.shape = cat(N, "x", K);
            c.dtype = dtype_name(t);
            c.ms = cuda::time_median_ms([&] { cuda::sparse24_compress_into(w, wk, false); });
            cuda::sparse24_compress_check(w);
            c.bytes = double(N) * K * es + out_bytes;
            c.peer = "d2d_copy_dense";
            c.peer_ms = peer_ms;
            c.note = note;
            emit(c);

            // The checkpoint path: compressed [N, K/2] + bitmask [N, K/8].
            Tensor comp = cuda::device_empty(t, {N, K / 2});
            cuda::fill_random(comp, 5, 1.0f, false);
            Tensor mask = cuda::device_empty(DType::U8, {N, K / 8});
            cuda::fill_bytes(mask, 0x53);  // nibbles 0x3 and 0x5: two bits each
            BenchCase b = c;
            b.op = "sparse24_from_bitmask";
            b.ms = cuda::time_median_ms([&] { cuda::sparse24_from_bitmask_into(comp, mask, K, wk, false); });
            b.bytes = double(N) * K / 2 * es + double(N) * K / 8 + out_bytes;
            emit(b);
        }
    }
}
#endif

}  // namespace ctk::cli
