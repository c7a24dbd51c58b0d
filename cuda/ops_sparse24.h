// Launchers of the 2:4 sparse kernels (part of cuda/ops.h; include that instead).
//
// The weight W [N, K] (2:4 along K) lives on the device in the kernel layout of
// formats/sparse24_layout.h (docs/sparse24.md section 1.2): values [Np, Kp/2] and
// metadata [Np/16, Kp/64, 32] i32, Np = round_up(N, 128), Kp = round_up(K, 128).
// CPU twins: ref::compress_24 + ref::reorder_meta_for_kernel/pad_values_for_kernel
// (compression), ref::bitmask_to_sparse24 (bitmask path), ref::bitmask_decode (dense),
// ref::scaled_sparse_gemm (GEMM).
#pragma once
#include "core/tensor.h"
#include "sparse24_gemm_sm90.cuh"  // the Hopper rung's launcher and its knobs (tests, ctk bench)

namespace ctk::cuda {

// A 2:4 weight in the kernel layout, on the device.
struct Sparse24KernelWeight {
    Tensor values;          // [Np, Kp/2] dtype: kept values, zero padded
    Tensor meta;            // [Np/16, Kp/64, 32] i32: per-lane metadata registers
    int64_t N = 0, K = 0;   // logical sizes
    DType dtype = DType::F16;  // f16, bf16, i8 or f8e4m3
    bool v3_tiled = false;     // values / meta regrouped into the tiled layout of the Hopper
                               // rung (sparse24_tile_for_v3): readable by v3 only
};

// Regroups w (row-major kernel layout, as the compressors return it) into the tiled layout
// that v3 streams fastest (formats/sparse24_layout.h, end; docs/sparse24_v3.md 4i), in
// place, when v3 runs on this device and w.K rows of x are 16-byte multiples (the rows v3's
// TMA reads); returns whether it did. The GEMM below then always takes v3 for w.
// Not yet run on a GPU and not called by the layers: Sparse24Linear calls it once the H100
// run of docs/sparse24_v3.md 4i shows the tiled layout is faster.
bool sparse24_tile_for_v3(Sparse24KernelWeight& w);

// ---- compression (cuda/sparse24_compress.cu) -------------------------------------

// Dense 2:4 weight -> kernel layout. w_dev: [N, K] f16/bf16/i8/f8e4m3 on the device,
// K % 4 == 0. A group with more than 2 nonzeros (-0.0 counts as zero) throws
// ctk::Error naming the first such row and group (row-major order). Synchronizes.
Sparse24KernelWeight sparse24_compress(const Tensor& w_dev);

// Same, into preallocated out (out.values/out.meta of the right shapes, from
// sparse24_alloc). check = false skips the error read-back (no host sync), for
// benchmarks; call sparse24_compress_check afterwards.
Sparse24KernelWeight sparse24_alloc(int64_t N, int64_t K, DType dtype);
void sparse24_compress_into(const Tensor& w_dev, Sparse24KernelWeight& out, bool check = true);
void sparse24_compress_check(const Tensor& w_dev);

// Straight from the checkpoint, no dense intermediate. compressed_dev: [N, K/2],
// bitmask_dev: [N, ceil(K/8)] u8 (bit j of byte b = column 8b + j). A nibble whose bit
// count is not 2, or padding bits set past K, throws naming row and group.
Sparse24KernelWeight sparse24_from_bitmask(const Tensor& compressed_dev, const Tensor& bitmask_dev, int64_t K);
void sparse24_from_bitmask_into(const Tensor& compressed_dev, const Tensor& bitmask_dev, int64_t K,
                                Sparse24KernelWeight& out, bool check = true);

// compressed [N, K/2] + bitmask [N, ceil(K/8)] -> dense [N, K] (same errors as above).
Tensor sparse24_bitmask_to_dense(const Tensor& compressed_dev, const Tensor& bitmask_dev, int64_t K);

// ---- GEMM (cuda/sparse24_gemm.cu) ----------------------------------------------------
//
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] ),  acc = sum_k x[m, k] * W[n, k]
//
// x_dev: [M, K] of w.dtype (M >= 1; K * sizeof(dtype) % 16 == 0 for v2, i.e. K % 8 for
// f16/bf16 and K % 16 for i8/f8e4m3). x_scale: f32 with 1 or M elements, or undefined
// (= 1). w_scale: f32 with 1 or N elements, or undefined. bias: [N] of out_dtype, or
// undefined. out_dtype: f16 or bf16. acc is int32 for i8 (exact), fp32 otherwise.
// version: 0 = best (v3 on sm_90 with an sm_90a build, else v2; v1 where x's rows are not
// 16-byte multiples or x is not 16-byte aligned), 1 = readable v1,
// 2 = mma.sp v2, 3 = Hopper wgmma.sp v3 (cuda/sparse24_gemm_sm90.cuh; throws below sm_90).
Tensor sparse24_gemm(const Tensor& x_dev, const Sparse24KernelWeight& w, const Tensor& x_scale,
                     const Tensor& w_scale, const Tensor& bias, DType out_dtype, int version = 0);
// Same into a preallocated out [M, N] (no allocation: what benchmarks time).
void sparse24_gemm_into(Tensor& out, const Tensor& x_dev, const Sparse24KernelWeight& w, const Tensor& x_scale,
                        const Tensor& w_scale, const Tensor& bias, int version = 0);

}  // namespace ctk::cuda

namespace ctk::cuda {

// ---- seeded random device data for tests and benchmarks (cuda/sparse24_random.cu) ----
// Generated on the device so that large test and benchmark weights cost no host time;
// the same (seed, shape, dtype) gives the same bits on every run. dev: f16, bf16, i8,
// f8e4m3 or f32, any shape (the last dimension is K).
//   integer = false: uniform in [-scale, scale], rounded to the dtype.
//   integer = true:  integers in [-scale, scale] (products and sums stay exact in fp32).
void fill_random(Tensor& dev, uint64_t seed, float scale, bool integer);
// The same, pruned 2:4 along the last dimension (K % 4 == 0): every group keeps a random
// pair of positions; 1 group in 16 keeps one nonzero and 1 in 64 none; the zeros are
// +0 or -0 (float types); kept values have magnitude in [scale/4, scale] (integer:
// integers in [1, scale]), so they are never zero.
void fill_random_24(Tensor& dev, uint64_t seed, float scale, bool integer);

}  // namespace ctk::cuda
