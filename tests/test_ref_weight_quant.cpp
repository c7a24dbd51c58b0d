// compressed-tensors' 8-bit RTN weight quantizer (ref/weight_quant.h) on hand-worked
// rows: the int8 half-range 127.5, ties to even, the clamp, zero rows, -0, fp8 codes,
// and the bf16 rounding of w / scale before the integer rounding.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "formats/formats.h"
#include "ref/tensor_math.h"
#include "ref/weight_quant.h"

using namespace ctk;

namespace {
Tensor f32_tensor(const Shape& s, std::initializer_list<float> v) {
    Tensor t = Tensor::empty(DType::F32, s);
    std::copy(v.begin(), v.end(), t.data<float>());
    return t;
}
}  // namespace

TEST_CASE("weight_quant: int8 per channel, f32 weights") {
    // Row 0: amax 127.5 -> scale 1: 127.5 clamps to 127, -2.5 -> -2 and 0.5 -> 0 (ties to even), -0 -> 0.
    // Row 1: all zero -> scale 2^-23 (torch.finfo(float32).eps), codes 0.
    // Row 2: amax 255 -> scale 2: -127.5 -> -128 (tie to even, inside the range), 0.5 -> 0, 1, 1.5 -> 2.
    Tensor w = f32_tensor({3, 4}, {127.5f, -2.5f, 0.5f, -0.0f, 0, 0, 0, 0, -255.0f, 1.0f, 2.0f, 3.0f});
    ref::QuantizedWeight q = ref::quantize_weight_8bit(w, DType::I8, true);
    const int8_t want[12] = {127, -2, 0, 0, 0, 0, 0, 0, -128, 0, 1, 2};
    REQUIRE(q.q.dtype == DType::I8);
    CHECK(std::memcmp(q.q.raw(), want, sizeof want) == 0);
    REQUIRE(q.scale.dtype == DType::F32);
    CHECK(q.scale.shape == Shape{3, 1});
    CHECK(q.scale.data<float>()[0] == 1.0f);
    CHECK(q.scale.data<float>()[1] == std::ldexp(1.0f, -23));
    CHECK(q.scale.data<float>()[2] == 2.0f);
}

TEST_CASE("weight_quant: a zero scale becomes eps of the weight dtype, a tiny one is kept") {
    // What compressed-tensors 0.14.0.1's calculate_qparams returns (run through the real
    // library, tests/interop): a scale of exactly 0 is replaced by torch.finfo(dtype).eps
    // (bf16 2^-7, f32 2^-23); a tiny nonzero scale (amax 1e-30 -> 1e-30 / 127.5) is kept.
    Tensor wf = f32_tensor({2, 4}, {0, 0, 0, 0, 1e-30f, -1e-30f, 0, 0});
    ref::QuantizedWeight qf = ref::quantize_weight_8bit(wf, DType::I8, true);
    CHECK(qf.scale.data<float>()[0] == std::ldexp(1.0f, -23));
    CHECK(qf.scale.data<float>()[1] == 1e-30f / 127.5f);  // library: 7.843137080976313e-33
    CHECK(qf.q.data<int8_t>()[4] == 127);                  // 127.5 clamps to 127, as for any row
    Tensor wb = ref::from_f32(wf, DType::BF16);
    ref::QuantizedWeight qb = ref::quantize_weight_8bit(wb, DType::I8, true);
    REQUIRE(qb.scale.dtype == DType::BF16);
    CHECK(bf16_to_float(qb.scale.data<bf16_t>()[0].bits) == std::ldexp(1.0f, -7));
    CHECK(bf16_to_float(qb.scale.data<bf16_t>()[1].bits) == 7.848164523377986e-33f);  // the library's bf16 scale
    ref::QuantizedWeight qt = ref::quantize_weight_8bit(ref::from_f32(f32_tensor({1, 4}, {0, 0, 0, 0}), DType::BF16),
                                                        DType::F8E4M3, false);
    CHECK(bf16_to_float(qt.scale.data<bf16_t>()[0].bits) == std::ldexp(1.0f, -7));
}

TEST_CASE("weight_quant: fp8 per tensor, f32 weights") {
    // amax 896 -> scale 2: 448 -> 0x7E (max), -0 -> +0 (0x00, the +0 added after the division),
    // 3 -> 0x44 (1.5 * 2^1), -0.5 -> 0xB0 (sign | exponent 6 << 3).
    Tensor w = f32_tensor({2, 2}, {896.0f, -0.0f, 6.0f, -1.0f});
    ref::QuantizedWeight q = ref::quantize_weight_8bit(w, DType::F8E4M3, false);
    const uint8_t want[4] = {0x7E, 0x00, 0x44, 0xB0};
    CHECK(std::memcmp(q.q.raw(), want, sizeof want) == 0);
    CHECK(q.scale.shape == Shape{1});
    CHECK(q.scale.data<float>()[0] == 2.0f);
}

TEST_CASE("weight_quant: bf16 weights round w / scale to bf16 before the integer") {
    // amax 1 -> 1/127.5 = 1.0039 * 2^-7 -> bf16 (1 + 1/128) * 2^-7 = 129/16384, bits 0x3C01.
    // 1.0 / s = 127.008 -> bf16 127 -> 127.
    // 0.79296875 / s = 12992/129 = 100.713 -> bf16 100.5 (spacing 0.5) -> 100 (tie to even);
    //   rounding the exact quotient would give 101.
    // -0.5 / s = -63.504 -> bf16 -63.5 (spacing 0.25) -> -64.
    Tensor w = Tensor::empty(DType::BF16, {1, 4});
    const float vals[4] = {1.0f, 0.79296875f, -0.5f, 0.0f};
    for (int i = 0; i < 4; ++i) w.data<bf16_t>()[i].bits = bf16_from_float(vals[i]);
    ref::QuantizedWeight q = ref::quantize_weight_8bit(w, DType::I8, true);
    const int8_t want[4] = {127, 100, -64, 0};
    CHECK(std::memcmp(q.q.raw(), want, sizeof want) == 0);
    REQUIRE(q.scale.dtype == DType::BF16);
    CHECK(q.scale.data<bf16_t>()[0].bits == 0x3C01);
}

TEST_CASE("weight_quant: bad input") {
    Tensor w = f32_tensor({2, 2}, {1.0f, NAN, 0.0f, 1.0f});
    CHECK_THROWS_WITH_AS(ref::quantize_weight_8bit(w, DType::I8, true),
                         doctest::Contains("at row 0, column 1"), Error);
    CHECK_THROWS_WITH_AS(ref::quantize_weight_8bit(f32_tensor({2}, {1, 2}), DType::I8, true),
                         doctest::Contains("expected a 2-D"), Error);
    CHECK_THROWS_WITH_AS(ref::quantize_weight_8bit(f32_tensor({1, 2}, {1, 2}), DType::U8, true),
                         doctest::Contains("output must be i8 or f8e4m3"), Error);
}
