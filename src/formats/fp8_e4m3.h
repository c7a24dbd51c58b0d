// fp8 e4m3fn (OCP "E4M3", PyTorch float8_e4m3fn): 1 sign, 4 exponent (bias 7),
// 3 mantissa, no Inf. Codes 0x7F and 0xFF are NaN; everything else is finite.
//   max 448 (0x7E), min normal 2^-6 (0x08), subnormals k * 2^-9 for k = 1..7.
//
// Encoding follows vLLM's quantizers: clamp to [-448, 448], then convert with
// round-to-nearest-even (the clamp means Inf saturates to +-448). NaN stays NaN
// (canonical 0x7F). Note: vLLM's CUDA clamp uses fminf/fmaxf, which would turn NaN
// into 448; we keep the NaN so that bad activations stay visible (docs/quant.md).
#pragma once
#include "formats/hd.h"

namespace ctk {

constexpr float kE4M3Max = 448.0f;

CTK_HD float e4m3_to_float(uint8_t c) {
    uint32_t sign = static_cast<uint32_t>(c & 0x80u) << 24;
    uint32_t exp = (c >> 3) & 0xFu;
    uint32_t mant = c & 0x7u;
    if (exp == 0xF && mant == 0x7) return f32_from_bits(sign | 0x7FC00000u);  // NaN
    if (exp == 0) {
        float v = static_cast<float>(mant) * 0.001953125f;  // mant * 2^-9
        return f32_from_bits(sign | f32_bits(v));
    }
    return f32_from_bits(sign | ((exp + 120u) << 23) | (mant << 20));
}

// Clamp that keeps NaN (a plain comparison chain: NaN fails both tests).
CTK_HD float e4m3_clamp(float x) { return x > kE4M3Max ? kE4M3Max : (x < -kE4M3Max ? -kE4M3Max : x); }

CTK_HD uint8_t e4m3_from_float(float x) {
    if (f32_is_nan(x)) return 0x7F;
    uint32_t u = f32_bits(x);
    uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a >= 0x43E00000u) return static_cast<uint8_t>(sign | 0x7E);  // |x| >= 448: saturate
    if (a < 0x3C800000u) {
        // Below 2^-6: subnormal, step 2^-9. |x| * 512 is exact; round it to an integer.
        float scaled = f32_from_bits(a) * 512.0f;
        uint32_t q = static_cast<uint32_t>(scaled);
        float frac = scaled - static_cast<float>(q);
        if (frac > 0.5f || (frac == 0.5f && (q & 1u))) ++q;
        return static_cast<uint8_t>(sign | q);  // q == 8 is the min normal 0x08
    }
    // Normal: round 23 -> 3 mantissa bits (ties to even), rebias 127 -> 7.
    // |x| < 448 guarantees the result is at most 0x7E (448).
    uint32_t r = a + 0x7FFFFu + ((a >> 20) & 1u);
    return static_cast<uint8_t>(sign | ((r - (120u << 23)) >> 20));
}

}  // namespace ctk
