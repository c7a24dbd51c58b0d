// CPU reference for MXFP4 (ref/mxfp4.h): hand-worked blocks (docs/mxfp4.md 1 and
// docs/formats.md 3; the two scale rules: shared/reference/mxfp4.md 1.5), every element
// tie, round trips against an exhaustive nearest-value oracle, pack/unpack, the special
// scale codes 0/254/255, the GEMM on a hand case and against an independent
// double-precision loop, and every validation error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <functional>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/random.h"
#include "formats/formats.h"
#include "ref/mxfp4.h"
#include "test_util.h"
#include "test_mxfp4_util.h"

using namespace ctk;
using ctk::test::random_mxfp4_weight;
using ctk::test::error_of;
using namespace ctk::ref;

namespace {

Tensor f32_matrix(int64_t rows, int64_t cols, const std::vector<float>& v) {
    Tensor t = Tensor::zeros(DType::F32, {rows, cols});
    for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
    return t;
}

Tensor bf16_from(const std::vector<float>& v, int64_t rows, int64_t cols, DType dt = DType::BF16) {
    Tensor t = Tensor::empty(dt, {rows, cols});
    for (size_t i = 0; i < v.size(); ++i) {
        if (dt == DType::BF16) t.data<bf16_t>()[i].bits = bf16_from_float(v[i]);
        else t.data<fp16_t>()[i].bits = fp16_from_float(v[i]);
    }
    return t;
}

float out_value(const Tensor& t, int64_t i) {
    return t.dtype == DType::BF16 ? bf16_to_float(t.data<bf16_t>()[i].bits) : fp16_to_float(t.data<fp16_t>()[i].bits);
}

// The E2M1 magnitudes in ascending order: the grid an element is rounded to.
const double kGrid[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};

// Exact distance from a (>= 0, already divided by the block scale) to the nearest grid value.
double nearest_grid_distance(double a) {
    double best = std::numeric_limits<double>::infinity();
    for (double g : kGrid) best = std::fmin(best, std::fabs(a - g));
    return best;
}

// Independent scale rule: frexp gives amax = f * 2^e with f in [0.5, 1), so
// floor(log2 amax) = e - 1 and the mantissa is 2f in [1, 2). "Even" rounds amax up to
// the next power of two when the mantissa is >= 1.75 (compressed-tensors round_to_power_2).
int expected_scale_code(float amax, MxScaleRule rule) {
    if (amax == 0.0f) return 0;
    int e;
    double f = std::frexp(static_cast<double>(amax), &e);
    int fl = e - 1;
    if (rule == MxScaleRule::Even && 2.0 * f >= 1.75) fl += 1;
    int code = 127 + fl - 2;
    return code < 0 ? 0 : code;
}

}  // namespace

TEST_CASE("mxfp4_quantize: hand-worked block, amax 7.5 (docs/mxfp4.md 1): even -> scale 2, floor -> scale 1") {
    // Row: 7.5, -0.75, 1.25, 0.3, then 28 zeros.
    Tensor w = f32_matrix(1, 32, {7.5f, -0.75f, 1.25f, 0.3f});
    SUBCASE("even (compressed-tensors)") {
        // 7.5 has mantissa 1.875 >= 1.75, so it rounds up to 8 = 2^3: code 127 + 3 - 2 = 128.
        // Elements / 2: 3.75 -> 4 (0x6), -0.375 -> -0.5 (0x9), 0.625 -> 0.5 (0x1), 0.15 -> 0 (0x0).
        Mxfp4Weight q = mxfp4_quantize(w, MxScaleRule::Even);
        CHECK(q.scales.data<uint8_t>()[0] == 128);
        CHECK(q.packed.data<uint8_t>()[0] == 0x96);  // low nibble w[0] = 0x6, high nibble w[1] = 0x9
        CHECK(q.packed.data<uint8_t>()[1] == 0x01);  // w[2] = 0x1, w[3] = 0x0
        for (int j = 2; j < 16; ++j) CHECK(q.packed.data<uint8_t>()[j] == 0x00);
        Tensor d = mxfp4_dequantize(q);
        CHECK(d.data<float>()[0] == 8.0f);
        CHECK(d.data<float>()[1] == -1.0f);
        CHECK(d.data<float>()[2] == 1.0f);
        CHECK(d.data<float>()[3] == 0.0f);
    }
    SUBCASE("floor (OCP spec)") {
        // floor(log2 7.5) = 2: code 127. Elements / 1: 7.5 -> 6 (saturates, 0x7),
        // -0.75 -> -1 (tie, to even code 0xA), 1.25 -> 1 (tie, to even 0x2), 0.3 -> 0.5 (0x1).
        Mxfp4Weight q = mxfp4_quantize(w, MxScaleRule::Floor);
        CHECK(q.scales.data<uint8_t>()[0] == 127);
        CHECK(q.packed.data<uint8_t>()[0] == 0xA7);
        CHECK(q.packed.data<uint8_t>()[1] == 0x12);
        Tensor d = mxfp4_dequantize(q);
        CHECK(d.data<float>()[0] == 6.0f);
        CHECK(d.data<float>()[1] == -1.0f);
        CHECK(d.data<float>()[2] == 1.0f);
        CHECK(d.data<float>()[3] == 0.5f);
    }
}

TEST_CASE("mxfp4_quantize: the worked block of docs/formats.md 3 (7.5, -3.1, 0.3, 1.24): bytes 0xB6 0x10, scale 0x80") {
    // The doc's table: scale 2 (even rule), 3.75 -> 4 (0x6), -1.55 -> -1.5 (0xB),
    // 0.15 -> 0 (0x0), 0.62 -> 0.5 (0x1); packed 0x6 | 0xB << 4, 0x0 | 0x1 << 4.
    Tensor w = f32_matrix(1, 32, {7.5f, -3.1f, 0.3f, 1.24f});
    Mxfp4Weight q = mxfp4_quantize(w, MxScaleRule::Even);
    CHECK(q.scales.data<uint8_t>()[0] == 0x80);
    CHECK(q.packed.data<uint8_t>()[0] == 0xB6);
    CHECK(q.packed.data<uint8_t>()[1] == 0x10);
    for (int j = 2; j < 16; ++j) CHECK(q.packed.data<uint8_t>()[j] == 0x00);
    Tensor d = mxfp4_dequantize(q);  // the table's "decoded" column
    CHECK(d.data<float>()[0] == 8.0f);
    CHECK(d.data<float>()[1] == -3.0f);
    CHECK(d.data<float>()[2] == 0.0f);
    CHECK(d.data<float>()[3] == 1.0f);
    // The doc's aside on the floor rule: code 127 (scale 1), and 7.5 clamps to 6 (0x7).
    Mxfp4Weight f = mxfp4_quantize(w, MxScaleRule::Floor);
    CHECK(f.scales.data<uint8_t>()[0] == 127);
    CHECK((f.packed.data<uint8_t>()[0] & 0xF) == 0x7);
}

TEST_CASE("mxfp4_quantize: every element tie goes to the even code, at several block scales") {
    // amax 6 = 1.5 * 4 (mantissa 1.5 < 1.75): scale 2^0 under both rules, so w/scale = w.
    const float ties[7] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
    const uint8_t want[7] = {0x0, 0x2, 0x2, 0x4, 0x4, 0x6, 0x6};  // 0, 1, 1, 2, 2, 4, 4
    for (int shift : {0, -10, 7, -100, 100}) {
        CAPTURE(shift);
        std::vector<float> v(32, 0.0f);
        v[0] = std::ldexp(6.0f, shift);
        for (int i = 0; i < 7; ++i) {
            v[1 + i] = std::ldexp(ties[i], shift);
            v[8 + i] = -std::ldexp(ties[i], shift);
        }
        Tensor w = f32_matrix(1, 32, v);
        for (MxScaleRule rule : {MxScaleRule::Even, MxScaleRule::Floor}) {
            Mxfp4Weight q = mxfp4_quantize(w, rule);
            CHECK(q.scales.data<uint8_t>()[0] == 127 + shift);
            Tensor codes = mxfp4_unpack_codes(q.packed);
            const uint8_t* c = codes.data<uint8_t>();
            CHECK(c[0] == 0x7);
            for (int i = 0; i < 7; ++i) {
                CAPTURE(ties[i]);
                CHECK(c[1 + i] == want[i]);
                // Negative ties mirror the positive ones; -0.25 rounds to -0 (code 0x8).
                CHECK(c[8 + i] == (want[i] | 8));
            }
        }
    }
}

TEST_CASE("mxfp4_quantize: round trip picks the nearest E2M1 value of each block (exhaustive oracle)") {
    Rng rng(7);
    const int64_t N = 37, K = 256;
    for (MxScaleRule rule : {MxScaleRule::Even, MxScaleRule::Floor}) {
        for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
            CAPTURE(static_cast<int>(rule));
            CAPTURE(dtype_name(dt));
            // Normal values with a per-row magnitude from 2^-20 to 2^+10 (f16: 2^-8..2^+10
            // so that the values stay normal f16 numbers), a few exact zeros.
            std::vector<float> v(N * K);
            for (int64_t n = 0; n < N; ++n) {
                int e = dt == DType::F16 ? -8 + static_cast<int>(rng.below(19)) : -20 + static_cast<int>(rng.below(31));
                for (int64_t k = 0; k < K; ++k) v[n * K + k] = rng.below(50) == 0 ? 0.0f : std::ldexp(rng.normal(), e);
            }
            Tensor w = dt == DType::F32 ? f32_matrix(N, K, v) : bf16_from(v, N, K, dt);
            Mxfp4Weight q = mxfp4_quantize(w, rule);
            Tensor d = mxfp4_dequantize(q);
            int bad = 0;
            for (int64_t n = 0; n < N; ++n) {
                for (int64_t b = 0; b < K / 32; ++b) {
                    float amax = 0;
                    for (int i = 0; i < 32; ++i) {
                        int64_t idx = n * K + b * 32 + i;
                        float wi = dt == DType::F32 ? v[idx] : out_value(w, idx);
                        amax = std::fmax(amax, std::fabs(wi));
                    }
                    int code = q.scales.data<uint8_t>()[n * (K / 32) + b];
                    CHECK(code == expected_scale_code(amax, rule));
                    double scale = std::ldexp(1.0, code - 127);
                    for (int i = 0; i < 32; ++i) {
                        int64_t idx = n * K + b * 32 + i;
                        double wi = dt == DType::F32 ? v[idx] : out_value(w, idx);
                        double a = std::fabs(wi) / scale;
                        double err = std::fabs(wi - d.data<float>()[idx]) / scale;
                        // Inside the grid: exactly the nearest value (ties are checked above);
                        // past 6 the element saturates to 6.
                        double want = a <= 6.0 ? nearest_grid_distance(a) : a - 6.0;
                        if (err != want && ++bad <= 5)
                            FAIL_CHECK("row ", n, " col ", b * 32 + i, ": w ", wi, " deq ", d.data<float>()[idx],
                                       " scale code ", code, ": error/scale ", err, ", nearest ", want);
                        // Half a step of the block's grid bounds every in-range error; the even
                        // rule keeps a below 7, so saturation costs at most 1 = half of (4, 6).
                        CHECK(err <= (a <= 6.0 ? 1.0 : (rule == MxScaleRule::Even ? 1.0 : 2.0)));
                    }
                }
            }
            CHECK(bad == 0);
        }
    }
}

TEST_CASE("mxfp4_quantize: zero blocks get scale code 0, the largest floats a real scale") {
    Tensor z = Tensor::zeros(DType::F32, {2, 64});
    Mxfp4Weight q = mxfp4_quantize(z);
    for (int i = 0; i < 4; ++i) CHECK(q.scales.data<uint8_t>()[i] == 0);
    for (int i = 0; i < 64; ++i) CHECK(q.packed.data<uint8_t>()[i] == 0);
    // FLT_MAX ~ 1.99999988 * 2^127: floor gives 127 + 127 - 2 = 252; even rounds the
    // mantissa up to 2^128 and gives 253. Both are real scales (the NaN code 255 is never needed).
    // But under the even rule the element FLT_MAX / 2^126 ~ 4 rounds to 4: 4 * 2^126 = 2^128,
    // which no fp32 holds, so that block is refused (the floor rule stores 6 * 2^125).
    Tensor big = f32_matrix(1, 32, {FLT_MAX, -FLT_MAX});
    Mxfp4Weight qf = mxfp4_quantize(big, MxScaleRule::Floor);
    CHECK(qf.scales.data<uint8_t>()[0] == 252);
    CHECK(mxfp4_dequantize(qf).data<float>()[0] == 6.0f * std::ldexp(1.0f, 125));
    CHECK(error_of([&] { mxfp4_quantize(big, MxScaleRule::Even); }).find("element (row 0, column 0)") != std::string::npos);
    // The even rule's limit: 1.75 * 2^127 (and above) takes scale 2^126 and rounds to 2^128;
    // the float below it keeps a finite block.
    const float limit = 1.75f * std::ldexp(1.0f, 127);
    CHECK(error_of([&] { mxfp4_quantize(f32_matrix(1, 32, {limit}), MxScaleRule::Even); }).find(">= 2^128") !=
          std::string::npos);
    Mxfp4Weight below = mxfp4_quantize(f32_matrix(1, 32, {std::nextafter(limit, 0.0f)}), MxScaleRule::Even);
    CHECK(std::isfinite(mxfp4_dequantize(below).data<float>()[0]));
    // Below 2^-125 the exponent clamps at code 0 (2^-127) and the elements still round
    // to the nearest multiple of 2^-128.
    Tensor tiny = f32_matrix(1, 32, {std::ldexp(1.0f, -128), std::ldexp(3.0f, -127), std::ldexp(1.0f, -140)});
    Mxfp4Weight qt = mxfp4_quantize(tiny);
    CHECK(qt.scales.data<uint8_t>()[0] == 0);
    Tensor dt = mxfp4_dequantize(qt);
    CHECK(dt.data<float>()[0] == std::ldexp(1.0f, -128));
    CHECK(dt.data<float>()[1] == std::ldexp(3.0f, -127));
    CHECK(dt.data<float>()[2] == 0.0f);
}

TEST_CASE("mxfp4_quantize: NaN and Inf are rejected naming row and column; bad shapes and dtypes too") {
    Tensor w = Tensor::zeros(DType::F32, {3, 64});
    w.data<float>()[2 * 64 + 33] = std::nanf("");
    CHECK(error_of([&] { mxfp4_quantize(w); }).find("row 2, column 33") != std::string::npos);
    w.data<float>()[2 * 64 + 33] = 0;
    w.data<float>()[1 * 64 + 5] = -std::numeric_limits<float>::infinity();
    CHECK(error_of([&] { mxfp4_quantize(w); }).find("row 1, column 5") != std::string::npos);
    CHECK(error_of([] { mxfp4_quantize(Tensor::zeros(DType::F32, {2, 48})); }).find("48 is not a multiple") !=
          std::string::npos);
    CHECK(error_of([] { mxfp4_quantize(Tensor::zeros(DType::I8, {2, 32})); }).find("expected f32, f16 or bf16") !=
          std::string::npos);
    CHECK(error_of([] { mxfp4_quantize(Tensor::zeros(DType::F32, {64})); }).find("expected shape [N, K]") !=
          std::string::npos);
}

TEST_CASE("mxfp4_pack_codes / unpack: even column in the low nibble, round trip, bad codes rejected") {
    Tensor c = Tensor::empty(DType::U8, {1, 4});
    const uint8_t cs[4] = {0x1, 0x2, 0xF, 0x0};
    for (int i = 0; i < 4; ++i) c.data<uint8_t>()[i] = cs[i];
    Tensor p = mxfp4_pack_codes(c);
    CHECK(p.shape == Shape{1, 2});
    CHECK(p.data<uint8_t>()[0] == 0x21);
    CHECK(p.data<uint8_t>()[1] == 0x0F);

    Rng rng(3);
    Tensor r = Tensor::empty(DType::U8, {5, 66});
    for (int i = 0; i < 5 * 66; ++i) r.data<uint8_t>()[i] = static_cast<uint8_t>(rng.below(16));
    Tensor back = mxfp4_unpack_codes(mxfp4_pack_codes(r));
    CHECK(back.shape == r.shape);
    for (int i = 0; i < 5 * 66; ++i) CHECK(back.data<uint8_t>()[i] == r.data<uint8_t>()[i]);

    r.data<uint8_t>()[67] = 16;
    CHECK(error_of([&] { mxfp4_pack_codes(r); }).find("row 1, column 1") != std::string::npos);
    CHECK(error_of([] { mxfp4_pack_codes(Tensor::zeros(DType::U8, {2, 3})); }).find("K even") != std::string::npos);
}

TEST_CASE("mxfp4_dequantize: scale codes 0, 254 and 255; rounding to f16 and bf16") {
    // Row 0 codes 0..15 repeated, scales 0 (2^-127) and 254 (2^127); row 1 scale 255 (NaN block) and 127.
    Tensor codes = Tensor::empty(DType::U8, {2, 64});
    for (int i = 0; i < 128; ++i) codes.data<uint8_t>()[i] = static_cast<uint8_t>(i % 16);
    Mxfp4Weight w;
    w.packed = mxfp4_pack_codes(codes);
    w.scales = Tensor::empty(DType::U8, {2, 2});
    const uint8_t sc[4] = {0, 254, 255, 127};
    for (int i = 0; i < 4; ++i) w.scales.data<uint8_t>()[i] = sc[i];
    Tensor d = mxfp4_dequantize(w);
    const float* v = d.data<float>();
    for (int k = 0; k < 32; ++k) {
        CAPTURE(k);
        double e = e2m1_to_float(static_cast<uint8_t>(k % 16));
        CHECK(v[k] == static_cast<float>(std::ldexp(e, -127)));  // exact subnormals
        // 2^127 * e: finite up to |e| = 1.5; |e| >= 2 exceeds fp32 (>= 2^128) -> Inf.
        if (std::fabs(e) <= 1.5) CHECK(v[32 + k] == static_cast<float>(std::ldexp(e, 127)));
        else CHECK(v[32 + k] == (e > 0 ? INFINITY : -INFINITY));
        CHECK(std::isnan(v[64 + k]));  // the whole block, zeros included
        CHECK(v[96 + k] == static_cast<float>(e));
    }
    CHECK(v[0] == 0.0f);
    CHECK(v[1] == std::ldexp(1.0f, -128));

    // bf16 has fp32's exponent range: 2^-128 is a bf16 subnormal, kept exactly.
    Tensor db = mxfp4_dequantize(w, DType::BF16);
    CHECK(db.data<bf16_t>()[1].bits == 0x0020);
    CHECK(db.data<bf16_t>()[7].bits == bf16_from_float(std::ldexp(6.0f, -127)));
    // f16 cannot: 2^-127 * e underflows to zero, 2^127 overflows.
    Tensor dh = mxfp4_dequantize(w, DType::F16);
    CHECK(dh.data<fp16_t>()[7].bits == 0x0000);
    CHECK(dh.data<fp16_t>()[32 + 2].bits == 0x7C00);
    CHECK(dh.data<fp16_t>()[96 + 7].bits == 0x4600);  // 6.0
}

TEST_CASE("mxfp4_gemm: hand case with bias, bf16 and f16") {
    // W row 0: scale code 127 (1), elements 1, 2, -0.5 in columns 0..2, zero elsewhere.
    // W row 1: scale code 126 (0.5), elements 6, -6, 3 in columns 0..2 and 1 in column 33
    //          (second block, scale code 128 = 2).
    // x row 0 = [1, 1, 1, 0...,   x[33] = 1]; x row 1 = [2, -1, 4, 0..., x[33] = -0.5].
    // out[0, 0] = 1 + 2 - 0.5                 = 2.5     + bias 0.25  = 2.75
    // out[0, 1] = 0.5 * (6 - 6 + 3) + 2 * 1    = 3.5     + bias -1    = 2.5
    // out[1, 0] = 2 - 2 - 2                   = -2      + 0.25       = -1.75
    // out[1, 1] = 0.5 * (12 + 6 + 12) - 0.5*2 = 14      - 1          = 13
    Tensor codes = Tensor::zeros(DType::U8, {2, 64});
    uint8_t* c = codes.data<uint8_t>();
    c[0] = 0x2; c[1] = 0x4; c[2] = 0x9;
    c[64] = 0x7; c[65] = 0xF; c[66] = 0x5; c[64 + 33] = 0x2;
    Mxfp4Weight w;
    w.packed = mxfp4_pack_codes(codes);
    w.scales = Tensor::empty(DType::U8, {2, 2});
    const uint8_t sc[4] = {127, 127, 126, 128};
    for (int i = 0; i < 4; ++i) w.scales.data<uint8_t>()[i] = sc[i];
    std::vector<float> xv(128, 0.0f);
    xv[0] = 1; xv[1] = 1; xv[2] = 1; xv[33] = 1;
    xv[64] = 2; xv[65] = -1; xv[66] = 4; xv[64 + 33] = -0.5f;
    for (DType dt : {DType::BF16, DType::F16}) {
        CAPTURE(dtype_name(dt));
        Tensor x = bf16_from(xv, 2, 64, dt);
        Tensor bias = bf16_from({0.25f, -1.0f}, 1, 2, dt).reshape({2});
        Tensor out = mxfp4_gemm(x, w, bias);
        CHECK(out.dtype == dt);
        CHECK(out.shape == Shape{2, 2});
        CHECK(out_value(out, 0) == 2.75f);
        CHECK(out_value(out, 1) == 2.5f);
        CHECK(out_value(out, 2) == -1.75f);
        CHECK(out_value(out, 3) == 13.0f);
        Tensor nobias = mxfp4_gemm(x, w, Tensor());
        CHECK(out_value(nobias, 0) == 2.5f);
        CHECK(out_value(nobias, 3) == 14.0f);
    }
}

// The reference's fp32 sum over k ascending is within (K - 1) * u * sum_k |x_k w_k| of the
// exact sum (u = 2^-24, Higham's bound for recursive summation; the products are exact), the
// bias add adds one more u * |sum|, and the final rounding to bf16/f16 adds at most one ulp
// of the output (a full ulp so that a result near a binade edge is covered).
static double ref_gemm_bound(int64_t K, double sum_abs, double exact, DType out) {
    const double u = std::ldexp(1.0, -24);
    int mant = out == DType::BF16 ? 7 : 10;
    double mag = std::fabs(exact) + K * u * sum_abs;
    int e;
    std::frexp(mag, &e);  // mag in [2^(e-1), 2^e)
    double ulp = std::ldexp(1.0, std::max(e - 1 - mant, out == DType::BF16 ? -133 : -24));
    return K * u * sum_abs + ulp;
}

TEST_CASE("mxfp4_gemm: matches an independent double-precision loop within the derived bound") {
    Rng rng(11);
    struct Case { int64_t M, N, K; };
    for (Case cs : {Case{1, 5, 32}, Case{7, 33, 96}, Case{17, 64, 1024}, Case{2, 3, 4096}}) {
        for (DType dt : {DType::BF16, DType::F16}) {
            for (bool with_bias : {false, true}) {
                const int64_t M = cs.M, N = cs.N, K = cs.K;
                CAPTURE(M); CAPTURE(N); CAPTURE(K); CAPTURE(dtype_name(dt)); CAPTURE(with_bias);
                Mxfp4Weight w = random_mxfp4_weight(rng, N, K, 110, 129);
                std::vector<float> xv(M * K), bv(N);
                for (auto& v : xv) v = rng.normal();
                for (auto& v : bv) v = rng.normal() * 0.1f;
                Tensor x = bf16_from(xv, M, K, dt);
                Tensor bias = with_bias ? bf16_from(bv, 1, N, dt).reshape({N}) : Tensor();
                Tensor out = mxfp4_gemm(x, w, bias);
                // Independent oracle: decode each nibble and scale by hand, sum in double.
                const uint8_t* p = w.packed.data<uint8_t>();
                const uint8_t* s = w.scales.data<uint8_t>();
                int bad = 0;
                for (int64_t m = 0; m < M; ++m) {
                    for (int64_t n = 0; n < N; ++n) {
                        double exact = 0, sum_abs = 0;
                        for (int64_t k = 0; k < K; ++k) {
                            uint8_t byte = p[n * K / 2 + k / 2];
                            int code = (k & 1) ? byte >> 4 : byte & 0xF;
                            int e = (code >> 1) & 3, mbit = code & 1;
                            double mag = e == 0 ? 0.5 * mbit : std::ldexp(1.0 + 0.5 * mbit, e - 1);
                            double wv = ((code & 8) ? -mag : mag) * std::ldexp(1.0, s[n * K / 32 + k / 32] - 127);
                            double xk = out_value(x, m * K + k);
                            exact += xk * wv;
                            sum_abs += std::fabs(xk * wv);
                        }
                        if (with_bias) {
                            double b = out_value(bias, n);
                            exact += b;
                            sum_abs += std::fabs(b);
                        }
                        double got = out_value(out, m * N + n);
                        double tol = ref_gemm_bound(K, sum_abs, exact, dt);
                        if (!(std::fabs(got - exact) <= tol) && ++bad <= 5)
                            FAIL_CHECK("mxfp4_gemm ", M, "x", N, "x", K, " seed 11: out[", m, ", ", n, "] = ", got,
                                       ", exact ", exact, ", |err| ", std::fabs(got - exact), " > tol ", tol);
                    }
                }
                CHECK(bad == 0);
            }
        }
    }
}

TEST_CASE("mxfp4_gemm: a 4096x4096 layer at M = 16 (the size the layers need), spot-checked") {
    Rng rng(5);
    const int64_t M = 16, N = 4096, K = 4096;
    Mxfp4Weight w = random_mxfp4_weight(rng, N, K, 118, 124);
    std::vector<float> xv(M * K);
    for (auto& v : xv) v = rng.normal();
    Tensor x = bf16_from(xv, M, K);
    Tensor out = mxfp4_gemm(x, w, Tensor());
    Tensor wf = mxfp4_dequantize(w);
    for (int i = 0; i < 64; ++i) {
        int64_t m = rng.below(M), n = rng.below(N);
        double exact = 0, sum_abs = 0;
        for (int64_t k = 0; k < K; ++k) {
            double t = static_cast<double>(out_value(x, m * K + k)) * wf.data<float>()[n * K + k];
            exact += t;
            sum_abs += std::fabs(t);
        }
        CAPTURE(m); CAPTURE(n);
        CHECK(std::fabs(out_value(out, m * N + n) - exact) <= ref_gemm_bound(K, sum_abs, exact, DType::BF16));
    }
}

TEST_CASE("mxfp4_gemm / mxfp4_dequantize: shapes and dtypes are validated with clear messages") {
    Rng rng(2);
    Mxfp4Weight w = random_mxfp4_weight(rng, 4, 64, 120, 127);
    Tensor x = Tensor::zeros(DType::BF16, {3, 64});
    CHECK(error_of([&] { mxfp4_gemm(Tensor::zeros(DType::F32, {3, 64}), w, Tensor()); })
              .find("x: expected bf16 or f16") != std::string::npos);
    CHECK(error_of([&] { mxfp4_gemm(Tensor::zeros(DType::BF16, {3, 96}), w, Tensor()); })
              .find("x: expected shape [M, 64]") != std::string::npos);
    CHECK(error_of([&] { mxfp4_gemm(x, w, Tensor::zeros(DType::F16, {4})); }).find("bias") != std::string::npos);
    CHECK(error_of([&] { mxfp4_gemm(x, w, Tensor::zeros(DType::BF16, {5})); }).find("bias") != std::string::npos);
    Mxfp4Weight bad = w;
    bad.scales = Tensor::zeros(DType::U8, {4, 3});
    CHECK(error_of([&] { mxfp4_gemm(x, bad, Tensor()); }).find("scales") != std::string::npos);
    bad = w;
    bad.packed = Tensor::zeros(DType::I8, {4, 32});
    CHECK(error_of([&] { mxfp4_gemm(x, bad, Tensor()); }).find("packed") != std::string::npos);
    bad = w;
    bad.packed = Tensor::zeros(DType::U8, {4, 17});
    CHECK(error_of([&] { mxfp4_dequantize(bad); }).find("not a multiple of the MXFP4 block") != std::string::npos);
    CHECK(error_of([&] { mxfp4_dequantize(w, DType::I32); }).find("out: expected f32, f16 or bf16") !=
          std::string::npos);
}

TEST_CASE("mxfp4_check_no_overflow: exactly the blocks holding |e2m1 * 2^(code-127)| >= 2^128, every code pair") {
    // Oracle: the value in double (exact: at most 6 * 2^127), against 2^128. Every scale code
    // 0..255 with every magnitude, placed at each of the block's 32 positions in turn.
    const double limit = std::ldexp(1.0, 128);
    for (int code = 0; code < 256; ++code) {
        for (int mag = 0; mag < 8; ++mag) {
            for (int pos = 0; pos < 32; pos += 7) {
                Mxfp4Weight w{Tensor::zeros(DType::U8, {2, 32}), Tensor::zeros(DType::U8, {2, 2})};
                uint8_t* p = w.packed.data<uint8_t>();
                w.scales.data<uint8_t>()[3] = static_cast<uint8_t>(code);  // row 1, block 1
                const uint8_t c = static_cast<uint8_t>(mag | (pos % 2 ? 0x8 : 0));  // odd places negative
                p[32 + 16 + pos / 2] = pos % 2 ? mxfp4_pack(0, c) : mxfp4_pack(c, 0);  // K = 64: 32 bytes a row
                const double v = std::fabs(e2m1_to_float(c)) * std::ldexp(1.0, code - 127);
                const bool want = code != kE8M0Nan && v >= limit;
                CAPTURE(code);
                CAPTURE(mag);
                CAPTURE(pos);
                CHECK(mxfp4_block_overflows(p + 32 + 16, static_cast<uint8_t>(code)) == want);
                if (want)
                    CHECK(error_of([&] { mxfp4_check_no_overflow(w); }).find("row 1, block 1") != std::string::npos);
                else
                    CHECK_NOTHROW(mxfp4_check_no_overflow(w));
            }
        }
    }
}
