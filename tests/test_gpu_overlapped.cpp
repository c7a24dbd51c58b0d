// GPU tests of overlapped launches (cuda::set_overlapped_launch, cuda/launch.cuh): the
// decode kernels (MXFP4 v5, 2:4 v3) may start while the kernel ahead of them on the stream
// drains, stream their weight early, and must wait for that kernel before they read x (or
// its scales) or write anything.
//
// The check is a chain, as in a model's decode step: call i + 1 reads as x what call i
// wrote (square layers, N = K), all calls queued without a host sync. Every output buffer
// is poisoned (0xFF bytes: NaN in f16 / bf16) before the chain, so a call that read its x
// before the previous call had written it would carry NaN (or stale values) forward. The
// chain run with overlapped launches must equal, bit for bit, the same chain run with
// plain launches (same plans, deterministic kernels), and hold no NaN. The plain path is
// checked against the CPU reference by the other gpu tests.
#if CTK_HAVE_CUDA
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "ops.h"
#include "ref/sparse24.h"
#include "ref/sparse24_layout.h"
#include "sparse24_gemm_sm90.cuh"
#include "test_mxfp4_util.h"
#include "test_util.h"

using namespace ctk;
using ctk::test::elem;
using ctk::test::set_elem;

namespace {

constexpr int kChain = 6;  // calls per chain

// Runs `step(i, in, out)` for i = 0 .. kChain-1 over buffers[i] -> buffers[i + 1] (all
// poisoned but buffers[0]) with overlapped launches on or off, then returns every output.
std::vector<Tensor> run_chain(std::vector<Tensor>& buffers, bool overlapped,
                              const std::function<void(int, const Tensor&, Tensor&)>& step) {
    for (size_t i = 1; i < buffers.size(); ++i) cuda::fill_bytes(buffers[i], 0xFF);
    cuda::synchronize();  // weights, x and the poison are written before any overlapped call
    {
        cuda::OverlappedLaunchScope scope(overlapped);
        for (int i = 0; i < kChain; ++i) step(i, buffers[i], buffers[i + 1]);
        cuda::synchronize();
    }
    std::vector<Tensor> outs;
    for (int i = 1; i <= kChain; ++i) outs.push_back(cuda::to_host(buffers[i]));
    return outs;
}

// The overlapped chain equals the plain one bit for bit, and no output holds a NaN.
void check_chains(const std::vector<Tensor>& plain, const std::vector<Tensor>& overlapped, const std::string& what) {
    for (int i = 0; i < kChain; ++i) {
        const auto d = ctk::test::compare_bits(plain[i], overlapped[i], cat(what, " call ", i + 1));
        CHECK_MESSAGE(d.ok(), d.report);
        int64_t nans = 0;
        for (int64_t j = 0; j < overlapped[i].numel(); ++j) nans += std::isnan(elem(overlapped[i], j)) ? 1 : 0;
        CHECK_MESSAGE(nans == 0, what, " call ", i + 1, ": ", nans, " NaN outputs (x read before it was written?)");
    }
}

Tensor random_16bit(Rng& rng, DType dt, const Shape& s) {
    Tensor t = Tensor::empty(dt, s);
    for (int64_t i = 0; i < t.numel(); ++i) set_elem(t, i, rng.normal());
    return t;
}

// Random 2:4 weight [N, K] of normal values (two kept slots per group of four).
Tensor random_w24(Rng& rng, DType dt, int64_t N, int64_t K) {
    static const int kPairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    Tensor w = Tensor::zeros(dt, {N, K});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t g = 0; g < K / 4; ++g) {
            const int* pr = kPairs[rng.below(6)];
            for (int i = 0; i < 2; ++i) {
                // i8: +-1 .. +-5 (rms 3.3); else normal
                const float v = dt == DType::I8 ? (1.0f + rng.below(5)) * (rng.below(2) ? 1.0f : -1.0f) : rng.normal();
                set_elem(w, n * K + 4 * g + pr[i], v == 0.0f ? 0.5f : v);
            }
        }
    return w;
}

}  // namespace

TEST_SUITE("gpu") {

TEST_CASE("overlapped launch: MXFP4 v5 chains (x = the previous call's output) equal the plain chains bit for bit") {
    // N = K = 1056: 66 tiles, a padded last chunk (K % 64 == 32). Scale codes 119..121 keep
    // |out| near |x| (sum of K products of e2m1 * 2^-7 .. 2^-6), so a chain neither
    // overflows nor underflows.
    const int64_t NK = 1056;
    for (DType dt : {DType::BF16, DType::F16})
        for (int64_t M : {1, 7, 16}) {
            Rng rng(9100 + M + (dt == DType::F16 ? 50 : 0));
            const ref::Mxfp4Weight w = ctk::test::random_mxfp4_weight(rng, NK, NK, 119, 121);
            const cuda::Mxfp4KernelWeight wd = cuda::mxfp4_repack(cuda::to_device(w.packed), cuda::to_device(w.scales), dt);
            const Tensor bias = cuda::to_device(random_16bit(rng, dt, {NK}));
            const std::string what = cat("mxfp4 v", cuda::mxfp4_gemm_best_version(M, wd), " ", dtype_name(dt), " M=", M,
                                         " N=K=", NK);
            INFO(what);
            CHECK(cuda::mxfp4_gemm_best_version(M, wd) == 5);
            std::vector<Tensor> buffers;
            buffers.push_back(cuda::to_device(random_16bit(rng, dt, {M, NK})));
            for (int i = 0; i < kChain; ++i) buffers.push_back(cuda::device_empty(dt, {M, NK}));
            auto step = [&](int i, const Tensor& in, Tensor& out) {
                cuda::mxfp4_gemm_out(out, in, wd, i % 2 ? bias : Tensor(), 0);
            };
            const auto plain = run_chain(buffers, false, step);
            const auto overlapped = run_chain(buffers, true, step);
            check_chains(plain, overlapped, what);
        }
}

TEST_CASE("overlapped launch: 2:4 v3 chains (f16 and bf16; fp8 and i8 through dynamic per-token quantization)") {
    if (!cuda::sparse24_v3_available()) return;  // the v3 tests already check the refusal
    // Shapes: decode M = 1 with split-K (N = K = 4096: 32 weight tiles; at K = 2048 the
    // 8-bit plans keep one split), M = 5 (bn = 8),
    // M = 300 (bn = 256 tiles paired in clusters of two: the multicast x path).
    struct S {
        int64_t M, NK;
    };
    for (DType dt : {DType::F16, DType::BF16, DType::F8E4M3, DType::I8})
        for (S s : {S{1, 4096}, S{5, 1024}, S{300, 1024}}) {
            Rng rng(9300 + s.M + 10 * static_cast<int>(dt));
            const DType act = dt == DType::F16 ? DType::F16 : DType::BF16;  // what the chain carries
            const Tensor w = random_w24(rng, dt, s.NK, s.NK);
            const ref::Sparse24 sp = ref::compress_24(w);
            const Tensor values = cuda::to_device(ref::pad_values_for_kernel(sp.values, s.NK, s.NK));
            const Tensor meta = cuda::to_device(ref::reorder_meta_for_kernel(sp.codes, dt));
            // ws ~ 1 / (rms(w) sqrt(K / 2)) keeps |out| near |x| along the chain (8-bit: the
            // quantized x is ~ x / x_scale, which the x scale undoes).
            const double w_rms = dt == DType::I8 ? 3.3 : 1.0;
            Tensor ws_h = Tensor::empty(DType::F32, {1});
            ws_h.data<float>()[0] = static_cast<float>(1.0 / (w_rms * std::sqrt(s.NK / 2.0)));
            const Tensor ws = cuda::to_device(ws_h);
            const cuda::Sparse24V3Plan plan = cuda::sparse24_gemm_v3_plan(s.M, s.NK, s.NK, dt);
            const std::string what = cat("sparse24 v3 ", dtype_name(dt), " M=", s.M, " N=K=", s.NK, " bn=", plan.bn,
                                         " splits=", plan.splits, " cluster=", plan.cluster);
            INFO(what);
            if (s.M == 1) CHECK(plan.splits > 1);
            if (s.M == 300) CHECK(plan.cluster == 2);
            std::vector<Tensor> buffers;
            buffers.push_back(cuda::to_device(random_16bit(rng, act, {s.M, s.NK})));
            for (int i = 0; i < kChain; ++i) buffers.push_back(cuda::device_empty(act, {s.M, s.NK}));
            int split_reduce = 0;  // the plan's
            auto step = [&](int, const Tensor& in, Tensor& out) {
                cuda::Sparse24V3Options opt;
                opt.split_reduce = split_reduce;
                if (dt == DType::F16 || dt == DType::BF16) {
                    cuda::sparse24_gemm_v3_into(out, in, values, meta, s.NK, s.NK, Tensor(), ws, Tensor(), opt);
                } else {
                    // A plain launch (the quantizer) between two overlapped ones: v3 must
                    // also wait for it before reading x and the x scales it writes.
                    const cuda::QuantResult q = dt == DType::I8 ? cuda::quant_int8_dynamic_per_token(in)
                                                                : cuda::quant_fp8_dynamic_per_token(in);
                    cuda::sparse24_gemm_v3_into(out, q.q, values, meta, s.NK, s.NK, q.scale, ws, Tensor(), opt);
                }
            };
            const auto plain = run_chain(buffers, false, step);
            const auto overlapped = run_chain(buffers, true, step);
            check_chains(plain, overlapped, what);
            if (s.M == 1) {
                // Both global split-K reductions overlapped (the last split adds all partials,
                // or every split waits for the others and adds a share), against the plain
                // chain of the default plan: the same sums, so the same bits.
                for (int reduce : {1, 3}) {
                    split_reduce = reduce;
                    check_chains(plain, run_chain(buffers, true, step), cat(what, " split_reduce=", reduce));
                }
                split_reduce = 0;
            }
        }
}

}  // TEST_SUITE

#endif  // CTK_HAVE_CUDA
