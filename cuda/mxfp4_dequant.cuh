// Device helpers shared by the MXFP4 GEMM rungs (cuda/mxfp4_gemm.cu: v1-v3,
// cuda/mxfp4_gemm_sm90.cu: v4/v6, cuda/mxfp4_gemv.cu: v5, cuda/mxfp4_decode_bulk.cu: v7):
// the E2M1 -> bf16/f16 bit placement (formats/mxfp4_bits.h), the folded dequantization of
// one mma A fragment (scale folded in, exact by the fold plan, docs/mxfp4.md section 5),
// the decode rungs' per-chunk step, and the 128-byte swizzle that wgmma descriptors
// describe. Activation <-> fp32 conversions: convert16.cuh.
#pragma once
#include <cstdint>

#include "convert16.cuh"
#include "formats/mxfp4.h"
#include "formats/mxfp4_bits.h"
#include "ptx.cuh"

namespace ctk::cuda {

// E2M1 -> 16-bit float, two at a time (formats/mxfp4_bits.h explains the bits): the
// register holds codes J (low half) and J+4 (high half) of a fragment word (nibbles J and
// J+4 of the logical word), as e2m1 * 2^-126 (bf16) or e2m1 * 2^-14 (f16).
// bf16 words are stored bit-sliced by the repack (formats/mxfp4_bits.h: 8 integer
// operations per word instead of 15); f16 words keep the nibble layout. Building with
// -DCTK_E2M1_PLACE_SHIFT=1 restores the nibble layout and the shift form for bf16 too, in
// the repack and every rung alike, for A/B timing of the two.
#ifndef CTK_E2M1_PLACE_SHIFT
#define CTK_E2M1_PLACE_SHIFT 0
#endif
constexpr bool kBf16SlicedWords = !CTK_E2M1_PLACE_SHIFT;
template <bool BF16, int J>
__device__ __forceinline__ uint32_t e2m1_pair_placed(uint32_t word) {
    if (!BF16) return e2m1x2_placed_f16(word, J);
    return kBf16SlicedWords ? e2m1x2_placed_bf16_sliced(word, J) : e2m1x2_placed_bf16(word, J);
}
// The logical (nibble) word of a stored word, for the rungs that read codes one by one.
template <bool BF16>
__device__ __forceinline__ uint32_t logical_word(uint32_t stored) {
    return BF16 && kBf16SlicedWords ? e2m1_word_unslice_bf16(stored) : stored;
}
template <bool BF16>
__device__ __forceinline__ uint32_t mul_pair(uint32_t a, uint32_t b) {
    return BF16 ? ptx::mul_bf16x2(a, b) : ptx::mul_f16x2(a, b);
}
// 2^(126 + e) (bf16) or 2^(14 + e) (f16), e = code - 127 - shift, in both halves: one
// multiply of a placed E2M1 pair by it gives e2m1 * 2^e exactly (formats/mxfp4_bits.h;
// the fold plan keeps e in range for every finite code of the layer).
template <bool BF16>
__device__ __forceinline__ uint32_t folded_multiplier(uint32_t code, int shift) {
    const uint32_t h = BF16 ? e8m0_folded_factor_bf16(code, shift) : e8m0_folded_factor_f16(code, shift);
    return h | (h << 16);
}

// A fragment with the scale folded in; rows g (a0, a2) and g + 8 (a1, a3) of the tile
// have their own multiplier.
template <bool BF16>
__device__ __forceinline__ void folded_fragment(uint32_t word, uint32_t mul_row_g, uint32_t mul_row_g8,
                                                uint32_t (&a)[4]) {
    a[0] = mul_pair<BF16>(e2m1_pair_placed<BF16, 0>(word), mul_row_g);
    a[1] = mul_pair<BF16>(e2m1_pair_placed<BF16, 1>(word), mul_row_g8);
    a[2] = mul_pair<BF16>(e2m1_pair_placed<BF16, 2>(word), mul_row_g);
    a[3] = mul_pair<BF16>(e2m1_pair_placed<BF16, 3>(word), mul_row_g8);
}

// Folded multiplier of byte B of a scale word in both 16-bit halves (formats/mxfp4_bits.h:
// one prmt and one integer multiply-add; `add` = e8m0_folded_factor_x2_add of the layer's
// fold shift), NaN for code 255 when the layer has NaN blocks (NANS).
template <bool BF16, bool NANS, int B>
__device__ __forceinline__ uint32_t folded_multiplier_x2(uint32_t sw, uint32_t add) {
    const uint32_t m = e8m0_folded_factor_x2<B>(sw, add, BF16);
    if (NANS && ((sw >> (8 * B)) & 0xFFu) == 0xFFu) return BF16 ? 0x7FC07FC0u : 0x7E007E00u;  // NaN block
    return m;
}

template <bool BF16>
__device__ __forceinline__ void mma_16x8x16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    if (BF16) ptx::mma_m16n8k16_bf16(d, a, b0, b1, d);
    else ptx::mma_m16n8k16_f16(d, a, b0, b1, d);
}

// B fragments of k64 chunk c for MT column blocks of 8 x rows: word 8 s + 4 h of the
// chunk's 32 words of x row 8 mt + g (columns 16 s + 8 h + 2q, + 1), where xp[mt] points at
// word q of that row; zeros for rows past M (xok false) and in a padded second block.
template <int MT>
__device__ __forceinline__ void decode_x_fragments(uint32_t (&bx)[MT][4][2], const uint32_t* const (&xp)[MT],
                                                   const bool (&xok)[MT], int c, bool full) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int s = 0; s < 4; ++s)
#pragma unroll
            for (int h = 0; h < 2; ++h)
                bx[mt][s][h] = (xok[mt] && (s < 2 || full)) ? __ldg(xp[mt] + c * 32 + 8 * s + 4 * h) : 0u;
}

// The inner step of the gemv-style decode rungs (v5, v7): one k64 chunk of T 16-row tiles
// (this lane's 16 fragment bytes wq[i] and scale word sw[i] of tile i) times MT column
// blocks of 8 x rows (B fragments bx[mt][k16 step][h]), accumulated into acc[i][mt] (the W
// tile is the 16-row operand). full = false: the chunk's second block is padding and is
// skipped (its products would be zeros: the work is saved).
// Order: k16 step outer, tile inner, so that consecutive MMAs go to different
// accumulators (T independent chains) and the next tile's fragment is dequantized while
// the previous MMA runs. (Tile outer put every MMA of a tile on one accumulator chain and
// had ptxas build each fragment in the registers the previous MMA was still reading:
// ncu on the H100, 2026-12-07, "wait" stalls 2.0 of 7.3 cycles per issued instruction.)
template <bool BF16, bool NANS, int MT, int T>
__device__ __forceinline__ void decode_chunk_mma(float (&acc)[T][MT][4], const uint4 (&wq)[T],
                                                 const uint32_t (&sw)[T], uint32_t mul_add,
                                                 const uint32_t (&bx)[MT][4][2], bool full) {
    // Multipliers of rows g / g + 8: [i][0] block 0 (k16 steps 0, 1), [i][1] block 1.
    uint32_t m_g[T][2], m_g8[T][2];
#pragma unroll
    for (int i = 0; i < T; ++i) {
        m_g[i][0] = folded_multiplier_x2<BF16, NANS, 0>(sw[i], mul_add);
        m_g[i][1] = folded_multiplier_x2<BF16, NANS, 2>(sw[i], mul_add);
        m_g8[i][0] = folded_multiplier_x2<BF16, NANS, 1>(sw[i], mul_add);
        m_g8[i][1] = folded_multiplier_x2<BF16, NANS, 3>(sw[i], mul_add);
    }
#pragma unroll
    for (int s = 0; s < 4; ++s) {
        if (s >= 2 && !full) break;  // warp-uniform
#pragma unroll
        for (int i = 0; i < T; ++i) {
            const uint32_t word = s == 0 ? wq[i].x : s == 1 ? wq[i].y : s == 2 ? wq[i].z : wq[i].w;
            uint32_t a[4];
            folded_fragment<BF16>(word, m_g[i][s / 2], m_g8[i][s / 2], a);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) mma_16x8x16<BF16>(acc[i][mt], a, bx[mt][s][0], bx[mt][s][1]);
        }
    }
}

// Byte offset of 16-byte chunk j of row r in a K-major tile of 128-byte rows with the
// 128B swizzle (what wgmma_desc_k_major_sw128 describes).
__device__ __forceinline__ int sw128_offset(int r, int j) { return r * 128 + ((j ^ (r % 8)) * 16); }

}  // namespace ctk::cuda
