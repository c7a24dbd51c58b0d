// ctk bench mxfp4: the MXFP4 W4A16 GEMM (cuda/mxfp4_gemm.cu) beside cuBLAS dense on the
// dequantized (unquantized) 16-bit weight, timed in the same run.
//
// Cases: M in {1, 16, 64, 256, 4096} x (N, K) in {(4096, 4096), (14336, 4096),
// (4096, 14336), (8192, 8192)} in bf16 with the best rung (version 0); v3 beside it at
// M = 64, 256, 4096 and v2 / v6 at M = 17 and 32 (the crossover) on every shape; f16 for
// a subset; each rung alone on 14336x4096 for the ladder in docs/mxfp4.md (v2 and v5 for
// decode).
// Conventions (cli/bench.h): median of CUDA events. The L2 is flushed before every run
// by reading 256 MiB (cuda::time_median_ms), so weights come from DRAM and no
// dirty lines are written back during the timed call.
// GB/s counts the 4-bit weight at 4.25 bits per element (codes + one E8M0 byte per 32),
// the activations read and the output written once.
//
//   ctk bench mxfp4                  all cases
//   ctk bench mxfp4 decode           the decode rungs v2, v5 and v7, M in {1, 2, 4, 8, 16}, the
//                                    four shapes, bf16 (and f16 on 14336x4096); the note of
//                                    a bf16 row times a device copy of the weight's bytes
//                                    and a kernel that only reads them (the harness floor)
//   ctk bench mxfp4 decode v5 [S..]  v5 alone, M in {1, 4, 16}, three shapes (tuning runs); with
//                                    work shapes S (0..10, cuda/mxfp4_gemv.cu), each shape in
//                                    turn, its number in the note
//   ctk bench mxfp4 prefill          the prefill rungs v3, v4 and v6, M in {64, 128, 256, 1024,
//                                    4096}, the four shapes, bf16, and v4/v6 with 2 and 4
//                                    splits of K at M <= 256 on 4096x14336 (tuning runs), and
//                                    v6 in f16 at M 256 and 4096 on 14336x4096
//   ctk bench mxfp4 steady           version 0, cuBLAS and the read-only kernel at M in {1, 4,
//                                    16} on the four shapes, each launched back to back over
//                                    copies of its weight (cuda::time_steady_ms): a decode
//                                    step's per-layer time, without the per-call fixed cost;
//                                    each case again with overlapped launches (v5 streams
//                                    its weight while the call before it drains)
//   ctk bench mxfp4 floor            the read-only kernel alone (1 and 4 loads in flight per
//                                    thread) over 2..256 MB: its fixed cost and stream rate,
//                                    the floor under any decode kernel in this harness
//   ctk bench mxfp4 once M N K V     one bf16 call of version V (for ncu), no timing
// CTK_BENCH_MXFP4_RUNGS=2,5 limits 'decode' and 'prefill' to the rungs it names (make
// gpu-check leaves out a new rung whose tests hung); the default is every rung.
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "cli/bench.h"
#include "cli/peer_cublas.h"
#include "core/error.h"
#include "core/random.h"
#include "formats/fp16.h"
#include "ref/mxfp4.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk::cli {

#if !CTK_HAVE_CUDA
void bench_mxfp4(const Args&, std::vector<BenchCase>&) { throw Error("bench mxfp4 needs CUDA"); }
#else

namespace {

// Random MXFP4 weight (uniform codes, scale codes 110..129 as in vLLM's tests widened).
ref::Mxfp4Weight random_weight(Rng& rng, int64_t N, int64_t K) {
    ref::Mxfp4Weight w;
    w.packed = Tensor::empty(DType::U8, {N, K / 2});
    w.scales = Tensor::empty(DType::U8, {N, K / 32});
    uint8_t* p = w.packed.data<uint8_t>();
    for (int64_t i = 0; i < N * K / 2; ++i) p[i] = static_cast<uint8_t>(rng.next_u32());
    uint8_t* s = w.scales.data<uint8_t>();
    for (int64_t i = 0; i < N * K / 32; ++i) s[i] = static_cast<uint8_t>(110 + rng.below(20));
    return w;
}

Tensor random_activations(Rng& rng, int64_t M, int64_t K, DType dt) {
    Tensor x = Tensor::empty(dt, {M, K});
    for (int64_t i = 0; i < M * K; ++i) {
        float v = rng.normal();
        if (dt == DType::BF16) x.data<bf16_t>()[i].bits = bf16_from_float(v);
        else x.data<fp16_t>()[i].bits = fp16_from_float(v);
    }
    return x;
}

struct Layer {
    int64_t N, K;
    cuda::Mxfp4KernelWeight w;  // repacked for the kernels
    Tensor dense;               // [N, K] 16-bit dequantized weight for cuBLAS
};

Layer make_layer(Rng& rng, int64_t N, int64_t K, DType dt) {
    ref::Mxfp4Weight w = random_weight(rng, N, K);
    Layer l{N, K, cuda::mxfp4_repack(cuda::to_device(w.packed), cuda::to_device(w.scales), dt),
            cuda::to_device(ref::mxfp4_dequantize(w, dt))};
    return l;
}

// The floor for streaming the packed weight's bytes (codes + scales) in this harness, as a
// note: a device-to-device copy of them and a kernel that only reads them.
std::string copy_floor_note(const Layer& l) {
    const int64_t bytes = l.w.words.nbytes() + l.w.scale_words.nbytes();
    Tensor src = cuda::device_empty(DType::U8, {bytes});
    Tensor dst = cuda::device_empty(DType::U8, {bytes});
    const double copy_ms = cuda::time_median_ms([&] { device_copy(dst, src); });
    const double read_ms = cuda::time_median_ms([&] { cuda::read_all(src); });
    const double read4_ms = cuda::time_median_ms([&] { cuda::read_all(src, 4); });
    char buf[224];
    std::snprintf(buf, sizeof buf,
                  "weight bytes: copy %.1f us (%.0f GB/s read+written), read-only kernel %.1f us (%.0f GB/s), "
                  "4 loads in flight %.1f us (%.0f GB/s)",
                  copy_ms * 1e3, 2.0 * bytes / (copy_ms * 1e-3) / 1e9, read_ms * 1e3, bytes / (read_ms * 1e-3) / 1e9,
                  read4_ms * 1e3, bytes / (read4_ms * 1e-3) / 1e9);
    return buf;
}

BenchCase time_case(Rng& rng, const Layer& l, int64_t M, DType dt, int version, const std::string& note = "") {
    Tensor x = cuda::to_device(random_activations(rng, M, l.K, dt));
    Tensor out = cuda::device_empty(dt, {M, l.N});
    Tensor peer_out = cuda::device_empty(dt, {M, l.N});
    BenchCase c;
    const int used = version ? version : cuda::mxfp4_gemm_best_version(M, l.w);
    c.op = version ? cat("mxfp4_gemm_v", version) : cat("mxfp4_gemm (v", used, ")");
    c.shape = mnk(M, l.N, l.K);
    c.dtype = dtype_name(dt);
    auto ours = [&] { cuda::mxfp4_gemm_out(out, x, l.w, Tensor(), version); };
    auto peer = [&] { cublas_gemm(x, l.dense, peer_out); };
    c.ms = cuda::time_median_ms(ours);
    c.flops = 2.0 * M * l.N * l.K;
    c.bytes = l.N * l.K * 4.25 / 8 + 2.0 * M * l.K + 2.0 * M * l.N;
    c.peer = cat("cublas_", dtype_name(dt));
    c.peer_ms = cuda::time_median_ms(peer);
    c.note = note;
    bench_emit(c);
    return c;
}

// "13.1 us (2381 GB/s)": a time in ms as microseconds to 0.1, and `bytes` read in it.
std::string us_and_gbps(double ms, int64_t bytes) {
    return cat(static_cast<int>(ms * 1e4 + 0.5) / 10.0, " us (", static_cast<int>(bytes / (ms * 1e-3) / 1e9 + 0.5),
               " GB/s)");
}

// One decode layer timed the way a model's decode step runs it (cuda::time_steady_ms): the
// kernel launched back to back over its own copies of the weight (cold in L2 each time),
// cuBLAS the same way on copies of the dense weight, and the read-only kernel over copies
// of the packed bytes in the note. Version 0 only. Appends that row and the same calls
// timed again with overlapped launches (the read-only kernel too, in that row's note).
void steady_cases(Rng& rng, const Layer& l, int64_t M, DType dt, std::vector<BenchCase>& cases) {
    Tensor x = cuda::to_device(random_activations(rng, M, l.K, dt));
    Tensor out = cuda::device_empty(dt, {M, l.N});
    const int64_t packed = l.w.words.nbytes() + l.w.scale_words.nbytes();
    std::vector<cuda::Mxfp4KernelWeight> ws(steady_copies(packed), l.w);
    for (auto& w : ws) w.words = device_clone(l.w.words), w.scale_words = device_clone(l.w.scale_words);
    std::vector<Tensor> dense(steady_copies(l.dense.nbytes()));
    for (auto& d : dense) d = device_clone(l.dense);
    std::vector<Tensor> raw(steady_copies(packed));
    for (auto& r : raw) r = cuda::device_empty(DType::U8, {packed / 16 * 16});
    std::vector<std::function<void()>> ours, peer, read;
    for (const auto& w : ws) ours.push_back([&out, &x, pw = &w] { cuda::mxfp4_gemm_out(out, x, *pw, Tensor(), 0); });
    for (const auto& d : dense) peer.push_back([&out, &x, pd = &d] { cublas_gemm(x, *pd, out); });
    for (const auto& r : raw) read.push_back([pr = &r] { cuda::read_all(*pr); });
    const int calls = 60;
    BenchCase c;
    c.op = cat("mxfp4_gemm (v", cuda::mxfp4_gemm_best_version(M, l.w), ") steady");
    c.shape = mnk(M, l.N, l.K);
    c.dtype = dtype_name(dt);
    c.ms = cuda::time_steady_ms(ours, calls);
    c.flops = 2.0 * M * l.N * l.K;
    c.bytes = l.N * l.K * 4.25 / 8 + 2.0 * M * l.K + 2.0 * M * l.N;
    c.peer = cat("cublas_", dtype_name(dt), " steady");
    c.peer_ms = cuda::time_steady_ms(peer, calls);
    const double read_ms = cuda::time_steady_ms(read, calls);
    c.note = cat(ws.size(), "/", dense.size(), " weight copies; read-only kernel over the packed bytes ",
                 us_and_gbps(read_ms, packed));
    bench_emit(c);
    cases.push_back(c);
    // The same calls again with overlapped launches (v5 streams its weight while the call
    // ahead drains; cuda/launch.cuh).
    cases.push_back(overlapped_row(c, cuda::time_steady_overlapped_ms(ours, calls)));
    // The floor in the same mode: the read-only kernel, overlapped too (any decode kernel
    // that reads the packed weight once takes at least about this long).
    cases.back().note += cat("; read-only kernel overlapped ", us_and_gbps(cuda::time_steady_overlapped_ms(read, calls), packed));
    bench_emit(cases.back());
}

// Whether CTK_BENCH_MXFP4_RUNGS (a list such as "2,5,7") names rung v; unset: every rung.
bool rung_on(int v) {
    const char* env = std::getenv("CTK_BENCH_MXFP4_RUNGS");
    if (!env || !*env) return true;
    return cat(",", env, ",").find(cat(",", v, ",")) != std::string::npos;
}

}  // namespace

void bench_mxfp4(const Args& args, std::vector<BenchCase>& out) {
    Rng rng(42);
    const int64_t Ms[] = {1, 16, 64, 256, 4096};
    struct NK { int64_t N, K; };
    const NK shapes[] = {{4096, 4096}, {14336, 4096}, {4096, 14336}, {8192, 8192}};
    if (args.size() == 1 && args[0] == "decode") {
        for (NK s : shapes) {
            Layer l = make_layer(rng, s.N, s.K, DType::BF16);
            // The floor of this harness for streaming the weight: a device copy of as many
            // bytes as the packed weight and its scales (read + written: 2x the bytes that
            // decode reads) and a kernel that only reads them (the L2 flush's), timed the
            // same way. In the note of every row of the shape.
            const std::string floor = copy_floor_note(l);
            for (int64_t M : {1, 2, 4, 8, 16})
                for (int v : {2, 5, 7})
                    if (rung_on(v)) out.push_back(time_case(rng, l, M, DType::BF16, v, floor));
            // v7's ring depth (bytes in flight per SM) at M = 1: 4 and 8 of its 12 slots.
            if (rung_on(7))
                for (int slots : {4, 8}) {
                    cuda::mxfp4_gemm_v7_ring_slots(slots);
                    out.push_back(time_case(rng, l, 1, DType::BF16, 7, cat("ring slots ", slots, " of 12")));
                }
            cuda::mxfp4_gemm_v7_ring_slots(0);
        }
        Layer lh = make_layer(rng, 14336, 4096, DType::F16);
        for (int64_t M : {1, 16})
            for (int v : {2, 5, 7})
                if (rung_on(v)) out.push_back(time_case(rng, lh, M, DType::F16, v));
        return;
    }
    if (args.size() >= 2 && args[0] == "decode" && args[1] == "v5") {
        std::vector<int> work_shapes;  // empty: the default (or CTK_MXFP4_V5_SHAPE)
        for (size_t i = 2; i < args.size(); ++i) {
            const int shape = std::atoi(args[i].c_str());
            CTK_CHECK(args[i] == std::to_string(shape) && shape >= 0 && shape < cuda::kMxfp4V5WorkShapes,
                      "bench mxfp4 decode v5: expected work shapes 0..", cuda::kMxfp4V5WorkShapes - 1, ", found '",
                      args[i], "'");
            work_shapes.push_back(shape);
        }
        if (work_shapes.empty()) work_shapes.push_back(-1);
        for (NK s : shapes) {
            Layer l = make_layer(rng, s.N, s.K, DType::BF16);
            for (int shape : work_shapes) {
                cuda::mxfp4_gemm_v5_work_shape(shape);
                for (int64_t M : {1, 4, 16})
                    out.push_back(time_case(rng, l, M, DType::BF16, 5, shape < 0 ? "" : cat("work shape ", shape)));
            }
            cuda::mxfp4_gemm_v5_work_shape(-1);
        }
        return;
    }
    if (args.size() == 1 && args[0] == "steady") {
        for (NK s : shapes) {
            Layer l = make_layer(rng, s.N, s.K, DType::BF16);
            for (int64_t M : {1, 4, 16}) steady_cases(rng, l, M, DType::BF16, out);
        }
        return;
    }
    if (args.size() == 1 && args[0] == "floor") {
        // time = F + bytes / R for a kernel that does nothing but read: the sizes bracket
        // the packed weights of the decode shapes (8.5 MB at 4096^2, 31.2 MB at 14336x4096).
        for (double mb : {2.0, 4.0, 8.5, 16.0, 31.2, 64.0, 128.0, 256.0}) {
            const int64_t bytes = static_cast<int64_t>(mb * 1e6) / 16 * 16;
            Tensor src = cuda::device_empty(DType::U8, {bytes});
            cuda::fill_bytes(src, 0x3C);
            BenchCase c;
            c.op = "read_all (1 load in flight)";
            c.shape = cat(bytes, "B");
            c.dtype = "u8";
            c.ms = cuda::time_median_ms([&] { cuda::read_all(src, 1); });
            c.bytes = static_cast<double>(bytes);
            c.peer = "read_all (4 in flight)";
            c.peer_ms = cuda::time_median_ms([&] { cuda::read_all(src, 4); });
            bench_emit(c);
            out.push_back(c);
        }
        return;
    }
    if (args.size() == 1 && args[0] == "prefill") {
        for (NK s : shapes) {
            Layer l = make_layer(rng, s.N, s.K, DType::BF16);
            for (int64_t M : {64, 128, 256, 1024, 4096})
                for (int v : {3, 4, 6})
                    if (rung_on(v)) out.push_back(time_case(rng, l, M, DType::BF16, v));
            if (s.N == 4096 && s.K == 14336) {
                // Split-K (off in version 0 until tested): 32 output tiles at M <= 256.
                for (int splits : {2, 4}) {
                    cuda::mxfp4_gemm_v4_force_splits(splits);
                    for (int64_t M : {64, 128, 256})
                        for (int v : {4, 6})
                            if (rung_on(v))
                                out.push_back(time_case(rng, l, M, DType::BF16, v, cat("splits=", splits)));
                }
                cuda::mxfp4_gemm_v4_force_splits(0);
            }
        }
        // f16 activations on v6 (0.64x cuBLAS at M = 4096 on the H200 against 0.87x for bf16,
        // before the epilogue's f16 conversion moved to the hardware instruction).
        if (rung_on(6)) {
            Layer lh = make_layer(rng, 14336, 4096, DType::F16);
            for (int64_t M : {256, 4096}) out.push_back(time_case(rng, lh, M, DType::F16, 6));
        }
        return;
    }
    if (!args.empty()) {
        CTK_CHECK(args.size() == 5 && args[0] == "once",
                  "bench mxfp4: expected no options, 'decode', 'decode v5 [shapes]', 'prefill', 'steady', 'floor' or 'once M N K V', found '",
                  args[0], "' and ", args.size() - 1, " more");
        const int64_t M = std::stoll(args[1]), N = std::stoll(args[2]), K = std::stoll(args[3]);
        const int version = std::stoi(args[4]);
        Layer l = make_layer(rng, N, K, DType::BF16);
        Tensor x = cuda::to_device(random_activations(rng, M, K, DType::BF16));
        Tensor o = cuda::device_empty(DType::BF16, {M, N});
        for (int i = 0; i < 3; ++i) cuda::mxfp4_gemm_out(o, x, l.w, Tensor(), version);
        cuda::synchronize();
        std::printf("ran mxfp4_gemm v%d %s three times\n", version ? version : cuda::mxfp4_gemm_best_version(M, l.w),
                    mnk(M, N, K).c_str());
        return;
    }
    for (NK s : shapes) {
        Layer l = make_layer(rng, s.N, s.K, DType::BF16);
        for (int64_t M : Ms) out.push_back(time_case(rng, l, M, DType::BF16, 0));
        // v3 beside version 0 (v6 above 16 rows) on every shape, and the v2 / v6
        // crossover just above 16 rows.
        for (int64_t M : {64, 256, 4096}) out.push_back(time_case(rng, l, M, DType::BF16, 3));
        for (int64_t M : {17, 32}) {
            out.push_back(time_case(rng, l, M, DType::BF16, 2));
            out.push_back(time_case(rng, l, M, DType::BF16, 6));
        }
        if (s.N == 14336 && s.K == 4096) {
            // The ladder: each rung alone (v1 only where it finishes quickly).
            for (int64_t M : {1, 16}) out.push_back(time_case(rng, l, M, DType::BF16, 1));
            for (int64_t M : {1, 16, 17, 64}) out.push_back(time_case(rng, l, M, DType::BF16, 2));
            for (int64_t M : {1, 4, 8, 16}) out.push_back(time_case(rng, l, M, DType::BF16, 5));
            for (int64_t M : {16, 32}) out.push_back(time_case(rng, l, M, DType::BF16, 3));
            for (int64_t M : {17, 128, 1024})
                for (int v : {4, 6}) out.push_back(time_case(rng, l, M, DType::BF16, v));
        }
    }
    Layer lh = make_layer(rng, 14336, 4096, DType::F16);
    for (int64_t M : {1, 16, 256, 4096}) out.push_back(time_case(rng, lh, M, DType::F16, 0));
    out.push_back(time_case(rng, lh, 4096, DType::F16, 3));
}

#endif

}  // namespace ctk::cli
