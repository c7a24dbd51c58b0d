// CPU reference of the MXFP4 kernel layout (what cuda::mxfp4_repack produces on the
// GPU, checked against this bit for bit). docs/mxfp4.md draws it.
//
// The kernels treat W [N, K] as tiles of 16 rows (n) x 64 columns (k): the rows are the
// 16-row operand of the tensor-core MMA (the "transposed" product out^T = W x^T), so a
// decode step with M = 1 wastes no MMA rows. One tile is one k64 "chunk" of one n16 tile:
//
//   words[t][c][lane][s]  (i32, [n_tiles, k_chunks, 32, 4]): lane = 4g + q of the warp
//     that owns n16 tile t holds, for k16 step s of chunk c, the 8 codes of its
//     mma.m16n8k16 A fragment, one nibble each, with k = 64c + 16s and n = 16t:
//        nibble 0 = W[n+g  ][k+2q]    nibble 4 = W[n+g  ][k+2q+1]    (register a0)
//        nibble 1 = W[n+g+8][k+2q]    nibble 5 = W[n+g+8][k+2q+1]    (a1)
//        nibble 2 = W[n+g  ][k+2q+8]  nibble 6 = W[n+g  ][k+2q+9]    (a2)
//        nibble 3 = W[n+g+8][k+2q+8]  nibble 7 = W[n+g+8][k+2q+9]    (a3)
//     so register a_j is built from nibbles j (low half) and j+4 (high half) of one
//     word, and a lane reads its 4 words (16 bytes) with one vector load.
//     That is the logical word, stored as it is for f16 activations. For bf16 the
//     stored word is its bit-sliced permutation (e2m1_word_slice_bf16,
//     formats/mxfp4_bits.h), from which the kernels place each pair with fewer integer
//     operations; the codes, tiles and scales are the same.
//   scale_words[t][c][g]  (i32, [n_tiles, k_chunks, 8]): bytes 0..3 = the E8M0 codes of
//     (row n+g, block 2c), (row n+g+8, block 2c), (row n+g, block 2c+1), (row n+g+8,
//     block 2c+1): the two rows a lane's fragments touch, for both 32-blocks of the chunk.
//
// Tile-major: the k chunks of one 16-row tile are contiguous (512 B each), so a warp
// that walks along K streams one contiguous run of memory.
//
// Padding: N is padded to a multiple of 16 and K to a multiple of 64 with code 0 (+0.0)
// and the scale code mxfp4_pad_scale_code (formats/mxfp4.h): the layer's smallest finite
// code, so padded weights are exact zeros (never NaN) also once a kernel folds the scale
// into the 16-bit weight. A real block of only +-0 weights (mxfp4_block_is_zero) with a
// finite code gets the padding code too, and "the layer's codes" (min_code, max_code: the
// fold plan's range) leave such blocks out; a NaN code (255) is kept everywhere.
#pragma once
#include "ref/mxfp4.h"

namespace ctk::ref {

constexpr int kMxTileN = 16;   // rows of W per tile (the MMA's 16-row operand)
constexpr int kMxChunkK = 64;  // columns of W per tile (4 MMA k-steps, 2 scale blocks)

struct Mxfp4Repacked {
    int64_t N = 0, K = 0;  // logical W shape
    int64_t n_tiles = 0;   // ceil(N / 16)
    int64_t k_chunks = 0;  // ceil(K / 64)
    Tensor words;          // [n_tiles, k_chunks, 32, 4] i32
    Tensor scale_words;    // [n_tiles, k_chunks, 8] i32
};

// act_dtype: the activations the kernels will multiply by (bf16 or f16): it picks the
// word layout (nibbles for f16, bit-sliced for bf16).
Mxfp4Repacked mxfp4_repack(const Mxfp4Weight& w, DType act_dtype);

}  // namespace ctk::ref
