// The global-memory layout of a 2:4 weight as the sparse tensor-core GEMMs read it
// ("kernel layout"; docs/sparse24.md draws it). Host and device share this file: the
// GPU compressor writes through sparse24_meta_slot, the CPU reference
// (ref/sparse24_layout.h) builds the same words from the lane-register view, and the
// tests check the two against each other bit for bit.
//
// Sizes. A weight W [N, K] (2:4 along K) is stored padded to [Np, Kp]:
//   Np = round_up(N, 128), Kp = round_up(K, 128)
// so every kernel tile (v2: 128 weight rows x 64 or 128 K; wgmma: 64-row warpgroup
// tiles, K tiles of 64 or 128) divides the arrays: no kernel reads past them and no
// kernel sees a padded group with an invalid code. Padded groups hold two +0 values
// and code 0x4 (positions 0 and 1, the canonical code of an all-zero group).
//
// Values: [Np, Kp/2], the weight's dtype, row-major: the two kept values of each group,
//   lowest position first (exactly ref::Sparse24::values, zero padded).
//
// Metadata: [Np/16, Kp/64, 32] 32-bit words (stored as i32). Block (r, p) covers weight
//   rows [16r, 16r+16) and K [64p, 64p+64); its word L is the metadata register `e` of
//   lane L = 4g + t of the warp that multiplies that 16 x 64 block (PTX ISA 9.7.14.6.1
//   "sparse matrix storage", register images verified on an H100 in
//   shared/reference/mma-sp-and-wgmma-sp.md 1.4). So a quad's 4 words are 16
//   contiguous bytes, a warp's 32 words are 128 contiguous bytes (one coalesced load,
//   or one ldmatrix 8x8), and the image differs by operand width:
//
//   16-bit (f16, bf16; mma.sp m16n8k32, wgmma.sp m64nNk32): one word serves TWO k32
//     steps: step 2p (K [64p, 64p+32)) with sparsity selector 0 reads lanes t = 0, 1,
//     step 2p+1 with selector 1 reads lanes t = 2, 3. Lane (g, t):
//       bits 15..0  = codes of row 16r+g,   K [64p+16t, 64p+16t+16)  (group c at bits 4c)
//       bits 31..16 = codes of row 16r+g+8, the same K
//   8-bit (i8, f8e4m3; mma.sp m16n8k64, wgmma.sp m64nNk64, selector 0): one k64 step,
//     one row per word. Lane (g, t):
//       bits 31..0 = codes of row 16r + g + 8*(t & 1), K [64p + 32*(t >> 1), +32)
//                    (group c at bits 4c)
//   A wgmma warpgroup covering 64 rows: warp w reads block (4*m + w, p), the same image.
#pragma once
#include "formats/hd.h"

namespace ctk {

constexpr int64_t kSparse24RowPad = 128;  // Np = round_up(N, kSparse24RowPad)
constexpr int64_t kSparse24KPad = 128;    // Kp = round_up(K, kSparse24KPad)
constexpr uint8_t kSparse24PadCode = 0x4; // code of padded groups (positions 0, 1)

CTK_HD int64_t sparse24_padded_rows(int64_t N) { return (N + kSparse24RowPad - 1) / kSparse24RowPad * kSparse24RowPad; }
CTK_HD int64_t sparse24_padded_k(int64_t K) { return (K + kSparse24KPad - 1) / kSparse24KPad * kSparse24KPad; }

// Where the code of group `group` (columns 4*group .. 4*group+3) of weight row `row`
// lives: word index into the metadata array and bit shift inside that word.
// Kp: padded K. eight_bit: operand width is 8 bits (i8, f8e4m3), else 16 bits.
struct Sparse24MetaSlot {
    int64_t word;
    int shift;
};

CTK_HD Sparse24MetaSlot sparse24_meta_slot(int64_t row, int64_t group, int64_t Kp, bool eight_bit) {
    int64_t r = row >> 4, p = group >> 4;      // 16-row block, 64-K block (16 groups)
    int rr = static_cast<int>(row & 15);       // row inside the block
    int gg = static_cast<int>(group & 15);     // group inside the block
    int g = rr & 7;                            // lane's groupID (rows g and g+8)
    int t, shift;
    if (eight_bit) {
        t = (rr >> 3) | ((gg >> 3) << 1);      // bit0: row g+8, bit1: K half 32..63
        shift = 4 * (gg & 7);
    } else {
        t = gg >> 2;                           // 16 K (4 groups) per lane
        shift = 16 * (rr >> 3) + 4 * (gg & 3); // row g+8 in the high half
    }
    int64_t block = r * (Kp >> 6) + p;
    return {block * 32 + 4 * g + t, shift};
}

// ---- the tiled kernel layout (Hopper rung v3; docs/sparse24_v3.md 4i) ----------------
// The same values and metadata words, regrouped so that everything one pipeline stage of
// one 128-row weight tile reads is one contiguous block (the row-major layout above
// spreads it over 128 rows of the matrix: 128 pieces of 64 bytes, Kp/2 * es bytes apart).
// A stage of v3 reads 64 bytes of each of the tile's 128 value rows (32 16-bit values =
// 64 K, or 64 8-bit values = 128 K) and the metadata of the same K for its 8 row blocks
// (P = 1 group of 32 words for 16-bit, 2 for 8-bit). With nb = row_bytes / 64 stages per
// row (row_bytes = Kp/2 * es), stage block (tile t, K block b), t = row / 128, is
//   values:   bytes [(t * nb + b) * 8192, +8192): row r of the tile at (r % 128) * 64
//   metadata: words [(t * nb + b) * 256 P, +256 P): row block j of the tile at j * 32 P
// The arrays keep their shapes ([Np, Kp/2] and [Np/16, Kp/64, 32]) and sizes; only the
// order changes.

// Byte `byte` (0 <= byte < row_bytes) of value row `row`: its byte offset in the tiled array.
CTK_HD int64_t sparse24_tiled_value_byte(int64_t row, int64_t byte, int64_t row_bytes) {
    const int64_t nb = row_bytes / 64;
    return (((row >> 7) * nb + (byte >> 6)) * 128 + (row & 127)) * 64 + (byte & 63);
}

// Word `word` (0 <= word < Kp/64 * 32) of metadata row block `block` (16 rows): its word
// index in the tiled array.
CTK_HD int64_t sparse24_tiled_meta_word(int64_t block, int64_t word, int64_t Kp, bool eight_bit) {
    const int64_t P = eight_bit ? 2 : 1, nb = (Kp >> 6) / P, w = 32 * P;
    return (((block >> 3) * nb + word / w) * 8 + (block & 7)) * w + word % w;
}

}  // namespace ctk
