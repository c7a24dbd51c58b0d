// IEEE binary16 ("fp16", "half") and bfloat16 ("bf16") <-> fp32.
//
//   fp16: 1 sign, 5 exponent (bias 15), 10 mantissa. Max 65504, min normal 2^-14,
//         subnormals down to 2^-24. Exponent 31: Inf (mantissa 0) or NaN.
//   bf16: 1 sign, 8 exponent (bias 127), 7 mantissa: the top half of an fp32.
//
// fp32 -> 16 bit rounds to nearest, ties to even (IEEE default), overflows to
// Inf, keeps subnormals, and turns NaN into a quiet NaN of the same sign.
// 16 bit -> fp32 is exact.
#pragma once
#include "formats/hd.h"

namespace ctk {

CTK_HD float bf16_to_float(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

CTK_HD uint16_t bf16_from_float(float x) {
    uint32_t u = f32_bits(x);
    if (f32_is_nan(x)) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
    // Round to nearest even on the 16 dropped bits: add 0x7FFF plus the lowest kept bit.
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

CTK_HD float fp16_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | (mant << 13));  // Inf / NaN
    if (exp == 0) {
        // Zero or subnormal: mant * 2^-24, exact in fp32.
        float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
        return f32_from_bits(sign | f32_bits(v));
    }
    return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

CTK_HD uint16_t fp16_from_float(float x) {
    uint32_t u = f32_bits(x);
    uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // NaN
    if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to Inf
    if (a < 0x38800000u) {
        // Below 2^-14: fp16 subnormal, step 2^-24. |x| * 2^24 is exact in fp32 and
        // the rounding of that product to an integer is the fp16 rounding (RNE).
        float scaled = f32_from_bits(a) * 16777216.0f;
        uint32_t q = static_cast<uint32_t>(scaled);
        float frac = scaled - static_cast<float>(q);
        if (frac > 0.5f || (frac == 0.5f && (q & 1u))) ++q;
        return static_cast<uint16_t>(sign | q);  // q == 1024 gives the min normal, correctly
    }
    // Normal: rebias exponent (127 -> 15) and round 23 -> 10 mantissa bits, ties to even.
    uint32_t r = a + 0xFFFu + ((a >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((r - (112u << 23)) >> 13));
}

}  // namespace ctk
