// CPU reference of the kernel layout of a 2:4 weight (formats/sparse24_layout.h has
// the sizes, the padding rules and the word layout; docs/sparse24.md draws it).
// The GPU compressors (cuda/sparse24_compress.cu) are checked bit for bit against
// reorder_meta_for_kernel(ref::compress_24(w).codes, dtype) and pad_values_for_kernel.
//
// These functions build each 32-bit word from the lane-register view of the PTX ISA
// (for every block, for every lane, gather its codes), which is a different
// formulation from sparse24_meta_slot (for every code, find its word); the tests
// check that the two agree.
#pragma once
#include "core/tensor.h"

namespace ctk::ref {

// True for the 8-bit operand image (i8, f8e4m3), false for 16-bit (f16, bf16);
// throws naming `what` for any other dtype.
bool sparse24_eight_bit(DType value_dtype, const char* what);

// codes: [N, K/4] u8 (valid 2:4 codes, ref::Sparse24::codes), K = 4 * codes.size(1).
// value_dtype: the weight's dtype (selects the 16- or 8-bit register image).
// Returns metadata [Np/16, Kp/64, 32] i32 (bit patterns of the registers); padded
// groups get kSparse24PadCode. Throws on an invalid code, naming row and group.
Tensor reorder_meta_for_kernel(const Tensor& codes, DType value_dtype);

// Inverse: metadata [Np/16, Kp/64, 32] i32 -> codes [N, K/4] u8. Throws if the shape
// does not match (N, K) or if any code, padding included, is not one of the 6 valid ones.
Tensor codes_from_kernel_meta(const Tensor& meta, int64_t N, int64_t K, DType value_dtype);

// values: [N, K/2] (ref::Sparse24::values) -> [Np, Kp/2] same dtype, zero padded.
Tensor pad_values_for_kernel(const Tensor& values, int64_t N, int64_t K);
// Inverse: [Np, Kp/2] -> [N, K/2].
Tensor unpad_values_from_kernel(const Tensor& padded, int64_t N, int64_t K);

// The tiled kernel layout of the Hopper rung (formats/sparse24_layout.h, end): the same
// arrays regrouped so that each (128-row tile, pipeline stage) block is contiguous.
// values: [Np, Kp/2] (f16, bf16, i8 or f8e4m3) -> the same shape, tiled.
// meta: [Np/16, Kp/64, 32] i32 -> the same shape, tiled (value_dtype picks the 16- or
// 8-bit stage width). Written block by block with memcpy, a different formulation from
// the index functions that the GPU repack (cuda::sparse24_v3_tile_weight) uses; the
// tests check the two bit for bit.
Tensor tile_values_for_v3(const Tensor& values);
Tensor tile_meta_for_v3(const Tensor& meta, DType value_dtype);

}  // namespace ctk::ref
