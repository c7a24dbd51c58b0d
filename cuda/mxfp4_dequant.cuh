// Device helpers shared by the MXFP4 GEMM rungs (cuda/mxfp4_gemm.cu: v1-v3,
// cuda/mxfp4_gemm_sm90.cu: v4): 16-bit float conversions with the CPU reference's
// rounding, the E2M1 -> bf16/f16 bit placement (formats/mxfp4_bits.h) and the folded
// dequantization of one mma A fragment (scale folded in, exact by the fold plan,
// docs/mxfp4.md section 5), and the 128-byte swizzle that wgmma descriptors describe.
#pragma once
#include <cstdint>

#include "formats/fp16.h"
#include "formats/mxfp4.h"
#include "formats/mxfp4_bits.h"
#include "ptx.cuh"

namespace ctk::cuda {

// 16-bit float bits -> fp32 and back, the same roundings as the CPU reference.
template <bool BF16>
__device__ __forceinline__ float act_to_float(uint16_t h) {
    return BF16 ? bf16_to_float(h) : fp16_to_float(h);
}
template <bool BF16>
__device__ __forceinline__ uint16_t act_from_float(float v) {
    return BF16 ? bf16_from_float(v) : fp16_from_float(v);
}

// E2M1 -> 16-bit float, two at a time (formats/mxfp4_bits.h explains the bits): the
// register holds nibble J (low half) and nibble J+4 (high half) of a fragment word, as
// e2m1 * 2^-126 (bf16) or e2m1 * 2^-14 (f16).
template <bool BF16, int J>
__device__ __forceinline__ uint32_t e2m1_pair_placed(uint32_t word) {
    return BF16 ? e2m1x2_placed_bf16(word, J) : e2m1x2_placed_f16(word, J);
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

// Byte offset of 16-byte chunk j of row r in a K-major tile of 128-byte rows with the
// 128B swizzle (what wgmma_desc_k_major_sw128 describes).
__device__ __forceinline__ int sw128_offset(int r, int j) { return r * 128 + ((j ^ (r % 8)) * 16); }

}  // namespace ctk::cuda
