// GPU tests of the Hopper 2:4 GEMM, rung v3 (cuda/sparse24_gemm_sm90.cu), against the CPU
// reference ref::scaled_sparse_gemm (the oracle), for f16, bf16, f8e4m3 and i8.
//
// Two kinds of data:
//  * "exact" data: small integers (i8 over its whole range). Every product
//    and every partial sum is an integer below 2^14 (|w| <= 3, |x| <= 1, K <= 4096), so any summation order and the
//    reduced-precision fp8 accumulation of the tensor cores give the exact sum, and the
//    epilogue runs the same fp32 operations as the reference: outputs must match BIT FOR
//    BIT. This is the main check of the layouts (values, metadata, swizzles, fragments).
//  * random normal data (f16/bf16/fp8): only the fp32 summation order (and, for fp8,
//    the tensor cores' accumulation precision) differs from the reference; the allowed
//    error is derived per element from S = sum_k |x w| (see v3_tolerance).
// Outputs are poisoned (0xFF bytes = NaN) before every launch so unwritten elements fail.
#if CTK_HAVE_CUDA
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ops.h"
#include "ref/gemm.h"
#include "ref/sparse24.h"
#include "ref/sparse24_layout.h"
#include "sparse24_gemm_sm90.cuh"
#include "test_util.h"

using namespace ctk;
using ctk::test::out_ulp;
using ctk::test::elem;
using ctk::test::set_elem;

namespace {

const DType kV3Dtypes[] = {DType::F16, DType::BF16, DType::F8E4M3, DType::I8};

// fp32 accumulation, any order: each of the K additions may round (the tensor cores
// truncate rather than round to nearest: up to 1 ulp = 2^-23 relative), on both sides.
constexpr double kF32AccRelPerTerm = 2.0 * 0x1p-23;
// fp8 wgmma keeps about 14 significant bits when adding into its accumulator (DeepSeek-V3
// technical report, 3.3.2, on H800); count one such add per 16 K, each losing up to
// 2^-13 of the running magnitude <= S.
constexpr double kFp8AccRelPer16K = 0x1p-13;

struct V3Case {
    DType dt = DType::F16;
    int64_t M = 1, N = 128, K = 64;
    DType out = DType::F16;
    bool bias = false;
    bool vec_scales = false;
    bool exact_data = true;
    bool uniform_codes = false;  // every group keeps positions 0, 1 (metadata-independent probe)
    cuda::Sparse24V3Options opt{};
    uint64_t seed = 1;
};

std::string describe(const V3Case& c) {
    return cat("sparse24_gemm_v3 ", dtype_name(c.dt), " M=", c.M, " N=", c.N, " K=", c.K, " out=", dtype_name(c.out),
               c.bias ? " bias" : "", c.vec_scales ? " vector-scales" : " scalar-scales",
               c.exact_data ? " exact-data" : " random-data", " bn=", c.opt.bn, " splits=", c.opt.splits,
               " max_ctas=", c.opt.max_ctas, " cluster=", c.opt.cluster, " split_reduce=", c.opt.split_reduce,
               " tiled_weight=", c.opt.tiled_weight,
               " seed=", c.seed);
}

// A value for w (is_w) or x: i8 over its range; exact data: w in -3..3, x in -1..1, so
// |partial sums| <= 3 K < 2^14 for K <= 4096; random data: normal.
float draw(DType dt, bool exact, Rng& rng, bool is_w) {
    if (dt == DType::I8) {
        float v = static_cast<float>(static_cast<int>(rng.below(255)) - 127);
        return (is_w && v == 0.0f) ? 1.0f : v;
    }
    if (exact) {
        const int amp = is_w ? 3 : 1;
        int v = static_cast<int>(rng.below(2 * amp + 1)) - amp;
        if (is_w && v == 0) v = 2;  // kept weight slots are mostly nonzero
        return static_cast<float>(v);
    }
    float v = rng.normal();
    return (is_w && v == 0.0f) ? 0.5f : v;
}

// Random 2:4 weight [N, K]: every group keeps 2 random positions (any of the 6 codes),
// and about 1 group in 16 keeps fewer (zeros are legal kept values).
Tensor random_w24(const V3Case& c, Rng& rng) {
    Tensor w = Tensor::zeros(c.dt, {c.N, c.K});
    static const int kPairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    for (int64_t n = 0; n < c.N; ++n)
        for (int64_t g = 0; g < c.K / 4; ++g) {
            const int* pr = c.uniform_codes ? kPairs[0] : kPairs[rng.below(6)];
            const bool sparse_group = rng.below(16) == 0;
            for (int i = 0; i < 2; ++i) {
                float v = draw(c.dt, c.exact_data, rng, true);
                if (sparse_group && i == 1) v = 0.0f;
                set_elem(w, n * c.K + 4 * g + pr[i], v);
            }
        }
    return w;
}

Tensor random_x(const V3Case& c, Rng& rng) {
    Tensor x = Tensor::empty(c.dt, {c.M, c.K});
    for (int64_t i = 0; i < x.numel(); ++i) set_elem(x, i, draw(c.dt, c.exact_data, rng, false));
    return x;
}

Tensor random_scale(int64_t n, Rng& rng) {
    Tensor s = Tensor::empty(DType::F32, {n});
    for (int64_t i = 0; i < n; ++i) s.data<float>()[i] = rng.uniform(0.25f, 1.0f);
    return s;
}

struct V3Result {
    Tensor got, ref;
};

// Builds the case, runs v3 and the reference; checks every element (bits for exact data,
// the derived bound otherwise). Returns the tensors for further checks.
V3Result run_case(const V3Case& c) {
    INFO(describe(c));
    Rng rng(c.seed);
    const Tensor w = random_w24(c, rng);
    const Tensor x = random_x(c, rng);
    const Tensor xs = c.vec_scales ? random_scale(c.M, rng) : random_scale(1, rng);
    const Tensor ws = c.vec_scales ? random_scale(c.N, rng) : random_scale(1, rng);
    Tensor bias;
    if (c.bias) {
        bias = Tensor::empty(c.out, {c.N});
        for (int64_t n = 0; n < c.N; ++n) set_elem(bias, n, c.exact_data ? float(int(rng.below(9)) - 4) : rng.normal());
    }
    const ref::Sparse24 sp = ref::compress_24(w);
    const Tensor ref_out = ref::scaled_sparse_gemm(x, sp, xs, ws, bias, c.out);

    const Tensor values_h = ref::pad_values_for_kernel(sp.values, c.N, c.K);
    const Tensor meta_h = ref::reorder_meta_for_kernel(sp.codes, c.dt);
    Tensor values = cuda::to_device(values_h), meta = cuda::to_device(meta_h);
    if (c.opt.tiled_weight) {
        // The GPU repack into the tiled layout, checked against its CPU twin bit for bit;
        // the GEMM then reads the tiled arrays.
        Tensor values_t, meta_t;
        cuda::sparse24_v3_tile_weight(values, meta, values_t, meta_t);
        const auto dv = ctk::test::compare_bits(ref::tile_values_for_v3(values_h), cuda::to_host(values_t),
                                                cat(describe(c), ": tiled values"));
        CHECK_MESSAGE(dv.ok(), dv.report);
        const auto dm = ctk::test::compare_bits(ref::tile_meta_for_v3(meta_h, c.dt), cuda::to_host(meta_t),
                                                cat(describe(c), ": tiled meta"));
        CHECK_MESSAGE(dm.ok(), dm.report);
        values = values_t, meta = meta_t;
    }
    const Tensor x_d = cuda::to_device(x), xs_d = cuda::to_device(xs), ws_d = cuda::to_device(ws);
    const Tensor bias_d = c.bias ? cuda::to_device(bias) : Tensor();
    Tensor out_d = cuda::device_empty(c.out, {c.M, c.N});
    cuda::fill_bytes(out_d, 0xFF);
    cuda::sparse24_gemm_v3_into(out_d, x_d, values, meta, c.N, c.K, xs_d, ws_d, bias_d, c.opt);
    const Tensor got = cuda::to_host(out_d);

    if (c.exact_data) {
        const auto d = ctk::test::compare_bits(ref_out, got, describe(c));
        CHECK_MESSAGE(d.ok(), d.report);
        return {got, ref_out};
    }
    // Tolerance: S[m, n] = sum_k |x w| through the same reference (|x|, |w|, no bias, the
    // same scales), so tol = ws * xs * S * rel + 1 ulp of the output (and 1 ulp of S's
    // own rounding to the output format, covered by the 2x below).
    Tensor ax = x.clone(), aw = w.clone();
    for (int64_t i = 0; i < ax.numel(); ++i) set_elem(ax, i, static_cast<float>(std::fabs(elem(x, i))));
    for (int64_t i = 0; i < aw.numel(); ++i) set_elem(aw, i, static_cast<float>(std::fabs(elem(w, i))));
    const Tensor s_out = ref::scaled_gemm(ax, aw, xs, ws, Tensor(), DType::F16 == c.out ? DType::F16 : DType::BF16);
    const double rel = c.dt == DType::F8E4M3 ? kFp8AccRelPer16K * (static_cast<double>(c.K) / 16 + 1)
                                             : kF32AccRelPerTerm * static_cast<double>(c.K);
    int64_t bad = 0;
    double max_err = 0;
    std::string first;
    for (int64_t i = 0; i < ref_out.numel(); ++i) {
        const double r = elem(ref_out, i), g = elem(got, i), s = elem(s_out, i);
        const double tol = 2.0 * rel * s + out_ulp(c.out, r);
        const double err = std::fabs(g - r);
        if (!(err <= tol)) {
            if (++bad <= 5) first += cat("\n  at (", i / c.N, ", ", i % c.N, "): ref ", r, ", got ", g, ", tol ", tol);
        }
        if (!std::isnan(err)) max_err = std::max(max_err, err);
    }
    CHECK_MESSAGE(bad == 0, describe(c), ": ", bad, " elements outside the bound, max abs err ", max_err, first);
    return {got, ref_out};
}

bool v3_runs_here() { return cuda::sparse24_v3_available(); }

// On a device or build without the sm_90a kernels the launcher must refuse clearly.
void expect_refusal() {
    Tensor x = cuda::device_zeros(DType::F16, {1, 64});
    Tensor v = cuda::device_zeros(DType::F16, {128, 64});
    Tensor m = cuda::device_zeros(DType::I32, {8, 2, 32});
    CHECK_THROWS_AS(cuda::sparse24_gemm_v3(x, v, m, 128, 64, Tensor(), Tensor(), Tensor(), DType::F16), Error);
}

}  // namespace

TEST_SUITE("gpu") {

TEST_CASE("sparse24 v3: one tile, uniform metadata then random metadata (layout probe)") {
    // If the uniform case passes and the random one fails, the metadata path is wrong;
    // if both fail, the operand layouts (swizzle, descriptors, fragments) are.
    if (!v3_runs_here()) return expect_refusal();
    for (DType dt : kV3Dtypes)
        for (bool uniform : {true, false}) {
            V3Case c;
            c.dt = dt, c.M = 16, c.N = 128, c.K = 128, c.uniform_codes = uniform, c.seed = 50;
            run_case(c);
        }
}

TEST_CASE("sparse24 v3: exact data, every dtype, awkward M, N off the tile, K past a stage") {
    if (!v3_runs_here()) return expect_refusal();
    const int64_t Ms[] = {1, 2, 7, 17, 33, 100, 257};
    uint64_t seed = 100;
    for (DType dt : kV3Dtypes) {
        int i = 0;
        for (int64_t M : Ms) {
            V3Case c;
            c.dt = dt;
            c.M = M;
            c.N = 200;
            c.K = 272;  // 16-bit: 4 stages of 64 + 16; 8-bit: 2 stages of 128 + 16
            c.out = (i % 2) ? DType::BF16 : DType::F16;
            c.bias = (i % 3) != 0;
            c.vec_scales = (i % 2) == 0;
            c.seed = ++seed;
            run_case(c);
            ++i;
        }
    }
}

TEST_CASE("sparse24 v3: minimal shapes (N = 16, 17; K = 32, 64)") {
    if (!v3_runs_here()) return expect_refusal();
    uint64_t seed = 200;
    for (DType dt : kV3Dtypes)
        for (int64_t N : {16, 17})
            for (int64_t K : {32, 64})
                for (int64_t M : {1, 7}) {
                    V3Case c;
                    c.dt = dt, c.M = M, c.N = N, c.K = K, c.bias = true, c.vec_scales = (K == 64);
                    c.out = (N == 17) ? DType::BF16 : DType::F16;
                    c.seed = ++seed;
                    run_case(c);
                }
}

TEST_CASE("sparse24 v3: random data within the derived fp32 / fp8 accumulation bound") {
    if (!v3_runs_here()) return expect_refusal();
    uint64_t seed = 300;
    for (DType dt : {DType::F16, DType::BF16, DType::F8E4M3})
        for (int64_t M : {33, 300}) {
            V3Case c;
            c.dt = dt, c.M = M, c.N = 384, c.K = dt == DType::F8E4M3 ? 512 : 1024;
            c.out = dt == DType::F16 ? DType::F16 : DType::BF16;
            c.bias = true, c.vec_scales = true, c.exact_data = false, c.seed = ++seed;
            run_case(c);
        }
}

TEST_CASE("sparse24 v3: every token tile, split-K and a persistent grid smaller than the work") {
    if (!v3_runs_here()) return expect_refusal();
    uint64_t seed = 400;
    for (DType dt : kV3Dtypes)
        for (int bn : {8, 16, 32, 64, 128, 256}) {
            V3Case c;
            c.dt = dt, c.M = 100, c.N = 384, c.K = 1024;  // 16 (16-bit) or 8 (8-bit) K blocks
            c.out = (bn % 3) ? DType::BF16 : DType::F16;
            c.bias = true, c.vec_scales = true, c.seed = ++seed;
            // 3 weight tiles x ceil(100 / bn) token tiles x 3 splits on 5 CTAs: each CTA
            // runs several units, the stage ring wraps many times, splits meet out of order.
            c.opt.bn = bn, c.opt.splits = 3, c.opt.max_ctas = 5, c.opt.cluster = 1;
            run_case(c);
        }
}

TEST_CASE("sparse24 v3: clusters of two CTAs sharing the activation tile (TMA multicast)") {
    if (!v3_runs_here()) return expect_refusal();
    uint64_t seed = 450;
    for (DType dt : kV3Dtypes)
        for (int bn : {64, 128, 256})
            for (int splits : {1, 3}) {
                V3Case c;
                c.dt = dt, c.M = 300, c.N = 500, c.K = 1024;  // 4 weight tiles = 2 pairs; N off the tile
                c.out = DType::BF16, c.bias = true, c.vec_scales = true, c.seed = ++seed;
                // 6 CTAs = 3 clusters for 2 pairs x ceil(300 / bn) token tiles x splits units.
                c.opt.bn = bn, c.opt.splits = splits, c.opt.max_ctas = 6, c.opt.cluster = 2;
                run_case(c);
            }
}

TEST_CASE("sparse24 v3: the default plan splits K for a decode shape and stays deterministic") {
    if (!v3_runs_here()) return expect_refusal();
    for (DType dt : kV3Dtypes) {
        V3Case c;
        c.dt = dt, c.M = 1, c.N = 2048, c.K = 4096;
        c.out = DType::BF16, c.bias = true, c.vec_scales = true, c.seed = 500 + static_cast<int>(dt);
        const cuda::Sparse24V3Plan plan = cuda::sparse24_gemm_v3_plan(c.M, c.N, c.K, c.dt);
        INFO(describe(c), " plan bn=", plan.bn, " splits=", plan.splits, " ctas=", plan.ctas);
        CHECK(plan.bn == 8);
        CHECK(plan.splits > 1);  // 16 weight tiles cannot fill the SMs alone
        const V3Result a = run_case(c);
        const V3Result b = run_case(c);  // same inputs: bit-identical (no order-dependent race)
        const auto d = ctk::test::compare_bits(a.got, b.got, describe(c) + " (second run)");
        CHECK_MESSAGE(d.ok(), d.report);
    }
}

// Decode shapes for one split-K reduction: N = 200 (a partial weight tile), K = 1040 (17
// 16-bit or 9 8-bit K blocks: unequal shares, a partial last block), M in {1, 16, 17, 33,
// 64} (token tiles 8..64, partial ones), every dtype, the split counts cycled per case,
// out dtype / bias / scale kind alternating (flip: the other phase of the alternation).
// The plan must take the reduction asked for, with one CTA per (tile, split).
void run_split_reduce_cases(int reduce, const std::vector<int>& splits, uint64_t seed, bool flip) {
    const int64_t Ms[] = {1, 16, 17, 33, 64};
    for (DType dt : kV3Dtypes) {
        int i = 0;
        for (int64_t M : Ms) {
            V3Case c;
            c.dt = dt, c.M = M, c.N = 200, c.K = 1040;
            const bool odd = ((i % 2) == 1) != flip;
            c.out = odd ? DType::BF16 : DType::F16;
            c.bias = !odd;
            c.vec_scales = (((i / 2) % 2) == 0) != flip;
            c.seed = ++seed;
            c.opt.splits = splits[(i + static_cast<int>(dt)) % splits.size()];
            c.opt.split_reduce = reduce;
            const cuda::Sparse24V3Plan plan = cuda::sparse24_gemm_v3_plan(c.M, c.N, c.K, c.dt, c.opt);
            CHECK(plan.cluster_splits == (reduce == 2));
            CHECK(plan.spread_splits == (reduce == 3));
            CHECK(plan.ctas == plan.tiles * plan.splits);
            run_case(c);
            ++i;
        }
    }
}

TEST_CASE("sparse24 v3: cluster split-K (partials added through DSMEM), every dtype, decode M") {
    // The splits of a tile are the CTAs of one cluster (split_reduce = 2): 2, 3, 4 and 8
    // splits (cluster sizes).
    if (!v3_runs_here()) return expect_refusal();
    run_split_reduce_cases(2, {2, 3, 4, 8}, 550, false);
}

TEST_CASE("sparse24 v3: spread split-K (every split adds a share of the tile), every dtype, decode M") {
    // split_reduce = 3: the splits of a tile wait for each other and each adds and stores
    // 1/S of the tile's n8 blocks: 2, 3, 4, 5 and 8 splits (8 * BN / 8 items: with 3 or 5
    // splits the shares are unequal and some warps get none), token tiles 8..64, whose
    // items run from 8 (bn = 8) to 64.
    if (!v3_runs_here()) return expect_refusal();
    run_split_reduce_cases(3, {2, 3, 4, 5, 8}, 650, true);
}

TEST_CASE("sparse24 v3: cluster, spread and global split-K add the partials in the same order (same bits)") {
    // Random data, so the fp32 sum depends on the order: all three reductions add splits
    // 0..S-1 in order and must agree bit for bit (and stay within the derived bound).
    // Each case runs twice with the spread reduction: its arrival counters must be back
    // at zero after a launch, or the second launch would not wait for its splits.
    if (!v3_runs_here()) return expect_refusal();
    uint64_t seed = 580;
    for (DType dt : kV3Dtypes)
        for (int64_t M : {5, 64}) {
            V3Case c;
            c.dt = dt, c.M = M, c.N = 256, c.K = 1024;
            c.out = DType::BF16, c.bias = true, c.vec_scales = true, c.seed = ++seed;
            c.exact_data = dt == DType::I8;  // i8 is exact whatever the order
            c.opt.splits = 4;
            c.opt.split_reduce = 1;
            const V3Result global = run_case(c);
            c.opt.split_reduce = 2;
            const V3Result cluster = run_case(c);
            const auto d = ctk::test::compare_bits(global.got, cluster.got, describe(c) + " (cluster vs global)");
            CHECK_MESSAGE(d.ok(), d.report);
            c.opt.split_reduce = 3;
            for (int rep = 0; rep < 2; ++rep) {
                const V3Result spread = run_case(c);
                const auto e = ctk::test::compare_bits(global.got, spread.got, describe(c) + " (spread vs global)");
                CHECK_MESSAGE(e.ok(), e.report);
            }
        }
}

TEST_CASE("sparse24 v3: tiled weight layout (each stage of each tile contiguous), every dtype and plan kind") {
    // tiled_weight = 1: values and metadata regrouped by sparse24_v3_tile_weight (checked
    // against the CPU twin in run_case), the producer loads one contiguous block per stage.
    // Exact data: the reference's bits. Cases: several weight tiles and K blocks with a
    // partial last block (K = 1040) as split units on a persistent grid, the spread and
    // last-split reductions, clusters of two, a partial token tile, a 4096-deep decode tile.
    if (!v3_runs_here()) return expect_refusal();
    uint64_t seed = 700;
    for (DType dt : kV3Dtypes) {
        struct Plan {
            int64_t M, N, K;
            int bn, splits, max_ctas, cluster, reduce;
        };
        for (Plan pl : {Plan{5, 384, 1040, 8, 3, 5, 1, 1}, Plan{33, 200, 1040, 64, 4, 0, 1, 3},
                        Plan{17, 256, 2048, 32, 2, 0, 1, 1}, Plan{300, 500, 1024, 128, 1, 6, 2, 0},
                        Plan{1, 1024, 4096, 8, 1, 0, 1, 0}}) {
            V3Case c;
            c.dt = dt, c.M = pl.M, c.N = pl.N, c.K = pl.K;
            c.out = DType::BF16, c.bias = true, c.vec_scales = true, c.seed = ++seed;
            c.opt.bn = pl.bn, c.opt.splits = pl.splits, c.opt.max_ctas = pl.max_ctas, c.opt.cluster = pl.cluster;
            c.opt.split_reduce = pl.reduce, c.opt.tiled_weight = 1;
            run_case(c);
        }
    }
}

TEST_CASE("sparse24 v3: a weight tiled by sparse24_tile_for_v3 runs through sparse24_gemm, v3 only") {
    // The layer's path: compress on the device, tile in place, sparse24_gemm (version 0).
    // Exact data: the reference's bits, also for an x whose base is not 16-byte aligned
    // (copied to an aligned buffer) and for version 3; versions 1 and 2 are refused.
    if (!v3_runs_here()) return expect_refusal();
    uint64_t seed = 800;
    for (DType dt : kV3Dtypes) {
        V3Case c;
        c.dt = dt, c.M = 5, c.N = 200, c.K = 1040, c.out = DType::BF16, c.bias = true, c.vec_scales = true;
        c.seed = ++seed;
        INFO(describe(c));
        Rng rng(c.seed);
        const Tensor w = random_w24(c, rng), x = random_x(c, rng);
        const Tensor xs = random_scale(c.M, rng), ws = random_scale(c.N, rng);
        Tensor bias = Tensor::empty(c.out, {c.N});
        for (int64_t n = 0; n < c.N; ++n) set_elem(bias, n, float(int(rng.below(9)) - 4));
        const Tensor ref_out = ref::scaled_sparse_gemm(x, ref::compress_24(w), xs, ws, bias, c.out);

        cuda::Sparse24KernelWeight kw = cuda::sparse24_compress(cuda::to_device(w));
        REQUIRE(cuda::sparse24_tile_for_v3(kw));
        CHECK(kw.v3_tiled);
        const Tensor xs_d = cuda::to_device(xs), ws_d = cuda::to_device(ws), bias_d = cuda::to_device(bias);
        // x at an offset of one element: a base that is not 16-byte aligned.
        Tensor x_off = Tensor::zeros(dt, {c.M * c.K + 1});
        std::memcpy(static_cast<char*>(x_off.raw()) + dtype_size(dt), x.raw(), x.nbytes());
        const Tensor x_off_d = cuda::to_device(x_off);
        Tensor x_unaligned = x_off_d;
        x_unaligned.ptr = static_cast<char*>(x_off_d.ptr) + dtype_size(dt);
        x_unaligned.shape = {c.M, c.K};
        const Tensor x_d = cuda::to_device(x);
        for (const Tensor* xin : std::vector<const Tensor*>{&x_d, &x_unaligned})
            for (int version : {0, 3}) {
                const Tensor got = cuda::to_host(cuda::sparse24_gemm(*xin, kw, xs_d, ws_d, bias_d, c.out, version));
                const auto d = ctk::test::compare_bits(ref_out, got, cat(describe(c), " tiled, version ", version,
                                                                         xin == &x_d ? "" : ", unaligned x"));
                CHECK_MESSAGE(d.ok(), d.report);
            }
        for (int version : {1, 2})
            CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x_d, kw, xs_d, ws_d, bias_d, c.out, version),
                                 doctest::Contains("tiled layout"), Error);
        CHECK_THROWS_WITH_AS(cuda::sparse24_tile_for_v3(kw), doctest::Contains("already tiled"), Error);
    }
}

TEST_CASE("sparse24 v3 sanitize: small f16 and i8 cases with split-K") {
    if (!v3_runs_here()) return expect_refusal();
    for (DType dt : {DType::F16, DType::I8})
        for (int reduce : {1, 2, 3}) {  // global partials (last split, spread), the cluster (DSMEM) one
            V3Case c;
            c.dt = dt, c.M = 7, c.N = 136, c.K = 256, c.bias = true, c.vec_scales = true, c.seed = 600;
            c.opt.splits = 2;
            c.opt.split_reduce = reduce;
            run_case(c);
        }
}

TEST_CASE("sparse24 v3: bad input is refused with the parameter named") {
    const int64_t M = 4, N = 128, K = 64;
    Tensor x = cuda::device_zeros(DType::F16, {M, K});
    Tensor values = cuda::device_zeros(DType::F16, {128, 64});
    Tensor meta = cuda::device_zeros(DType::I32, {8, 2, 32});
    Tensor none;
    auto throws_with = [&](auto fn, const std::string& needle) {
        try {
            fn();
            FAIL("expected ctk::Error mentioning '", needle, "'");
        } catch (const Error& e) {
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    throws_with([&] { cuda::sparse24_gemm_v3(x, cuda::device_zeros(DType::BF16, {128, 64}), meta, N, K, none, none, none, DType::F16); },
                "values: expected dtype f16");
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, cuda::device_zeros(DType::I32, {8, 1, 32}), N, K, none, none, none, DType::F16); },
                "meta");
    throws_with([&] { cuda::sparse24_gemm_v3(cuda::device_zeros(DType::F16, {M, 36}), cuda::device_zeros(DType::F16, {128, 64}), meta, N, 36, none, none, none, DType::F16); },
                "multiple of 16");
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, meta, N, K, none, none, cuda::device_zeros(DType::BF16, {N}), DType::F16); },
                "bias: expected dtype f16");
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, meta, N, K, cuda::device_zeros(DType::F32, {M + 1}), none, none, DType::F16); },
                "x_scale");
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, meta, N, K, none, cuda::device_zeros(DType::F32, {N + 1}), none, DType::F16); },
                "w_scale");
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, meta, N, K, none, none, none, DType::F32); }, "out_dtype");
    throws_with([&] { cuda::sparse24_gemm_v3(cuda::device_zeros(DType::F32, {M, K}), values, meta, N, K, none, none, none, DType::F16); },
                "x: expected dtype");
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, meta, N, 128, none, none, none, DType::F16); }, "x: expected K = 128");
    cuda::Sparse24V3Options pair;
    pair.cluster = 2, pair.bn = 128;
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, meta, N, K, none, none, none, DType::F16, pair); },
                "cluster = 2 needs an even number");
    cuda::Sparse24V3Options reduce;
    cuda::Sparse24V3Options tiled;
    tiled.tiled_weight = 2;
    throws_with([&] { cuda::sparse24_gemm_v3(x, values, meta, N, K, none, none, none, DType::F16, tiled); },
                "tiled_weight");
    Tensor vt, mt;
    throws_with([&] { cuda::sparse24_v3_tile_weight(values, cuda::device_zeros(DType::I32, {8, 1, 32}), vt, mt); },
                "sparse24_v3_tile_weight: meta");
    throws_with([&] { cuda::sparse24_v3_tile_weight(cuda::device_zeros(DType::F16, {100, 64}), meta, vt, mt); },
                "multiples of 128");
    reduce.split_reduce = 4;
    throws_with([&] { cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, reduce); }, "split_reduce: expected 0");
    reduce.split_reduce = 3, reduce.splits = 2, reduce.max_ctas = 1;  // spread needs one unit per CTA
    throws_with([&] { cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, reduce); }, "split_reduce = 3");
    reduce.max_ctas = 0, reduce.splits = 9;  // more splits than the spread path loads at once
    throws_with([&] { cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, reduce); }, "split_reduce = 3");
    reduce.split_reduce = 2, reduce.splits = 1;  // a cluster split-K of one split
    throws_with([&] { cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, reduce); }, "split_reduce = 2");
    reduce.splits = 4, reduce.bn = 128;  // decode tiles only
    throws_with([&] { cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, reduce); }, "bn <= 64");
}

}  // TEST_SUITE

// Host planning (runs without a device too: the plan then assumes an H100's 132 SMs).
TEST_CASE("sparse24 v3 plan: split-K decode tiles reduce through the spread path at bn = 64, the last split below") {
    const bool h100_sms = cuda::device_count() == 0 || cuda::device_sm_count() == 132;
    for (DType dt : kV3Dtypes)
        for (int64_t M : {1, 16, 33, 64}) {
            // (4096, 14336): 32 weight tiles, split K; (14336, 4096): 112 tiles, no split.
            const cuda::Sparse24V3Plan split = cuda::sparse24_gemm_v3_plan(M, 4096, 14336, dt);
            const cuda::Sparse24V3Plan whole = cuda::sparse24_gemm_v3_plan(M, 14336, 4096, dt);
            INFO(dtype_name(dt), " M=", M, " bn=", split.bn, " splits=", split.splits, " ctas=", split.ctas);
            if (h100_sms) {
                CHECK(split.splits == 4);
                CHECK(whole.splits == 1);
            }
            CHECK(split.spread_splits == (split.splits > 1 && split.bn == 64));
            CHECK_FALSE(split.cluster_splits);
            CHECK_FALSE(whole.spread_splits);
        }
}

TEST_CASE("sparse24 v3 plan: option values out of range are refused with the option named") {
    // Host planning only (runs in CI without a device).
    cuda::Sparse24V3Options o;
    o.tiled_weight = 2;
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, o), doctest::Contains("tiled_weight"),
                         Error);
    o.tiled_weight = 1;
    CHECK(cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, o).bn == 8);  // the layout changes no plan field
    o.split_reduce = -1;
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm_v3_plan(1, 256, 1024, DType::F16, o), doctest::Contains("split_reduce"),
                         Error);
}

#endif  // CTK_HAVE_CUDA
