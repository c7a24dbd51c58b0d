// CPU reference of activation quantization (ref/quant.h): hand-computed cases (ties,
// saturation, zero rows, NaN/Inf), the error paths, and random data in vLLM's value
// ranges checked against an independent oracle that does each fp32 operation in
// double and rounds once to fp32. For +, -, *, / of fp32 operands that is exactly the
// IEEE fp32 result (53 >= 2*24 + 2 bits: double rounding is innocuous), so the oracle
// checks the order of operations (true division vs reciprocal multiply) without
// sharing code with the reference. All comparisons are exact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/random.h"
#include "formats/formats.h"
#include "ref/quant.h"

using namespace ctk;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

Tensor f32_matrix(int64_t m, int64_t h, const std::vector<float>& v) {
    REQUIRE(static_cast<int64_t>(v.size()) == m * h);
    Tensor t = Tensor::empty(DType::F32, {m, h});
    for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
    return t;
}

std::vector<int> i8_codes(const ref::QuantResult& r) {
    std::vector<int> out;
    for (int64_t i = 0; i < r.q.numel(); ++i) out.push_back(r.q.data<int8_t>()[i]);
    return out;
}

std::vector<int> f8_codes(const ref::QuantResult& r) {
    std::vector<int> out;
    for (int64_t i = 0; i < r.q.numel(); ++i) out.push_back(r.q.data<fp8e4m3_t>()[i].bits);
    return out;
}

bool same_bits(float a, float b) { return f32_bits(a) == f32_bits(b); }

// ---- the oracle: every fp32 op done in double and rounded once -----------------------
float o_div(float a, float b) { return static_cast<float>(static_cast<double>(a) / b); }
float o_mul(float a, float b) { return static_cast<float>(static_cast<double>(a) * b); }
float o_sub(float a, float b) { return static_cast<float>(static_cast<double>(a) - b); }
// Round half to even on a double, independent of the rounding mode.
double o_rne(double v) {
    double f = std::floor(v), d = v - f;
    if (d > 0.5 || (d == 0.5 && std::fmod(f, 2.0) != 0.0)) f += 1.0;
    return f;
}
int o_sat8(double v) {
    if (std::isnan(v)) return 0;
    v = o_rne(v);
    return static_cast<int>(v > 127 ? 127 : (v < -128 ? -128 : v));
}
int64_t o_sat32(double v) {
    if (std::isnan(v)) return 0;
    v = o_rne(v);
    return static_cast<int64_t>(v > 2147483647.0 ? 2147483647.0 : (v < -2147483648.0 ? -2147483648.0 : v));
}
int o_clamp8(int64_t v) { return static_cast<int>(v > 127 ? 127 : (v < -128 ? -128 : v)); }
// e4m3 oracle: nearest of the 126 finite positive codes by scanning, ties to the even code.
int o_e4m3(float v) {
    if (std::isnan(v)) return 0x7F;
    double a = std::fabs(static_cast<double>(v));
    int sign = std::signbit(v) ? 0x80 : 0;
    if (a >= 448.0) return sign | 0x7E;
    int best = 0;
    double best_err = a;
    for (int c = 1; c <= 0x7E; ++c) {
        double err = std::fabs(e4m3_to_float(static_cast<uint8_t>(c)) - a);
        if (err < best_err || (err == best_err && (c & 1) == 0)) best = c, best_err = err;
    }
    return sign | best;
}

// Random [M, H] data in dtype `dt` with values lo + (hi-lo)*u, rounded to dt. Returns the
// tensor and the exact fp32 values it holds.
Tensor random_input(DType dt, int64_t m, int64_t h, float lo, float hi, uint64_t seed, std::vector<float>* vals) {
    Rng rng(seed);
    Tensor t = Tensor::empty(dt, {m, h});
    vals->resize(static_cast<size_t>(m * h));
    for (int64_t i = 0; i < m * h; ++i) {
        float v = rng.uniform(lo, hi);
        if (dt == DType::F32) {
            t.data<float>()[i] = v;
        } else if (dt == DType::BF16) {
            t.data<bf16_t>()[i].bits = bf16_from_float(v);
            v = bf16_to_float(t.data<bf16_t>()[i].bits);
        } else {
            t.data<fp16_t>()[i].bits = fp16_from_float(v);
            v = fp16_to_float(t.data<fp16_t>()[i].bits);
        }
        (*vals)[i] = v;
    }
    return t;
}

// Checks got == want element by element; prints op, shape, seed and the first mismatches.
void check_codes(const char* op, int64_t m, int64_t h, uint64_t seed, const std::vector<int>& want,
                 const std::vector<int>& got) {
    REQUIRE(want.size() == got.size());
    int64_t bad = 0;
    std::string first;
    for (size_t i = 0; i < want.size(); ++i) {
        if (want[i] == got[i]) continue;
        if (bad++ < 5)
            first += cat(" (", i / h, ",", i % h, ": want ", want[i], " got ", got[i], ")");
    }
    INFO(std::string(op), " [", m, ", ", h, "] seed ", seed, ": ", bad, " mismatches", first);
    CHECK(bad == 0);
}

template <class Fn>
void check_error(Fn fn, const std::string& must_contain) {
    bool thrown = false;
    try {
        fn();
    } catch (const Error& e) {
        thrown = true;
        INFO("message: ", e.what());
        CHECK(std::string(e.what()).find(must_contain) != std::string::npos);
    }
    CHECK(thrown);
}

}  // namespace

// ---- hand-computed cases -----------------------------------------------------------

TEST_CASE("quant_int8_static: true division, ties to even, saturation, NaN/Inf") {
    // s = 0.5: x/s is exact, so ties are real ties: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -1.5 -> -2.
    Tensor x = f32_matrix(2, 6, {0.25f, 0.75f, 1.25f, -0.25f, -0.75f, 2.5f,  //
                                 300.0f, -300.0f, kNaN, kInf, -kInf, 63.75f});
    auto r = ref::quant_int8_static(x, 0.5f);
    CHECK(i8_codes(r) == std::vector<int>{0, 2, 2, 0, -2, 5, 127, -128, 0, 127, -128, 127});
    CHECK(r.q.dtype == DType::I8);
    CHECK(r.scale.shape == Shape{1});
    CHECK(r.scale.data<float>()[0] == 0.5f);
    CHECK_FALSE(r.azp.defined());
}

TEST_CASE("quant_int8_static: x / s and x * (1/s) differ, and the reference divides") {
    // Search bf16 inputs for a case where the two orders round to different codes with
    // vLLM's static scale 2.1: the reference must follow the division.
    const float s = 2.1f;
    const float inv = o_div(1.0f, s);
    int differing = 0;
    for (uint32_t b = 0; b < 0x4400; ++b) {  // bf16 codes of 0 .. ~512 (code range of 127 * 2.1)
        float v = bf16_to_float(static_cast<uint16_t>(b));
        int by_div = o_sat8(o_div(v, s)), by_mul = o_sat8(o_mul(v, inv));
        if (by_div == by_mul) continue;
        ++differing;
        auto r = ref::quant_int8_static(f32_matrix(1, 1, {v}), s);
        CAPTURE(v);
        CHECK(i8_codes(r)[0] == by_div);
    }
    CHECK(differing > 0);  // otherwise this test would prove nothing
}

TEST_CASE("quant_int8_static_azp: reciprocal multiply, azp added exactly, saturation") {
    // s = 0.5 -> 1/s = 2 exactly. 1.25*2 = 2.5 -> 2 (tie to even).
    Tensor x = f32_matrix(1, 6, {1.25f, -100.0f, 100.0f, kNaN, 75.0f, 3e9f});
    auto r = ref::quant_int8_static_azp(x, 0.5f, 54);
    CHECK(i8_codes(r) == std::vector<int>{56, -128, 127, 54, 127, 127});
    CHECK(r.azp.data<int32_t>()[0] == 54);
    CHECK(r.azp.shape == Shape{1});
    auto n = ref::quant_int8_static_azp(x, 0.5f, -255);
    // 2-255, -200-255, 200-255 = -55, NaN -> 0-255, 150-255 = -105, sat32(6e9) - 255 -> 127.
    // The last one is the exact add: vLLM's int32 add would give INT32_MAX - 255 -> 127 too,
    // but with a positive azp it would wrap; see the next check.
    CHECK(i8_codes(n) == std::vector<int>{-128, -128, -55, -128, -105, 127});
    // sat32(3e9 * 2) = INT32_MAX; + 54 must not wrap to a negative code.
    CHECK(i8_codes(ref::quant_int8_static_azp(f32_matrix(1, 1, {3e9f}), 0.5f, 54))[0] == 127);
    CHECK(i8_codes(ref::quant_int8_static_azp(f32_matrix(1, 1, {-3e9f}), 0.5f, -54))[0] == -128);
}

TEST_CASE("quant_int8_static: vLLM's saturating cast near int32 max/min with scale 1") {
    Tensor x = f32_matrix(1, 4, {2147483520.0f, -2147483648.0f, 2147483648.0f, -2147483904.0f});
    CHECK(i8_codes(ref::quant_int8_static(x, 1.0f)) == std::vector<int>{127, -128, 127, -128});
    CHECK(i8_codes(ref::quant_int8_static_azp(x, 1.0f, 0)) == std::vector<int>{127, -128, 127, -128});
}

TEST_CASE("quant_int8_dynamic_per_token: scale amax/127, ties, zero/NaN/Inf rows") {
    // Row 0: amax 4, inv = 127/4 = 31.75 exactly: 2*31.75 = 63.5 -> 64, -1 -> -31.75 -> -32.
    // Row 1: zeros -> scale 0, codes 0. Row 2: NaN ignored by amax (2), its code is 0;
    // -1 * 63.5 = -63.5 -> -64 (tie to even). Row 3: Inf -> amax Inf, scale Inf, inv 0,
    // every code 0 (Inf * 0 = NaN -> 0). Row 4: all NaN -> amax 0 -> scale 0, codes 0.
    Tensor x = f32_matrix(5, 4, {-4.0f, 2.0f, -1.0f, 0.5f,  //
                                 0.0f, -0.0f, 0.0f, 0.0f,    //
                                 kNaN, 2.0f, -1.0f, 0.0f,    //
                                 kInf, 1.0f, kNaN, -3.0f,    //
                                 kNaN, kNaN, kNaN, kNaN});
    auto r = ref::quant_int8_dynamic_per_token(x);
    CHECK(i8_codes(r) == std::vector<int>{-127, 64, -32, 16,  //
                                          0, 0, 0, 0,         //
                                          0, 127, -64, 0,     //
                                          0, 0, 0, 0,         //
                                          0, 0, 0, 0});
    REQUIRE(r.scale.shape == Shape{5, 1});
    const float* s = r.scale.data<float>();
    CHECK(same_bits(s[0], 4.0f / 127.0f));
    CHECK(same_bits(s[1], 0.0f));
    CHECK(same_bits(s[2], 2.0f / 127.0f));
    CHECK(s[3] == kInf);
    CHECK(same_bits(s[4], 0.0f));
}

TEST_CASE("quant_int8_dynamic_per_token_azp: scale, azp, codes; zero and constant rows") {
    // Row 0: min -1, max 3: s = 4/255, azp = rne(-128 + 63.75) = -64; codes -128, -64, 127.
    // Row 1: zeros: s = 0, azp = rne(-128 - 0/0) = NaN -> 0, 1/s = Inf, 0*Inf = NaN -> 0.
    // Row 2: constant 2: s = 0, -128 - 2/0 = -Inf -> azp INT32_MIN; 2*Inf -> INT32_MAX;
    //        the exact sum is -1 (vLLM's arithmetic, documented in docs/quant.md).
    // Row 3: NaN ignored by min/max: min -1, max 3 as row 0; the NaN code is 0 + azp.
    Tensor x = f32_matrix(4, 3, {-1.0f, 0.0f, 3.0f, 0.0f, 0.0f, 0.0f, 2.0f, 2.0f, 2.0f, -1.0f, kNaN, 3.0f});
    auto r = ref::quant_int8_dynamic_per_token_azp(x);
    CHECK(i8_codes(r) == std::vector<int>{-128, -64, 127, 0, 0, 0, -1, -1, -1, -128, -64, 127});
    REQUIRE(r.azp.shape == Shape{4, 1});
    const int32_t* z = r.azp.data<int32_t>();
    CHECK(z[0] == -64);
    CHECK(z[1] == 0);
    CHECK(z[2] == INT32_MIN);
    CHECK(z[3] == -64);
    CHECK(same_bits(r.scale.data<float>()[0], 4.0f / 255.0f));
    CHECK(same_bits(r.scale.data<float>()[1], 0.0f));
}

TEST_CASE("quant_fp8_static: x * (1/s), e4m3 ties to even, saturation, NaN stays NaN") {
    // s = 0.5 -> x * 2. 0.53125*2 = 1.0625: tie between 1.0 (0x38) and 1.125 (0x39) -> 0x38.
    // 0.59375*2 = 1.1875: tie between 1.125 (0x39) and 1.25 (0x3A) -> 0x3A.
    Tensor x = f32_matrix(1, 8, {1.0f, 0.53125f, 0.59375f, -300.0f, 1000.0f, kNaN, kInf, -kInf});
    auto r = ref::quant_fp8_static(x, 0.5f);
    CHECK(f8_codes(r) == std::vector<int>{0x40, 0x38, 0x3A, 0xFE, 0x7E, 0x7F, 0x7E, 0xFE});
    CHECK(r.q.dtype == DType::F8E4M3);
    CHECK(r.scale.data<float>()[0] == 0.5f);
}

TEST_CASE("quant_fp8_dynamic_per_token: floor, upper bound, zero/NaN/Inf rows") {
    // Row 0: amax 4, s = 4/448: x/s = -448 (0xFE), 224 (0x76), 56 (0x66).
    Tensor x = f32_matrix(5, 3, {-4.0f, 2.0f, 0.5f,      //
                                 0.0f, 0.0f, 0.0f,       // zero row: s = floor, codes 0
                                 1e-7f, -1e-7f, 0.0f,    // tiny row: s = floor
                                 kNaN, 1.0f, -0.25f,     // NaN ignored by amax, its code 0x7F
                                 kInf, 1.0f, -2.0f});    // Inf: s = Inf, Inf/Inf = NaN, 1/Inf = 0
    auto r = ref::quant_fp8_dynamic_per_token(x);
    const float fl = ref::kFp8MinScale;
    std::vector<int> want = {0xFE, 0x76, 0x66,  // -448, 224, 56
                             0, 0, 0,
                             o_e4m3(o_div(1e-7f, fl)), o_e4m3(o_div(-1e-7f, fl)), 0,
                             0x7F, 0x7E, 0xEE,  // NaN, 448, -112
                             0x7F, 0, 0x80};    // NaN, 0, -0
    CHECK(f8_codes(r) == want);
    const float* s = r.scale.data<float>();
    CHECK(same_bits(s[0], 4.0f / 448.0f));
    CHECK(same_bits(s[1], fl));
    CHECK(same_bits(s[2], fl));
    CHECK(same_bits(s[3], 1.0f / 448.0f));
    CHECK(s[4] == kInf);
    CHECK(fl == doctest::Approx(1.0 / 229376.0).epsilon(1e-7));

    // Upper bound 2: row 0 s = 2/448, so -4 saturates; the Inf row gets s = 2/448 too.
    auto u = ref::quant_fp8_dynamic_per_token(x, 2.0f);
    CHECK(same_bits(u.scale.data<float>()[0], 2.0f / 448.0f));
    CHECK(same_bits(u.scale.data<float>()[4], 2.0f / 448.0f));
    std::vector<int> got = f8_codes(u);
    CHECK(got[0] == 0xFE);
    CHECK(got[1] == 0x7E);
    CHECK(got[12] == 0x7E);  // Inf / s -> clamp 448
    CHECK(got[13] == 0x76);  // 1 / (2/448) = 224
}

TEST_CASE("quant_fp8_dynamic_per_tensor: amax over all rows, no floor, zero tensor") {
    Tensor x = f32_matrix(2, 2, {1.0f, 2.0f, -4.0f, 0.0f});
    auto r = ref::quant_fp8_dynamic_per_tensor(x);
    const float s = 4.0f / 448.0f;
    CHECK(same_bits(r.scale.data<float>()[0], s));
    CHECK(r.scale.shape == Shape{1});
    const float inv = o_div(1.0f, s);
    CHECK(f8_codes(r) == std::vector<int>{o_e4m3(o_mul(1.0f, inv)), o_e4m3(o_mul(2.0f, inv)),
                                          o_e4m3(o_mul(-4.0f, inv)), 0});
    auto z = ref::quant_fp8_dynamic_per_tensor(f32_matrix(2, 2, {0.0f, 0.0f, kNaN, 0.0f}));
    CHECK(same_bits(z.scale.data<float>()[0], 0.0f));
    CHECK(f8_codes(z) == std::vector<int>{0, 0, 0x7F, 0});
}

TEST_CASE("quant: f16 and bf16 inputs give the codes of their exact fp32 values") {
    for (DType dt : {DType::F16, DType::BF16}) {
        std::vector<float> vals;
        Tensor x = random_input(dt, 3, 17, -50.0f, 50.0f, 7, &vals);
        Tensor x32 = f32_matrix(3, 17, vals);
        CAPTURE(dtype_name(dt));
        CHECK(i8_codes(ref::quant_int8_dynamic_per_token(x)) == i8_codes(ref::quant_int8_dynamic_per_token(x32)));
        CHECK(i8_codes(ref::quant_int8_static(x, 0.1f)) == i8_codes(ref::quant_int8_static(x32, 0.1f)));
        CHECK(f8_codes(ref::quant_fp8_dynamic_per_token(x)) == f8_codes(ref::quant_fp8_dynamic_per_token(x32)));
    }
}

TEST_CASE("quant: M = 0 gives empty codes") {
    auto r = ref::quant_int8_dynamic_per_token(Tensor::empty(DType::BF16, {0, 8}));
    CHECK(r.q.shape == Shape{0, 8});
    CHECK(r.scale.shape == Shape{0, 1});
    auto t = ref::quant_fp8_dynamic_per_tensor(Tensor::empty(DType::BF16, {0, 8}));
    CHECK(t.scale.data<float>()[0] == 0.0f);
}

// ---- error paths ---------------------------------------------------------------------

TEST_CASE("quant: bad static scales, scale_ub and x are errors naming the parameter") {
    Tensor x = f32_matrix(1, 2, {1.0f, 2.0f});
    for (float bad : {0.0f, -1.0f, kNaN, kInf, 1e-40f}) {
        CAPTURE(bad);
        check_error([&] { ref::quant_int8_static(x, bad); }, "scale");
        check_error([&] { ref::quant_int8_static_azp(x, bad, 0); }, "scale");
        check_error([&] { ref::quant_fp8_static(x, bad); }, "scale");
    }
    check_error([&] { ref::quant_int8_static(x, -2.5f); }, "found -2.5");
    check_error([&] { ref::quant_fp8_dynamic_per_token(x, kNaN); }, "scale_ub");
    check_error([&] { ref::quant_int8_dynamic_per_token(Tensor::empty(DType::F32, {4})); }, "x: expected shape [M, H]");
    check_error([&] { ref::quant_int8_dynamic_per_token(Tensor::empty(DType::F32, {2, 2, 2})); }, "found [2, 2, 2]");
    check_error([&] { ref::quant_fp8_dynamic_per_tensor(Tensor::empty(DType::F32, {3, 0})); }, "H >= 1");
    check_error([&] { ref::quant_fp8_static(Tensor::empty(DType::I8, {2, 2}), 1.0f); }, "found i8");
}

// ---- random data in vLLM's ranges against the double oracle ----------------------------

TEST_CASE("quant: random vLLM-range data matches the double-precision oracle exactly") {
    const int64_t shapes[][2] = {{1, 17}, {7, 1025}, {2, 1026}, {3, 5137}, {33, 100}};
    uint64_t seed = 100;
    for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
        for (auto& sh : shapes) {
            const int64_t m = sh[0], h = sh[1];
            ++seed;
            std::vector<float> v;
            // int8 static: x = rand*1000 with s in {0.1, 2.1} (lots of saturation at 0.1).
            Tensor x = random_input(dt, m, h, 0.0f, 1000.0f, seed, &v);
            for (float s : {0.1f, 2.1f}) {
                std::vector<int> want;
                for (float e : v) want.push_back(o_sat8(o_div(e, s)));
                check_codes("quant_int8_static", m, h, seed, want, i8_codes(ref::quant_int8_static(x, s)));
                for (int32_t azp : {-255, 54}) {
                    std::vector<int> wz;
                    for (float e : v) wz.push_back(o_clamp8(o_sat32(o_mul(e, o_div(1.0f, s))) + azp));
                    check_codes("quant_int8_static_azp", m, h, seed, wz,
                                i8_codes(ref::quant_int8_static_azp(x, s, azp)));
                }
            }
            // int8 dynamic per token: x = rand*1000 (vLLM) shifted to both signs.
            Tensor xd = random_input(dt, m, h, -1000.0f, 1000.0f, seed + 1000, &v);
            {
                auto r = ref::quant_int8_dynamic_per_token(xd);
                std::vector<int> want;
                for (int64_t i = 0; i < m; ++i) {
                    float a = 0;
                    for (int64_t j = 0; j < h; ++j) a = std::max(a, std::fabs(v[i * h + j]));
                    CHECK(same_bits(r.scale.data<float>()[i], o_div(a, 127.0f)));
                    float inv = a == 0 ? 0.0f : o_div(127.0f, a);
                    for (int64_t j = 0; j < h; ++j) want.push_back(o_sat8(o_mul(v[i * h + j], inv)));
                }
                check_codes("quant_int8_dynamic_per_token", m, h, seed, want, i8_codes(r));
            }
            // int8 dynamic azp: x = rand*1000 - 300.
            Tensor xa = random_input(dt, m, h, -300.0f, 700.0f, seed + 2000, &v);
            {
                auto r = ref::quant_int8_dynamic_per_token_azp(xa);
                std::vector<int> want;
                for (int64_t i = 0; i < m; ++i) {
                    float mn = v[i * h], mx = v[i * h];
                    for (int64_t j = 0; j < h; ++j) mn = std::min(mn, v[i * h + j]), mx = std::max(mx, v[i * h + j]);
                    float s = o_div(o_sub(mx, mn), 255.0f);
                    int64_t azp = o_sat32(o_sub(-128.0f, o_div(mn, s)));
                    CHECK(same_bits(r.scale.data<float>()[i], s));
                    CHECK(r.azp.data<int32_t>()[i] == azp);
                    float inv = o_div(1.0f, s);
                    for (int64_t j = 0; j < h; ++j) want.push_back(o_clamp8(o_sat32(o_mul(v[i * h + j], inv)) + azp));
                }
                check_codes("quant_int8_dynamic_per_token_azp", m, h, seed, want, i8_codes(r));
            }
            // fp8: x = rand + 1e-6 (vLLM), signs mixed; ub = mean or none; static s in {0.1, 2.1}.
            Tensor xf = random_input(dt, m, h, -1.0f, 1.0f, seed + 3000, &v);
            for (float ub : {0.0f, 0.3f}) {
                auto r = ref::quant_fp8_dynamic_per_token(xf, ub);
                std::vector<int> want;
                for (int64_t i = 0; i < m; ++i) {
                    float a = 0;
                    for (int64_t j = 0; j < h; ++j) a = std::max(a, std::fabs(v[i * h + j]));
                    if (ub > 0) a = std::min(a, ub);
                    float s = std::max(o_div(a, 448.0f), o_div(1.0f, 229376.0f));
                    CHECK(same_bits(r.scale.data<float>()[i], s));
                    for (int64_t j = 0; j < h; ++j) want.push_back(o_e4m3(o_div(v[i * h + j], s)));
                }
                check_codes("quant_fp8_dynamic_per_token", m, h, seed, want, f8_codes(r));
            }
            {
                auto r = ref::quant_fp8_dynamic_per_tensor(xf);
                float a = 0;
                for (float e : v) a = std::max(a, std::fabs(e));
                float s = o_div(a, 448.0f), inv = o_div(1.0f, s);
                CHECK(same_bits(r.scale.data<float>()[0], s));
                std::vector<int> want;
                for (float e : v) want.push_back(o_e4m3(o_mul(e, inv)));
                check_codes("quant_fp8_dynamic_per_tensor", m, h, seed, want, f8_codes(r));
            }
            for (float s : {0.1f, 2.1f}) {
                std::vector<int> want;
                float inv = o_div(1.0f, s);
                for (float e : v) want.push_back(o_e4m3(o_mul(e, inv)));
                check_codes("quant_fp8_static", m, h, seed, want, f8_codes(ref::quant_fp8_static(xf, s)));
            }
        }
    }
}
