// CPU reference for the scaled GEMM (dense and 2:4 sparse):
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] ),  acc = sum_k x[m, k] * w[n, k].
// Hand-computed cases, int8 accumulators against an independent int64 loop, a float64
// oracle within a derived bound, sparse == dense bit for bit, and every validation error.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ref/gemm.h"
#include "ref/sparse24.h"
#include "test_util.h"

using namespace ctk;
using ctk::test::compare_bits;
using ctk::test::elem;
using ctk::test::set_elem;

namespace {

const int64_t kMs[] = {1, 2, 7, 17};
const int64_t kNs[] = {1, 3, 16, 17};
const int64_t kKs[] = {4, 12, 32, 40, 136};
const DType kGemmDtypes[] = {DType::F16, DType::BF16, DType::F8E4M3, DType::I8};

Tensor make(DType t, const Shape& shape, const std::vector<float>& vals) {
    Tensor x = Tensor::empty(t, shape);
    REQUIRE(static_cast<int64_t>(vals.size()) == x.numel());
    for (int64_t i = 0; i < x.numel(); ++i) set_elem(x, i, vals[i]);
    return x;
}

// Random x [M, K] of dtype t: normal (x40 for i8 so codes spread over the range).
Tensor random_x(DType t, int64_t M, int64_t K, Rng& rng) {
    return ctk::test::random_tensor(t, {M, K}, rng, t == DType::I8 ? 40.0f : 1.0f);
}

// Random 2:4 weight [N, K] of dtype t: pruned in f32, then rounded (zeros stored as +0).
Tensor random_w24(DType t, int64_t N, int64_t K, Rng& rng) {
    Tensor f = ctk::test::random_tensor(DType::F32, {N, K}, rng, t == DType::I8 ? 40.0f : 1.0f);
    Tensor p = ref::prune_24(f);
    Tensor w = Tensor::empty(t, {N, K});
    for (int64_t i = 0; i < N * K; ++i) {
        set_elem(w, i, p.data<float>()[i]);
        if (elem(w, i) == 0) set_elem(w, i, 0.0f);
    }
    return w;
}

// f32 scale with n elements in [lo, hi), or an undefined tensor for n == 0.
Tensor random_scale(int64_t n, float lo, float hi, Rng& rng, const Shape& shape) {
    if (n == 0) return Tensor();
    Tensor s = Tensor::empty(DType::F32, shape);
    for (int64_t i = 0; i < n; ++i) s.data<float>()[i] = rng.uniform(lo, hi);
    return s;
}

}  // namespace

// x f16 [2, 4] = [[1, 2, 0, -1], [0.5, 0, 3, 1]], w f16 [3, 4] (2:4) =
//   [[1, 0, 2, 0], [0, -1, 0, 4], [2, 1, 0, 0]]
// acc[0] = [1*1, 2*-1 + -1*4, 1*2 + 2*1] = [1, -6, 4]
// acc[1] = [0.5*1 + 3*2, 0*-1 + 1*4, 0.5*2 + 0*1] = [6.5, 4, 1]
// bias = [0.25, -1, 3]
TEST_CASE("scaled_gemm: hand-computed, scalar and vector scales, bias") {
    Tensor x = make(DType::F16, {2, 4}, {1, 2, 0, -1, 0.5f, 0, 3, 1});
    Tensor w = make(DType::F16, {3, 4}, {1, 0, 2, 0, 0, -1, 0, 4, 2, 1, 0, 0});
    Tensor bias_h = make(DType::F16, {3}, {0.25f, -1, 3});
    Tensor bias_b = make(DType::BF16, {3}, {0.25f, -1, 3});
    auto check = [&](const Tensor& out, const std::vector<float>& want) {
        REQUIRE(out.shape == Shape{2, 3});
        for (int64_t i = 0; i < 6; ++i) {
            CAPTURE(i);
            CHECK(elem(out, i) == want[i]);
        }
    };
    ref::Sparse24 ws24 = ref::compress_24(w);
    // No scales, no bias: out = acc.
    check(ref::scaled_gemm(x, w, Tensor(), Tensor(), Tensor(), DType::F16), {1, -6, 4, 6.5f, 4, 1});
    // Scalars xs = 2, ws = 0.5 (so ws * xs = 1), + bias: [1.25, -7, 7], [6.75, 3, 4].
    Tensor xs = make(DType::F32, {1}, {2}), ws = make(DType::F32, {1, 1}, {0.5f});
    check(ref::scaled_gemm(x, w, xs, ws, bias_h, DType::F16), {1.25f, -7, 7, 6.75f, 3, 4});
    check(ref::scaled_sparse_gemm(x, ws24, xs, ws, bias_b, DType::BF16), {1.25f, -7, 7, 6.75f, 3, 4});
    // Vectors xs = [1, 2] ([M, 1]), ws = [1, 0.5, 4]: ws[n] * xs[m] * acc =
    //   row 0: [1*1*1, 0.5*1*-6, 4*1*4] = [1, -3, 16];  + bias -> [1.25, -4, 19]
    //   row 1: [1*2*6.5, 0.5*2*4, 4*2*1] = [13, 4, 8];   + bias -> [13.25, 3, 11]
    Tensor xv = make(DType::F32, {2, 1}, {1, 2}), wv = make(DType::F32, {3}, {1, 0.5f, 4});
    check(ref::scaled_gemm(x, w, xv, wv, Tensor(), DType::BF16), {1, -3, 16, 13, 4, 8});
    check(ref::scaled_gemm(x, w, xv, wv, bias_h, DType::F16), {1.25f, -4, 19, 13.25f, 3, 11});
    check(ref::scaled_sparse_gemm(x, ws24, xv, wv, bias_h, DType::F16), {1.25f, -4, 19, 13.25f, 3, 11});
}

TEST_CASE("scaled_gemm: the bias is added in fp32 and the result rounded once") {
    // acc = 2048*1 + 1*1 = 2049 (exact in fp32); + bias 0.5 = 2049.5, which rounds to
    // 2050 in f16 (spacing 2 above 2048). Rounding acc to f16 first would give 2048
    // (2049 ties to even), then 2048 + 0.5 = 2048.5 -> 2048: the two-rounding answer.
    Tensor x = make(DType::F16, {1, 4}, {2048, 1, 0, 0});
    Tensor w = make(DType::F16, {1, 4}, {1, 1, 0, 0});
    Tensor bias = make(DType::F16, {1}, {0.5f});
    Tensor out = ref::scaled_gemm(x, w, Tensor(), Tensor(), bias, DType::F16);
    CHECK(elem(out, 0) == 2050);
    out = ref::scaled_sparse_gemm(x, ref::compress_24(w), Tensor(), Tensor(), bias, DType::F16);
    CHECK(elem(out, 0) == 2050);
    // The scales multiply as ws * (xs * acc). acc = 2048 - 5 = 2043, xs = 5, ws = (1/3)f
    // = 0.3333333433: xs * acc = 10215 exactly, ws * 10215 = 3405 (f32), a tie between the
    // f16 neighbours 3404 and 3406, so it rounds to even: 3404. The other association,
    // (ws * xs) * acc = 1.6666667f * 2043 = 3405.00024, would round to 3406.
    Tensor x2 = make(DType::F16, {1, 4}, {2048, -5, 0, 0});
    Tensor xs = make(DType::F32, {1}, {5}), ws = make(DType::F32, {1}, {1.0f / 3.0f});
    out = ref::scaled_gemm(x2, w, xs, ws, Tensor(), DType::F16);
    CHECK(elem(out, 0) == 3404);
    out = ref::scaled_sparse_gemm(x2, ref::compress_24(w), xs, ws, Tensor(), DType::F16);
    CHECK(elem(out, 0) == 3404);
}

TEST_CASE("scaled_gemm: i8 accumulators are exact (independent int64 loop)") {
    Rng rng(8);
    for (int64_t M : kMs)
        for (int64_t N : kNs)
            for (int64_t K : kKs) {
                CAPTURE(M);
                CAPTURE(N);
                CAPTURE(K);
                Tensor x = random_x(DType::I8, M, K, rng);
                Tensor w = random_w24(DType::I8, N, K, rng);
                // x row 0 is all -128 (the extreme code): products up to -128 * -128 = 2^14.
                for (int64_t k = 0; k < K; ++k) x.data<int8_t>()[k] = -128;
                Tensor xs = random_scale(M, 0.001f, 0.01f, rng, {M, 1});
                Tensor ws = random_scale(N, 0.001f, 0.01f, rng, {N});
                Tensor out = ref::scaled_gemm(x, w, xs, ws, Tensor(), DType::BF16);
                Tensor want = Tensor::empty(DType::BF16, {M, N});
                for (int64_t m = 0; m < M; ++m)
                    for (int64_t n = 0; n < N; ++n) {
                        int64_t acc = 0;
                        for (int64_t k = 0; k < K; ++k)
                            acc += int64_t{x.data<int8_t>()[m * K + k]} * int64_t{w.data<int8_t>()[n * K + k]};
                        // |acc| <= 136 * 2^14 < 2^24, so the float conversion is exact.
                        float v = ws.data<float>()[n] * (xs.data<float>()[m] * static_cast<float>(acc));
                        want.data<bf16_t>()[m * N + n].bits = bf16_from_float(v);
                    }
                auto d = compare_bits(want, out, "scaled_gemm i8");
                CHECK_MESSAGE(d.ok(), d.report);
            }
}

// Float64 oracle: |out - exact| <= |exact| * u_out + |ws * xs| * S * K * 2^-24 * (1 + u_out),
// S = sum_k |x w|: fp32 summation of K exact products errs by at most K * 2^-24 * S
// (first-order bound, K * 2^-24 << 1), the scale products add 2 * 2^-24 relative (folded
// into the K term since K >= 4), and the final rounding adds u_out = 2^-11 (f16) or 2^-8
// (bf16) relative.
TEST_CASE("scaled_gemm: f16 / bf16 / fp8 agree with a float64 oracle within the rounding bound") {
    Rng rng(64);
    const double kFp32Unit = std::ldexp(1.0, -24);
    for (DType t : {DType::F16, DType::BF16, DType::F8E4M3})
        for (DType out_t : {DType::F16, DType::BF16})
            for (int64_t K : kKs) {
                const int64_t M = 7, N = 17;
                CAPTURE(dtype_name(t));
                CAPTURE(dtype_name(out_t));
                CAPTURE(K);
                Tensor x = random_x(t, M, K, rng), w = random_w24(t, N, K, rng);
                Tensor xs = random_scale(M, 0.5f, 2.0f, rng, {M});
                Tensor ws = random_scale(N, 0.5f, 2.0f, rng, {N, 1});
                Tensor out = ref::scaled_gemm(x, w, xs, ws, Tensor(), out_t);
                const double u_out = std::ldexp(1.0, out_t == DType::F16 ? -11 : -8);
                int bad = 0;
                for (int64_t m = 0; m < M; ++m)
                    for (int64_t n = 0; n < N; ++n) {
                        double exact = 0, S = 0;
                        for (int64_t k = 0; k < K; ++k) {
                            double p = elem(x, m * K + k) * elem(w, n * K + k);
                            exact += p;
                            S += std::fabs(p);
                        }
                        double sc = double{ws.data<float>()[n]} * double{xs.data<float>()[m]};
                        exact *= sc;
                        double bound = std::fabs(exact) * u_out + std::fabs(sc) * S * (K + 2) * kFp32Unit * (1 + u_out);
                        double got = elem(out, m * N + n);
                        if (std::fabs(got - exact) > bound && ++bad <= 5)
                            FAIL_CHECK(cat("(", m, ", ", n, "): exact ", exact, ", got ", got, ", bound ", bound));
                    }
                CHECK(bad == 0);
            }
}

TEST_CASE("scaled_sparse_gemm equals scaled_gemm on the decompressed weight, bit for bit") {
    Rng rng(2424);
    int k_pick = 0;
    for (DType t : kGemmDtypes)
        for (int scale_mode = 0; scale_mode < 3; ++scale_mode)  // none, scalars, vectors
            for (bool with_bias : {false, true})
                for (DType out_t : {DType::F16, DType::BF16})
                    for (int64_t M : kMs)
                        for (int64_t N : kNs) {
                            const int64_t K = kKs[k_pick++ % 5];
                            CAPTURE(dtype_name(t));
                            CAPTURE(scale_mode);
                            CAPTURE(with_bias);
                            CAPTURE(dtype_name(out_t));
                            CAPTURE(M);
                            CAPTURE(N);
                            CAPTURE(K);
                            Tensor x = random_x(t, M, K, rng), w = random_w24(t, N, K, rng);
                            // i8 accumulators reach ~1e5: scales of 0.001..0.01 keep the f16 output finite.
                            float lo = t == DType::I8 ? 0.001f : 0.5f, hi = t == DType::I8 ? 0.01f : 2.0f;
                            Tensor xs = scale_mode == 0 ? Tensor()
                                        : random_scale(scale_mode == 1 ? 1 : M, lo, hi, rng, {scale_mode == 1 ? 1 : M});
                            Tensor ws = scale_mode == 0 ? Tensor()
                                        : random_scale(scale_mode == 1 ? 1 : N, lo, hi, rng, {scale_mode == 1 ? 1 : N, 1});
                            Tensor bias = with_bias ? ctk::test::random_tensor(out_t, {N}, rng, 4.0f) : Tensor();
                            ref::Sparse24 s = ref::compress_24(w);
                            Tensor dense = ref::scaled_gemm(x, w, xs, ws, bias, out_t);
                            Tensor sparse = ref::scaled_sparse_gemm(x, s, xs, ws, bias, out_t);
                            auto d = compare_bits(dense, sparse, "scaled_sparse_gemm vs scaled_gemm");
                            CHECK_MESSAGE(d.ok(), d.report);
                        }
}

TEST_CASE("scaled_gemm / scaled_sparse_gemm: validation errors name the argument") {
    Tensor x = Tensor::zeros(DType::F16, {2, 8});
    Tensor w = Tensor::zeros(DType::F16, {3, 8});
    ref::Sparse24 s = ref::compress_24(w);
    const Tensor none;
    auto gemm = [&](const Tensor& xx, const Tensor& ww, const Tensor& xs, const Tensor& ws, const Tensor& b,
                    DType o) { return ref::scaled_gemm(xx, ww, xs, ws, b, o); };
    CHECK_NOTHROW(gemm(x, w, none, none, none, DType::F16));
    CHECK_THROWS_WITH_AS(gemm(Tensor::zeros(DType::F32, {2, 8}), w, none, none, none, DType::F16),
                         "scaled_gemm: x: expected dtype f16, bf16, f8e4m3 or i8, found f32", Error);
    CHECK_THROWS_WITH_AS(gemm(Tensor::zeros(DType::F16, {16}), w, none, none, none, DType::F16),
                         "scaled_gemm: x: expected shape [M, K], found [16]", Error);
    CHECK_THROWS_WITH_AS(gemm(none, w, none, none, none, DType::F16),
                         doctest::Contains("scaled_gemm: x: expected a host tensor"), Error);
    CHECK_THROWS_WITH_AS(gemm(x, Tensor::zeros(DType::BF16, {3, 8}), none, none, none, DType::F16),
                         "scaled_gemm: w: expected dtype f16 (the dtype of x), found bf16", Error);
    CHECK_THROWS_WITH_AS(gemm(x, Tensor::zeros(DType::F16, {3, 12}), none, none, none, DType::F16),
                         "scaled_gemm: w: expected K = 8 (columns of x), found K = 12", Error);
    CHECK_THROWS_WITH_AS(gemm(x, Tensor::zeros(DType::F16, {24}), none, none, none, DType::F16),
                         doctest::Contains("scaled_gemm: w: expected a host tensor of shape [N, K]"), Error);
    CHECK_THROWS_WITH_AS(gemm(x, w, Tensor::zeros(DType::F16, {1}), none, none, DType::F16),
                         "scaled_gemm: x_scale: expected dtype f32, found f16", Error);
    CHECK_THROWS_WITH_AS(gemm(x, w, Tensor::zeros(DType::F32, {3}), none, none, DType::F16),
                         "scaled_gemm: x_scale: expected 1 or M = 2 elements, found shape [3]", Error);
    CHECK_THROWS_WITH_AS(gemm(x, w, none, Tensor::zeros(DType::F32, {2, 1}), none, DType::F16),
                         "scaled_gemm: w_scale: expected 1 or N = 3 elements, found shape [2, 1]", Error);
    CHECK_THROWS_WITH_AS(gemm(x, w, none, Tensor::zeros(DType::I32, {3}), none, DType::F16),
                         "scaled_gemm: w_scale: expected dtype f32, found i32", Error);
    CHECK_THROWS_WITH_AS(gemm(x, w, none, none, Tensor::zeros(DType::BF16, {3}), DType::F16),
                         "scaled_gemm: bias: expected dtype f16 (out_dtype), found bf16", Error);
    CHECK_THROWS_WITH_AS(gemm(x, w, none, none, Tensor::zeros(DType::F16, {3, 1}), DType::F16),
                         "scaled_gemm: bias: expected shape [3], found [3, 1]", Error);
    CHECK_THROWS_WITH_AS(gemm(x, w, none, none, none, DType::F32),
                         "scaled_gemm: out_dtype: expected f16 or bf16, found f32", Error);
    CHECK_THROWS_WITH_AS(gemm(Tensor::zeros(DType::I8, {1, 131072}), Tensor::zeros(DType::I8, {1, 131072}), none,
                              none, none, DType::F16),
                         doctest::Contains("scaled_gemm: x: K = 131072 is too large for int32 accumulation"), Error);

    // Sparse: same checks through the shared validator, plus the values/codes shapes and codes.
    CHECK_NOTHROW(ref::scaled_sparse_gemm(x, s, none, none, none, DType::BF16));
    CHECK_THROWS_WITH_AS(ref::scaled_sparse_gemm(Tensor::zeros(DType::F16, {2, 12}), s, none, none, none, DType::F16),
                         "scaled_sparse_gemm: w: expected K = 12 (columns of x), found K = 8", Error);
    CHECK_THROWS_WITH_AS(ref::scaled_sparse_gemm(x, s, none, none, Tensor::zeros(DType::F16, {2}), DType::F16),
                         "scaled_sparse_gemm: bias: expected shape [3], found [2]", Error);
    ref::Sparse24 bad = s;
    bad.values = Tensor::zeros(DType::F16, {3, 8});
    CHECK_THROWS_WITH_AS(ref::scaled_sparse_gemm(x, bad, none, none, none, DType::F16),
                         doctest::Contains("scaled_sparse_gemm: w.values: expected shape [3, 4]"), Error);
    bad = s;
    bad.values = Tensor::zeros(DType::I8, {3, 4});
    CHECK_THROWS_WITH_AS(ref::scaled_sparse_gemm(x, bad, none, none, none, DType::F16),
                         "scaled_sparse_gemm: w: expected dtype f16 (the dtype of x), found i8", Error);
    bad = s;
    bad.codes = Tensor::zeros(DType::I8, {3, 2});
    CHECK_THROWS_WITH_AS(ref::scaled_sparse_gemm(x, bad, none, none, none, DType::F16),
                         doctest::Contains("scaled_sparse_gemm: w.codes: expected a host u8 tensor"), Error);
    bad = s;
    bad.codes = s.codes.clone();
    bad.codes.data<uint8_t>()[5] = 0x3;  // row 2, group 1: idx0 3, idx1 0
    CHECK_THROWS_WITH_AS(ref::scaled_sparse_gemm(x, bad, none, none, none, DType::F16),
                         doctest::Contains("scaled_sparse_gemm: w.codes: row 2, group 1 has code 0x3"), Error);
}
