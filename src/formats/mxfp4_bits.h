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
// The same as f16: e2m1 * 2^-14.
CTK_HD uint32_t e2m1x2_placed_f16(uint32_t word, int J) {
    const uint32_t v = word << (4 * (3 - J));
    return (v & 0x80008000u) | ((v >> 3) & 0x0E000E00u);
}

// ---- The bf16 word layout: bit-sliced codes (what the kernels read for bf16) ----------
// The shift form above spends 3-4 integer operations per pair (15 per word) moving each
// code's sign 12 bits and its E1 E0 M 6 bits. The repack can instead store a bf16 layer's
// word with its 32 bits permuted so that each pair is ALREADY where its register wants it,
// up to one rotation (bf16 target of a pair: mask 0x81C081C0, i.e. sign at bits 15 / 31
// and E1 E0 M at 8..6 / 24..22):
//   pair 0: w & M                      1 operation (the bits are in place)
//   pair 1: rotr(w, 3) & M             2 (a funnel shift, an AND)
//   pair 2: rotr(w, 6) & M             2
//   pair 3: ((w & 0x001B001B) * (2^14 + 2^8 + 2^3)) & M      3 (AND, IMAD, AND)
// 8 operations per word instead of 15. Four rotations cannot tile the 32 bits (no four
// translates of {15, 8, 7, 6} tile Z16; searched exhaustively), so pair 3 takes the 12
// bits the first three leave (0, 1, 3, 4 and +16) and one multiply makes three shifted
// copies of them at once: sign 1 -> 15 (x 2^14), E1 0 -> 8 (x 2^8), E0 4 -> 7 and M 3 -> 6
// (x 2^3); the copies occupy disjoint bits, so no carry reaches a kept bit.
// Bit positions of (sign, E1, E0, M) of pair J's low-half code (nibble J of the logical
// word); the high-half code (nibble J + 4) sits 16 bits higher, mod 32.
CTK_HD int e2m1_bf16_sliced_bit(int J, int b) {
    constexpr int pos[4][4] = {{15, 8, 7, 6}, {18, 11, 10, 9}, {21, 14, 13, 12}, {1, 0, 4, 3}};
    return pos[J][b];
}
// Logical word (nibble i = code i, ref/mxfp4_repack.h) -> the bf16 sliced word.
CTK_HD uint32_t e2m1_word_slice_bf16(uint32_t nibbles) {
    uint32_t out = 0;
    for (int J = 0; J < 4; ++J)
        for (int h = 0; h < 2; ++h) {
            const uint32_t code = (nibbles >> (4 * (J + 4 * h))) & 0xFu;
            for (int b = 0; b < 4; ++b)
                out |= ((code >> (3 - b)) & 1u) << ((e2m1_bf16_sliced_bit(J, b) + 16 * h) & 31);
        }
    return out;
}
// The inverse: the bf16 sliced word -> the logical word.
CTK_HD uint32_t e2m1_word_unslice_bf16(uint32_t sliced) {
    uint32_t out = 0;
    for (int J = 0; J < 4; ++J)
        for (int h = 0; h < 2; ++h)
            for (int b = 0; b < 4; ++b)
                out |= ((sliced >> ((e2m1_bf16_sliced_bit(J, b) + 16 * h) & 31)) & 1u) << (4 * (J + 4 * h) + 3 - b);
    return out;
}
CTK_HD uint32_t rotate_right(uint32_t w, int r) {
#if defined(__CUDA_ARCH__)
    return __funnelshift_r(w, w, r);
#else
    return (w >> r) | (w << ((32 - r) & 31));
#endif
}
// Pair J of a bf16 sliced word, placed: the same bits as e2m1x2_placed_bf16 of the logical
// word (e2m1 * 2^-126 in each half).
CTK_HD uint32_t e2m1x2_placed_bf16_sliced(uint32_t w, int J) {
    constexpr uint32_t kMask = 0x81C081C0u;
    switch (J) {
        case 0: return w & kMask;
        case 1: return rotate_right(w, 3) & kMask;
        case 2: return rotate_right(w, 6) & kMask;
        default: return ((w & 0x001B001Bu) * 0x4108u) & kMask;
    }
}

// 16-bit bits of 2^(126 + e) (bf16) and 2^(14 + e) (f16), e = code - 127 - shift, the
// factor that turns a placed pair into e2m1 * 2^e. Valid (a normal number) for e in
// [-252, 1] (bf16) and [-28, 1] (f16); the fold plan keeps e inside [-100, 1] / [-23, 1].
// code 255 (the NaN scale) gives NaN, which makes the whole block NaN.
CTK_HD uint16_t e8m0_folded_factor_bf16(uint32_t code, int shift) {
    if (code == 255) return 0x7FC0;
    // Unsigned shift: outside the valid range the field goes negative, and the bits (the
    // test of the Inf hazard reads them) must not depend on undefined behaviour.
    return static_cast<uint16_t>(static_cast<uint32_t>(static_cast<int>(code) - shift + 126) << 7);  // 127 + 126 + e
}
CTK_HD uint16_t e8m0_folded_factor_f16(uint32_t code, int shift) {
    if (code == 255) return 0x7E00;
    return static_cast<uint16_t>(static_cast<uint32_t>(static_cast<int>(code) - shift - 98) << 10);  // 15 + 14 + e
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
