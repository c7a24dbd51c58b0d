// MXFP4 = E2M1 elements, 32 per block, sharing one E8M0 scale (OCP MX v1.0).
//
// E2M1 (4 bits, S E1 E0 M, bias 1, no Inf/NaN): the 16 codes are
//   0x0..0x7 = +0, 0.5, 1, 1.5, 2, 3, 4, 6      0x8..0xF = the same, negative.
// E8M0 (8 bits, unsigned exponent, bias 127): value 2^(code-127); code 0 is 2^-127
//   (an fp32/bf16 subnormal), code 255 is NaN (the whole block decodes to NaN).
//
// Packing (compressed-tensors "mxfp4-pack-quantized"): two codes per byte along K,
//   byte[n][j] = code(W[n][2j]) | code(W[n][2j+1]) << 4   (even column in the low nibble).
#pragma once
#include <string>

#include "core/error.h"
#include "formats/hd.h"

namespace ctk {

constexpr int kMxBlock = 32;       // elements per E8M0 scale
constexpr float kE2M1Max = 6.0f;
constexpr uint8_t kE8M0Nan = 255;

CTK_HD float e2m1_to_float(uint8_t code) {
    // Magnitudes of codes 0..7 (a switch, not a table, so it also works in device code).
    float m;
    switch (code & 7) {
        case 0: m = 0.0f; break;
        case 1: m = 0.5f; break;
        case 2: m = 1.0f; break;
        case 3: m = 1.5f; break;
        case 4: m = 2.0f; break;
        case 5: m = 3.0f; break;
        case 6: m = 4.0f; break;
        default: m = 6.0f; break;
    }
    return (code & 8) ? -m : m;
}

// Nearest E2M1 code, ties to the even code (mantissa bit 0), saturating at +-6.
// This is compressed-tensors' cast_to_fp4 (thresholds 0.25, 0.75, 1.25, 1.75,
// 2.5, 3.5, 5; a tie goes down at 0.25, 1.25, 2.5, 5 and up at 0.75, 1.75, 3.5).
// The sign bit of x is bit 3 of the code, so a negative value that rounds to zero is
// stored as -0 (code 0x8): compressed-tensors writes it so (checked against its 0.14
// and 0.20 releases, tests/interop/check_compressed_tensors.py). NaN has no E2M1 code:
// callers must reject it (the quantizer does); here it maps to magnitude 0.
CTK_HD uint8_t e2m1_from_float(float x) {
    float a = x < 0.0f ? -x : x;
    uint8_t m;
    if (!(a > 0.25f)) m = 0;  // also NaN
    else if (a < 0.75f) m = 1;
    else if (a <= 1.25f) m = 2;
    else if (a < 1.75f) m = 3;
    else if (a <= 2.5f) m = 4;
    else if (a < 3.5f) m = 5;
    else if (a <= 5.0f) m = 6;
    else m = 7;
    return (f32_bits(x) >> 31) ? static_cast<uint8_t>(m | 8) : m;
}

// 2^(code-127) as fp32; NaN for 255, the subnormal 2^-127 for 0.
CTK_HD float e8m0_to_float(uint8_t code) {
    if (code == kE8M0Nan) return f32_from_bits(0x7FC00000u);
    if (code == 0) return f32_from_bits(0x00400000u);
    return f32_from_bits(static_cast<uint32_t>(code) << 23);
}

// How the shared exponent of a block is chosen from the block's max |w|.
enum class MxScaleRule : uint8_t {
    Even,   // compressed-tensors / llm-compressor: round amax to a power of two first
            // (up when its mantissa is >= 1.75), then floor(log2) - 2. Block max lands in [3.5, 7).
    Floor,  // OCP MX spec: floor(log2(amax)) - 2. Block max lands in [4, 8), may saturate to 6.
};

// E8M0 code for a block whose largest magnitude is amax (finite, >= 0).
// code = 127 + floor(log2(p)) - 2 where p = amax (Floor) or amax rounded to a power
// of two (Even); clamped to [0, 254]. A zero block gets code 0, like log2(0) = -inf
// clamped in compressed-tensors.
CTK_HD uint8_t e8m0_block_scale(float amax, MxScaleRule rule) {
    uint32_t u = f32_bits(amax) & 0x7FFFFFFFu;
    if (rule == MxScaleRule::Even) u = (u + (1u << 21)) & 0x7F800000u;  // +0.25 of the mantissa, keep exponent
    int exp_field = static_cast<int>(u >> 23);          // 127 + floor(log2(p)) for normal p
    if (exp_field == 0) return 0;                        // zero or subnormal amax
    int code = exp_field - 2;
    return static_cast<uint8_t>(code < 0 ? 0 : (code > 254 ? 254 : code));
}

// Pack / unpack two codes in one byte, even column in the low nibble.
CTK_HD uint8_t mxfp4_pack(uint8_t even_code, uint8_t odd_code) {
    return static_cast<uint8_t>((even_code & 0xF) | ((odd_code & 0xF) << 4));
}
CTK_HD uint8_t mxfp4_unpack_even(uint8_t byte) { return byte & 0xF; }
CTK_HD uint8_t mxfp4_unpack_odd(uint8_t byte) { return byte >> 4; }

// A 32-block whose 16 packed bytes hold only +0 / -0 codes (magnitude bits 0): its scale
// cannot change any product, so the kernel layout treats it like padding (below) and the
// fold plan ignores its code. Quantizers give such blocks code 0 (amax 0), and one of
// them would otherwise stretch the layer's code range past what folds.
CTK_HD bool mxfp4_block_is_zero(const uint8_t* block_bytes) {
    for (int i = 0; i < kMxBlock / 2; ++i)
        if (block_bytes[i] & 0x77) return false;
    return true;
}

// Whether the block (its 16 packed bytes) under scale `code` holds a weight
// e2m1 * 2^(code - 127) of magnitude 2^128 or more, which no fp32, bf16 or f16 value holds:
// code 254 with |e2m1| >= 2 (magnitude codes 4..7), code 253 with |e2m1| >= 4 (codes 6, 7).
// Code 255 is the NaN block of the format, not an overflow. The layers reject such a weight
// (mxfp4_overflow_message) rather than run it as Inf.
CTK_HD bool mxfp4_block_overflows(const uint8_t* block_bytes, uint8_t code) {
    if (code < 253 || code == kE8M0Nan) return false;
    const int first_bad = code == 254 ? 4 : 6;  // 2^127 * 2 and 2^126 * 4 are 2^128
    for (int i = 0; i < kMxBlock / 2; ++i)
        if ((mxfp4_unpack_even(block_bytes[i]) & 7) >= first_bad || (mxfp4_unpack_odd(block_bytes[i]) & 7) >= first_bad)
            return true;
    return false;
}
inline std::string mxfp4_overflow_message(int64_t row, int64_t block, int code) {
    return cat("weight_scale: row ", row, ", block ", block, " (columns ", block * kMxBlock, "..",
               block * kMxBlock + kMxBlock - 1, ") has scale code ", code, " and an element whose value e2m1 * 2^",
               code - 127, " is >= 2^128: no fp32/bf16/f16 value holds it");
}

// The scale code of the padding blocks of the kernel layout (ref/mxfp4_repack.h): the
// layer's smallest finite code, or 127 when it has none (min_code > max_code). Padded
// weights have code 0, and the kernels that fold the scale into the 16-bit weight
// multiply them by 2^(code - 127 - shift) in 16 bits: a code inside the layer's fold
// window gives a normal factor and so an exact zero, while a fixed code such as 127 can
// fall outside it (e.g. bf16 codes 25..40, shift -2: 2^128 = Inf) and give 0 x Inf = NaN.
CTK_HD uint8_t mxfp4_pad_scale_code(int min_code, int max_code) {
    return static_cast<uint8_t>(min_code <= max_code ? min_code : 127);
}

}  // namespace ctk
