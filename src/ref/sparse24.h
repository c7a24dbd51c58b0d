// CPU reference for 2:4 sparsity: pruning, checking, the compressed-tensors
// "sparse-24-bitmask" format, and compression into values + logical metadata.
//
// Shapes: W is [N, K] (N output features, K input features), row-major; groups of 4
// run along K, so K % 4 == 0. Dtypes: f32, f16, bf16, f8e4m3, i8 unless noted.
// "Zero" means +0 or -0 for the float types (-0 never counts as a kept value).
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ctk::ref {

// Keep the 2 largest |w| of every group of 4 along K (ties: the lower index wins),
// zero the others, and turn every -0.0 into +0.0. W: [N, K] f32/f16/bf16 (prune in
// high precision, before quantizing). Returns a new tensor of W's dtype.
Tensor prune_24(const Tensor& w);

// Throws ctk::Error naming `what`, the first row and group with more than 2 nonzeros,
// e.g. "weight: row 3, group 5 (columns 20..23) has 3 nonzeros; 2:4 allows at most 2".
void check_24(const Tensor& w, const std::string& what);

// compressed-tensors sparse-24-bitmask tensors of one weight.
struct Bitmask24 {
    Tensor compressed;  // [N, K/2], W's dtype: kept values, row order, ascending column in a group
    Tensor bitmask;     // [N, ceil(K/8)] u8: bit j of byte b flags column 8b + j
    Tensor shape;       // [2, 1] i64: {N, K}
};

// W must be 2:4 (check_24 runs first). A group with fewer than 2 nonzeros keeps the
// canonical slots of code24_for_nonzeros (nonzeros, then the lowest zero positions).
Bitmask24 bitmask_encode(const Tensor& w);

// Dense [N, K] from compressed [N, K/2] + bitmask [N, ceil(K/8)]. Every group nibble
// must have exactly 2 bits set and padding bits past K must be 0; otherwise throws
// naming row and group. Accepts any 2-bit nibble (bitmasks from other writers are not
// canonical).
Tensor bitmask_decode(const Tensor& compressed, const Tensor& bitmask, int64_t K);

// Fused layers (q/k/v, gate/up): rows split by logical widths, each shard decoded on
// its own and the results concatenated along N (what vLLM does for QKV/MergedColumn).
Tensor bitmask_decode_row_shards(const Tensor& compressed, const Tensor& bitmask, int64_t K,
                                 const std::vector<int64_t>& logical_widths);

// Column shards (tensor-parallel row-parallel layers): shard i holds columns
// [c_i, c_i + K_i) with K_i % 8 == 0, stored as its own compressed [N, K_i/2] and
// bitmask [N, K_i/8]. Decodes each and concatenates along K.
Tensor bitmask_decode_col_shards(const std::vector<Tensor>& compressed_parts,
                                 const std::vector<Tensor>& bitmask_parts,
                                 const std::vector<int64_t>& col_widths);

// Values + logical metadata: what the sparse tensor cores need, before any
// kernel-specific reordering (see docs/sparse24.md for the kernel layout).
struct Sparse24 {
    Tensor values;  // [N, K/2], W's dtype: two kept values per group, lowest position first
    Tensor codes;   // [N, K/4] u8: one 4-bit group code (idx0 | idx1 << 2) per byte
};

// Throws (check_24) on a group with more than 2 nonzeros. Groups with fewer get the
// canonical code (code24_for_nonzeros) and +0 in the unused slots.
Sparse24 compress_24(const Tensor& w);
Tensor decompress_24(const Sparse24& s);

// Straight from the checkpoint: each bitmask nibble is a group code, the compressed
// values are already in slot order. Throws on a nibble whose bit count is not 2.
Sparse24 bitmask_to_sparse24(const Tensor& compressed, const Tensor& bitmask, int64_t K);

}  // namespace ctk::ref
