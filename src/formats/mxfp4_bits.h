// The integer half of the kernels' E2M1 -> bf16/f16 conversion (cuda/mxfp4_gemm.cu),
// host+device so the CPU tests can check it exhaustively.
//
// A fragment word holds 8 E2M1 codes, one per nibble (ref/mxfp4_repack.h). The kernels
// turn nibbles J and J+4 into one register of two 16-bit floats:
//
//   v = word << 4 (3 - J)          nibble J -> bits 12..15, nibble J+4 -> bits 28..31
//   each of them is  S E1 E0 M:    the sign is already at a 16-bit float's sign bit
//   bf16 (S EEEEEEEE MMMMMMM):     (v >> 6) & 0x01C001C0 puts E1 E0 M at bits 8, 7, 6
//                                  = exponent field E, top mantissa bit M
//                                  -> the value e2m1 * 2^-126 (E = 0 gives the subnormal
//                                     M * 2^-127 = 0.5 * 2^-126: right as well)
//   f16  (S EEEEE MMMMMMMMMM):     (v >> 3) & 0x0E000E00 puts them at bits 11, 10, 9
//                                  -> e2m1 * 2^-14
//
// Two logic operations per pair, no table. One multiply by a power of two then gives the
// true value: by 2^126 / 2^14 (e2m1 alone, v2), or by 2^(126 + e) / 2^(14 + e) to get
// e2m1 * 2^e with the block scale folded in (v3; needs e <= 1 so that the factor is a
// 16-bit number). Both products are exact.
#pragma once
#include "formats/hd.h"

namespace ctk {

// Low half from nibble J, high half from nibble J + 4 of `word`: e2m1 * 2^-126 as bf16.
CTK_HD uint32_t e2m1x2_placed_bf16(uint32_t word, int J) {
    const uint32_t v = word << (4 * (3 - J));
    return (v & 0x80008000u) | ((v >> 6) & 0x01C001C0u);
}
// The same bits for bf16 with fewer integer operations (what the kernels use): for pairs
// 0 and 1, mask the two nibbles, then ONE multiply by 2^12 + 2^6 (pair 0) or 2^8 + 2^2
// (pair 1) makes both shifted copies at once, the sign at bit 15 and E1 E0 M at bits
// 8..6 of each half; the copies occupy disjoint bits (no carry), so the product is their
// OR, and a final mask keeps the wanted bits. Pairs 2 and 3 are pairs 0 and 1 of
// word >> 8. Per 8-code word: 1 shift + 4 x (and, multiply, and) = 13 integer
// operations instead of 15. f16 has no such form: its sign (shift 12) and E1 E0 M
// (shift 9 -> 11..9) copies would overlap.
CTK_HD uint32_t e2m1x2_placed_bf16_mul(uint32_t word, int J) {
    const uint32_t w = J >= 2 ? word >> 8 : word;
    const int j = J & 1;
    const uint32_t two_nibbles = w & (0x000F000Fu << (4 * j));
    return (two_nibbles * (j ? 0x104u : 0x1040u)) & 0x81C081C0u;
}
// The same as f16: e2m1 * 2^-14.
CTK_HD uint32_t e2m1x2_placed_f16(uint32_t word, int J) {
    const uint32_t v = word << (4 * (3 - J));
    return (v & 0x80008000u) | ((v >> 3) & 0x0E000E00u);
}

// 16-bit bits of 2^(126 + e) (bf16) and 2^(14 + e) (f16), e = code - 127 - shift, the
// factor that turns a placed pair into e2m1 * 2^e. Valid (a normal number) for e in
// [-252, 1] (bf16) and [-28, 1] (f16); the fold plan keeps e inside [-100, 1] / [-23, 1].
// code 255 (the NaN scale) gives NaN, which makes the whole block NaN.
CTK_HD uint16_t e8m0_folded_factor_bf16(uint32_t code, int shift) {
    if (code == 255) return 0x7FC0;
    return static_cast<uint16_t>((static_cast<int>(code) - shift + 126) << 7);  // field 127 + 126 + e
}
CTK_HD uint16_t e8m0_folded_factor_f16(uint32_t code, int shift) {
    if (code == 255) return 0x7E00;
    return static_cast<uint16_t>((static_cast<int>(code) - shift - 98) << 10);  // field 15 + 14 + e
}

// v5 (cuda/mxfp4_gemv.cu): the folded factors of byte B of a scale word in both 16-bit
// halves at once, the bits of e8m0_folded_factor_bf16/f16(code, shift) twice. The code
// goes into both halves (t = code * 0x10001; one prmt on the GPU), then one 32-bit
// multiply-add: t * 2^7 + (126 - shift) * 2^7 * 0x10001 (bf16 field 127 + 126 + e), or
// t * 2^10 + (-98 - shift) * 2^10 * 0x10001 (f16 field 15 + 14 + e), mod 2^32. Each half's
// true value lies in [0, 2^16) for every code inside the fold window, so no carry or
// borrow crosses between the halves and the sum is both factors side by side. A code
// outside the window (only 255: the padding code is the layer's smallest, formats/mxfp4.h)
// gives garbage: callers handle 255 themselves (and v5/v7 skip padded half chunks anyway).
CTK_HD uint32_t e8m0_folded_factor_x2_add(int shift, bool bf16) {
    const int half = bf16 ? (126 - shift) * 128 : (-98 - shift) * 1024;
    return static_cast<uint32_t>(half) * 0x10001u;
}
template <int B>
CTK_HD uint32_t e8m0_folded_factor_x2(uint32_t scale_word, uint32_t add, bool bf16) {
#if defined(__CUDA_ARCH__)
    const uint32_t t = __byte_perm(scale_word, 0u, B | (4 << 4) | (B << 8) | (4 << 12));  // 4: a zero byte
#else
    const uint32_t t = ((scale_word >> (8 * B)) & 0xFFu) * 0x10001u;
#endif
    return t * (bf16 ? 128u : 1024u) + add;
}

}  // namespace ctk
