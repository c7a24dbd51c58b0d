// Launcher of the Hopper 2:4 sparse GEMM (v3, cuda/sparse24_gemm_sm90.cu): host-only
// declarations (no CUDA types), so tests and the benchmark compile with g++.
//
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] ),  acc = sum_k x[m, k] * W[n, k]
//
// The weight W [N, K] is given in the kernel layout (formats/sparse24_layout.h):
//   values [Np, Kp/2] (dtype of x), meta [Np/16, Kp/64, 32] i32, Np = round_up(N, 128),
//   Kp = round_up(K, 128).
// x: [M, K] f16, bf16, f8e4m3 or i8 on the device, K * sizeof(dtype) % 16 == 0 (the row
// pitch the TMA unit needs: K % 8 for 16-bit, K % 16 for 8-bit types).
// x_scale: f32 device tensor with 1 or M elements, or undefined (= 1).
// w_scale: f32 device tensor with 1 or N elements, or undefined (= 1).
// bias: [N] device tensor of out's dtype, or undefined. out: [M, N] f16 or bf16.
// acc is int32 for i8 (exact), fp32 otherwise. Needs an sm_90 device and an sm_90a build
// (ARCH=sm_90a, the default); otherwise throws ctk::Error.
#pragma once
#include "core/tensor.h"

namespace ctk::cuda {

// Knobs for tests and benchmarks; the defaults pick everything from the shape.
struct Sparse24V3Options {
    int bn = 0;        // token tile (the wgmma N): 0 = by M, else 8, 16, 32, 64, 128 or 256
    int splits = 0;    // split-K factor: 0 = by the cost model, else 1.. (clamped to the K blocks)
    int max_ctas = 0;  // persistent grid cap: 0 = one CTA per SM
    int cluster = 0;   // CTAs per cluster sharing the activation tile (TMA multicast): 0 = by
                       // bn (2 for bn >= 128 when the 128-row weight tiles pair up), 1 or 2
    int split_reduce = 0;  // how split-K partials meet: 0 = by the plan (spread at bn = 64
                           // where allowed, else the last split; docs/sparse24_v3.md 4c, 4h),
                           // 1 = global (fp32 partials in memory, the last split adds them),
                           // 2 = cluster (the splits of a tile are one cluster: DSMEM),
                           // 3 = spread (global partials; once every split has stored its
                           //     partial, each split adds and stores 1/S of the tile; needs
                           //     every split resident at once), else an error
    int tiled_weight = 0;  // 1: values and meta are in the tiled layout of sparse24_v3_tile_weight
                           // (each stage of each weight tile one contiguous block), 0: the
                           // row-major kernel layout (docs/sparse24_v3.md 4i)
    int l2_promotion = 256;  // bytes the L2 fetches per TMA miss (tensor map L2 promotion): 0 (none),
                             // 64, 128 or 256 (default; for experiments)
};

// What a launch will do (the tile shape, pipeline depth, split-K and grid).
struct Sparse24V3Plan {
    int bn = 0;       // token tile
    int bm = 128;     // weight rows per tile (two consumer warpgroups x 64)
    int stage_k = 0;  // logical K per pipeline stage (64 for 16-bit, 128 for 8-bit)
    int stages = 0;   // pipeline depth
    int tiles = 0;    // output tiles
    int splits = 0;   // K splits per tile
    int cluster = 1;  // CTAs per cluster (2: activation tile multicast to a pair of weight tiles)
    int ctas = 0;     // persistent CTAs launched (a multiple of cluster)
    bool cluster_splits = false;  // split-K over a cluster of `splits` CTAs (one tile each), reduced
                                  // through distributed shared memory; else through global memory
    bool spread_splits = false;   // global split-K where every split reduces a share of the tile
                                  // (one unit per CTA, all resident); else the last split adds all
    int smem_bytes = 0;
};

// True when this build holds the sm_90a kernels and device 0 is sm_90 or newer.
bool sparse24_v3_available();

Sparse24V3Plan sparse24_gemm_v3_plan(int64_t M, int64_t N, int64_t K, DType dtype, const Sparse24V3Options& opt = {});

// The tiled layout (formats/sparse24_layout.h, end): values [Np, Kp/2] and meta
// [Np/16, Kp/64, 32] in the kernel layout, on the device -> new device tensors of the same
// shapes and dtypes, regrouped so that what one stage of one 128-row tile reads is
// contiguous. Pass them with Sparse24V3Options::tiled_weight = 1. CPU twin:
// ref::tile_values_for_v3 / ref::tile_meta_for_v3 (ref/sparse24_layout.h). Does not sync.
void sparse24_v3_tile_weight(const Tensor& values, const Tensor& meta, Tensor& values_tiled, Tensor& meta_tiled);

// out: preallocated [M, N] f16/bf16 device tensor (its dtype is the output dtype).
void sparse24_gemm_v3_into(Tensor& out, const Tensor& x, const Tensor& values, const Tensor& meta, int64_t N,
                           int64_t K, const Tensor& x_scale, const Tensor& w_scale, const Tensor& bias,
                           const Sparse24V3Options& opt = {});

Tensor sparse24_gemm_v3(const Tensor& x, const Tensor& values, const Tensor& meta, int64_t N, int64_t K,
                        const Tensor& x_scale, const Tensor& w_scale, const Tensor& bias, DType out_dtype,
                        const Sparse24V3Options& opt = {});

}  // namespace ctk::cuda
