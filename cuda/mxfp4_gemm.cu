// MXFP4 W4A16 GEMM: out[M, N] = x[M, K] @ dequant(W)^T (+ bias).
//
//   x    [M, K]  bf16 or f16, row-major, M >= 1, K % 32 == 0
//   W    Mxfp4KernelWeight (cuda/mxfp4_repack.cu): E2M1 codes and E8M0 scales in the
//        tile layout of ref/mxfp4_repack.h (16 rows x 64 columns per tile, one 16-byte
//        mma A fragment per lane per tile, tile-major)
//   bias [N]     x's dtype, or undefined
//   out  [M, N]  x's dtype; fp32 accumulation, bias added in fp32, one rounding
//
// A weight is e2m1(code) * 2^(scale - 127), exact. Every rung multiplies exact weight
// values and sums in fp32, so it differs from the CPU reference (ref::mxfp4_gemm) only in
// the order of the fp32 additions (tests/test_gpu_mxfp4.cpp: kSumOrderUlps).
//
// The ladder. Times: H100 SXM, bf16, 14336x4096 layer (31 MB of MXFP4), median of CUDA
// events, L2 flushed by a read before each call; cuBLAS bf16 on the dequantized weight
// in the same run: 44.7 us (M = 1), 44.8 us (M = 16), 586 us (M = 4096). docs/mxfp4.md
// has the full table.
//
// v1 (readable): one kernel dequantizes the tiles into a dense [N, K] 16-bit weight with
//    the scale folded in (Mxfp4KernelWeight::fold_shift), a second is a plain
//    shared-memory tiled GEMM (fp32 FMA, 4x4 outputs per thread). Easy to check; it
//    allocates, writes and re-reads the 16-bit weight (4x the bytes of the 4-bit one)
//    and uses no tensor cores. Measured: 890 us at M = 1 (allocation included).
//
// v2 (fused decode; M <= 16 per launch, larger M in 16-row slices): Marlin's ideas on our
//    layout. Every warp is an independent worker with its own 4-stage cp.async ring in
//    shared memory: for each (tile, k-chunk) unit of its stripe a lane copies exactly its
//    16-byte A fragment (4 k16 steps), its scale word and a share of the x rows, and
//    reads back what it copied (a __syncwarp for x) - no block-wide barrier. Nibbles
//    become bf16/f16 with two shifts, two logic ops and one multiply per pair
//    (formats/mxfp4_bits.h). W is the 16-row MMA operand and x the 8-column one
//    (out^T = W x^T, mma.m16n8k16), so M = 1 wastes only the unused columns of the n8
//    operand. The E8M0 scale is applied exactly, in fp32, to the partial sum of each
//    32-block (two MMAs): no 16-bit range limit, so v2 takes every code 0..255 in bf16
//    and f16. Work: the (tile, chunk) units, chunk fastest, are cut into equal stripes,
//    one per resident warp (Marlin's striped partition), so every SM streams the same
//    bytes and M = 1 fills the GPU; tiles cut by a stripe boundary are summed
//    deterministically (fp32 partials; the last warp to arrive adds them in stripe order).
//    A unit is 4 tiles of one k-chunk (2 KB per warp and stage, 3 stages), so the x
//    copies, ldmatrix of x, waits and bookkeeping are shared by 4 tiles; when the layer
//    has no code 0 and no NaN block each fp32 scale is one shift and mask (PLAIN).
//    Stripes are at least 8 units long (16 on layers of 8192+ units): shorter ones lose
//    more to ring start-up and split-K reduction than they gain (measured sweep in
//    docs/mxfp4.md). Measured on 14336x4096 bf16: 21.5 us at M = 1 (2.07x cuBLAS,
//    1.45 TB/s), 29.1 us at M = 16 (1.54x); 16x4096x4096 17.4 us (1.06x).
//    First version (one tile per unit, 4 stages): 28.6 us / 44.8 us.
//    History: a first version with 8 warps per CTA sharing an x tile behind block-wide
//    barriers took 32.1 us; a k-major tile order instead of tile-major changed nothing.
//    ncu (M = 1): DRAM 29 % of peak, SM 64 %, 7.4 cycles between issues per warp: it is
//    instruction-bound, not memory-bound (see docs/mxfp4.md for what to try next).
//
// v3 (M > 16): wgmma (sm_90a). A CTA of WGS warpgroups (2, or 4 for M >= 512) computes a
//    (64 WGS) x 128 tile of out^T; each warp dequantizes its 16 rows of W for a k64 chunk
//    (scale folded into the 16-bit value, exact by the fold plan) and stores them with
//    stmatrix into a 128B-swizzled shared tile; wgmma m64n128k16 reads that tile (A) and
//    the x tile (B, cp.async'ed with the same swizzle) through descriptors. 5-stage
//    cp.async pipeline, 3 A buffers: chunk c's wgmmas are issued before chunk c + 1 is
//    waited for and dequantized, and retired one chunk later. Output staged through
//    shared memory for 16-byte stores. Measured: 1146 us at M = 4096 (420 TFLOP/s, 0.51x
//    cuBLAS), 64 us at M = 16..64. History: A straight from registers (wgmma RS) was
//    serialized by ptxas (C7513: the next chunk's fragments are written while a wgmma
//    is in flight) and ran at the same speed (1108 us); 2 warpgroups x 256 rows of x: 1205
//    us. ncu (M = 4096): shared memory 61 %, SM 51 %, DRAM 13 %: latency-bound.
//
// v4 (cuda/mxfp4_gemm_sm90.cu): warp-specialized and persistent: a TMA warp loads x and
//    the packed weight a ring ahead, three warps dequantize into shared memory, two
//    consumer warpgroups run wgmma. 0.72x cuBLAS at M = 4096 (820 us on 14336x4096, v3
//    1150 us) with that producer; its first producer (loads issued by a dequantizing
//    thread) ran at 0.49-0.55x.
//
// v5 (decode, cuda/mxfp4_gemv.cu): gemv-style. A CTA owns 2 whole tiles over all of K
//    (its warps split K and are summed once through shared memory: no global split-K),
//    fragments go straight into registers with two batches in flight per warp, and the
//    scale is folded into the 16-bit weight as in v3 (layers that fold; the MMAs then
//    accumulate directly). The default for M = 1..16 (docs/mxfp4.md, v5 rounds one to
//    six): 1x14336x4096 bf16 18.1 us alone, 13.0 us back to back with overlapped
//    launches (H100, 2026-12-07); its first version took 21.3 us.
//
// v6 (cuda/mxfp4_gemm_sm90.cu, REG_A): v4 with the dequantization in the consumer warps,
//    wgmma with A from registers (no A tile, no dequantizing warps), split-K for layers
//    with few output tiles. 0.87-0.94x cuBLAS at M = 4096 on the four LLM shapes (14336 x
//    4096: 670 us), 1.3-2.5x faster than v3 and 1.3-1.6x than v4 at every M from 64.
//
// v7 (decode, cuda/mxfp4_decode_bulk.cu): the weight streamed by bulk copies into a
//    12-slot shared-memory ring per SM (~27 MB in flight against v5's ~7 MB). Correct,
//    but slower than v5 everywhere: 29.6 us at M = 1 on 14336x4096 (25.4 us with 4 slots).
//
// Version 0 (mxfp4_gemm_best_version, from the H100 runs): v5 at every M from 1 to 16 (v2
// took M = 2..8 until v5's fifth round made v5 faster there), v6 from 17 rows; v2 at every
// M for a layer that does not fold or a device without wgmma (ops_mxfp4.h says why).
//
// Test: ctk_tests -ts=gpu -tc='*mxfp4*'      Bench: ctk bench mxfp4 [decode]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <type_traits>
#include <vector>

#include "check.cuh"
#include "formats/fp16.h"
#include "formats/mxfp4.h"
#include "formats/mxfp4_bits.h"
#include "mxfp4_decode_bulk.h"
#include "mxfp4_gemv.h"
#include "ops.h"
#include "mxfp4_dequant.cuh"
#include "mxfp4_gemm_sm90.cuh"
#include "ptx.cuh"

namespace ctk::cuda {

namespace {

constexpr int kTileN = 16;     // W rows per tile (one warp's MMA A operand)
constexpr int kChunkK = 64;    // W columns per tile: 4 k16 steps, 2 scale blocks

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

// 2^126 as a bf16 pair (exponent field 253) / 2^14 as an f16 pair (exponent field 29).
template <bool BF16>
__device__ __forceinline__ uint32_t e2m1_bias_fix() {
    return BF16 ? 0x7E807E80u : 0x74007400u;
}
// The four A-fragment registers of one k16 step: a_j = (nibble j, nibble j+4), exact e2m1.
template <bool BF16>
__device__ __forceinline__ void e2m1_fragment(uint32_t word, uint32_t (&a)[4]) {
    const uint32_t fix = e2m1_bias_fix<BF16>();
    a[0] = mul_pair<BF16>(e2m1_pair_placed<BF16, 0>(word), fix);
    a[1] = mul_pair<BF16>(e2m1_pair_placed<BF16, 1>(word), fix);
    a[2] = mul_pair<BF16>(e2m1_pair_placed<BF16, 2>(word), fix);
    a[3] = mul_pair<BF16>(e2m1_pair_placed<BF16, 3>(word), fix);
}

template <bool BF16>
__device__ __forceinline__ void mma_16x8x16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                                            const float (&c)[4]) {
    if (BF16) ptx::mma_m16n8k16_bf16(d, a, b0, b1, c);
    else ptx::mma_m16n8k16_f16(d, a, b0, b1, c);
}

// ---------------------------------------------------------------------------------
// v1: dequantize to a dense 16-bit weight, then a plain tiled GEMM
// ---------------------------------------------------------------------------------

// One thread per fragment word: 8 weights w' = e2m1 * 2^(scale-127-shift) (exact in
// fp32 and, by the fold plan, in the 16-bit type) written to wd [N, K].
template <bool BF16>
__global__ void v1_dequantize_kernel(const uint32_t* __restrict__ words, const uint32_t* __restrict__ swords,
                                     uint16_t* __restrict__ wd, int N, int K, int n_tiles, int k_chunks,
                                     int shift) {
    int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= static_cast<int64_t>(k_chunks) * n_tiles * 128) return;
    const int s = idx % 4, lane = (idx / 4) % 32;
    const int64_t c = (idx / 128) % k_chunks, t = idx / (128 * static_cast<int64_t>(k_chunks));
    const int g = lane / 4, q = lane % 4;
    const uint32_t word = logical_word<BF16>(words[idx]);  // nibble i = code i
    const uint32_t sw = swords[(t * k_chunks + c) * 8 + g];
    const int rows[8] = {g, g + 8, g, g + 8, g, g + 8, g, g + 8};
    const int cols[8] = {2 * q, 2 * q, 2 * q + 8, 2 * q + 8, 2 * q + 1, 2 * q + 1, 2 * q + 9, 2 * q + 9};
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const int64_t n = t * kTileN + rows[i], k = c * kChunkK + s * 16 + cols[i];
        if (n >= N || k >= K) continue;
        // Scale byte: (row g | g+8) x (block 0 | 1 of the chunk), ref/mxfp4_repack.h.
        const uint32_t code = (sw >> (8 * ((rows[i] >= 8 ? 1 : 0) + 2 * (s / 2)))) & 0xFF;
        const float scale = code == kE8M0Nan ? f32_from_bits(0x7FC00000u)
                                             : f32_from_bits(static_cast<uint32_t>(static_cast<int>(code) - shift) << 23);
        wd[n * K + k] = act_from_float<BF16>(e2m1_to_float((word >> (4 * i)) & 0xF) * scale);
    }
}

// out[m, n] = round(2^shift * sum_k x[m, k] * wd[n, k] + bias[n]). 64x64 output tile per
// block, 16x16 threads with 4x4 outputs each, k in steps of 16 through shared memory
// (stored k-major so the inner loop reads rows).
template <bool BF16>
__global__ void v1_gemm_kernel(const uint16_t* __restrict__ x, const uint16_t* __restrict__ wd,
                               const uint16_t* __restrict__ bias, uint16_t* __restrict__ out, int M, int N, int K,
                               float out_scale) {
    constexpr int BM = 64, BN = 64, BK = 16;
    __shared__ float xs[BK][BM + 1];
    __shared__ float ws[BK][BN + 1];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int i = threadIdx.x; i < BM * BK; i += 256) {
            const int r = i / BK, kk = i % BK;
            xs[kk][r] = (m0 + r < M && k0 + kk < K) ? act_to_float<BF16>(x[(int64_t)(m0 + r) * K + k0 + kk]) : 0.0f;
            ws[kk][r] = (n0 + r < N && k0 + kk < K) ? act_to_float<BF16>(wd[(int64_t)(n0 + r) * K + k0 + kk]) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; ++kk)
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(xs[kk][ty * 4 + i], ws[kk][tx * 4 + j], acc[i][j]);
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
            if (m >= M || n >= N) continue;
            float v = acc[i][j] * out_scale;
            if (bias) v += act_to_float<BF16>(bias[n]);
            out[(int64_t)m * N + n] = act_from_float<BF16>(v);
        }
    }
}

// ---------------------------------------------------------------------------------
// v2: fused decode kernel (mma.sync; every warp its own cp.async pipeline and stripe)
// ---------------------------------------------------------------------------------

constexpr int kV2Warps = 4;   // warps per CTA; they share nothing but the SM
constexpr int kV2Stages = 3;  // per-warp pipeline depth (2 units in flight while one is used)
constexpr int kV2Tiles = 4;   // 16-row tiles per unit: 4 x 16 bytes in flight per lane and stage,
                              // and the x fragments, scales and bookkeeping shared by 4 tiles
constexpr int kXRowBytes = kChunkK * 2 + 16;  // 64 activations + 16 bytes of padding:
                                              // ldmatrix rows land in distinct banks

// One warp's ring of stages. A stage holds one unit = kV2Tiles tiles (16 x 64 each) of
// the same k-chunk: tile i's fragments (lane l's 16 bytes at 512 i + 16 l), the tiles'
// scale words (tile i's 8 words at 32 i; copied by lanes 0..7, 16 bytes each), and x
// rows 0..8MT-1 of the chunk.
template <int MT>
struct V2Smem {
    static constexpr int kW = kV2Tiles * 32 * 16;
    static constexpr int kS = kV2Tiles * 8 * 4;
    static constexpr int kX = MT * 8 * kXRowBytes;
    static constexpr int kStage = kW + kS + kX;
    static constexpr int kWarp = kStage * kV2Stages;
    static constexpr int kTotal = kWarp * kV2Warps;
};

// The unit sequence (unit = (tile group t, chunk c), c fastest; a group is kV2Tiles
// consecutive tiles) cut into stripes of `per_warp` units, one per warp: which warps
// touch group t.
struct Stripe {
    int per_warp, k_chunks;
    __device__ __host__ int first_warp(int t) const { return t * k_chunks / per_warp; }
    __device__ __host__ int last_warp(int t) const { return (t * k_chunks + k_chunks - 1) / per_warp; }
};

// fp32 value of byte B (0..3) of a scale word, 2^(code - 127). PLAIN: the layer has no
// code 0 and no NaN block (Mxfp4KernelWeight's scan), so every code is the exponent
// field of a normal fp32 number: one shift and one mask. Otherwise e8m0_to_float takes
// code 0 (2^-127, subnormal) and 255 (NaN) as well.
template <bool PLAIN, int B>
__device__ __forceinline__ float v2_block_scale(uint32_t sw) {
    if (PLAIN) return __uint_as_float((B < 3 ? sw << (23 - 8 * B) : sw >> 1) & 0x7F800000u);
    return e8m0_to_float((sw >> (8 * B)) & 0xFF);
}

template <bool BF16, int MT, bool PLAIN>
__global__ void __launch_bounds__(kV2Warps * 32, MT == 1 ? 5 : 3)
    v2_kernel(const uint16_t* __restrict__ x,        // [M, K], M <= 8 MT
              const uint4* __restrict__ words,       // [n_tiles, k_chunks, 32] x 16 B
              const uint4* __restrict__ swords,      // [n_tiles, k_chunks, 2] x 16 B (8 words)
              const uint16_t* __restrict__ bias,     // [N] or null
              uint16_t* __restrict__ out,            // [M, N]
              float* __restrict__ partials,          // [n_groups, max_contrib, 32 lanes, kV2Tiles, MT] float4
              int* __restrict__ counters,            // [n_groups], zero between launches
              int M, int N, int K, int n_tiles, int k_chunks, int per_warp, int max_contrib) {
    extern __shared__ __align__(16) uint8_t smem[];
    using L = V2Smem<MT>;
    constexpr int T = kV2Tiles;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
    const int gw = blockIdx.x * kV2Warps + warp;  // this warp's stripe
    const int n_groups = (n_tiles + T - 1) / T;
    const int u_begin = gw * per_warp;
    const int u_end = min(u_begin + per_warp, n_groups * k_chunks);
    if (u_begin >= u_end) return;  // warp-uniform; the kernel has no block-wide barrier
    uint8_t* ring = smem + warp * L::kWarp;

    // x rows >= M are never copied: zero them once in every stage.
    for (int i = lane; i < kV2Stages * MT * 8 * 8; i += 32) {
        const int st = i / (MT * 64), r = (i / 8) % (MT * 8), j = i % 8;
        if (r >= M) *reinterpret_cast<uint4*>(ring + st * L::kStage + L::kW + L::kS + r * kXRowBytes + j * 16) = uint4{0, 0, 0, 0};
    }

    // Global -> this warp's stage `slot`: unit (group t, chunk c). Tiles past n_tiles
    // (the last group) are zero-filled: zero weights, scale code 0, never written out.
    auto load_unit = [&](int t, int c, int slot) {
        uint8_t* st = ring + slot * L::kStage;
#pragma unroll
        for (int i = 0; i < T; ++i) {
            const int tile = t * T + i;
            const bool ok = tile < n_tiles;
            const int64_t unit = static_cast<int64_t>(ok ? tile : 0) * k_chunks + c;
            ptx::cp_async_16(ptx::smem_addr(st + i * 512 + lane * 16), words + unit * 32 + lane, ok);
        }
        if (lane < 2 * T) {  // lane 2i + h: words 4h..4h+3 of tile i's scale words
            const int tile = t * T + lane / 2;
            const bool ok = tile < n_tiles;
            const int64_t unit = static_cast<int64_t>(ok ? tile : 0) * k_chunks + c;
            ptx::cp_async_16(ptx::smem_addr(st + L::kW + lane * 16), swords + unit * 2 + lane % 2, ok);
        }
#pragma unroll
        for (int r = 0; r < 2 * MT; ++r) {  // x: the M real rows, 8 pieces of 8 values each
            const int p = lane + 32 * r, row = p / 8, j = p % 8, k = c * kChunkK + j * 8;
            if (row < M) {
                const bool ok = k < K;  // K % 32 == 0: the second half of the last chunk may be past K
                ptx::cp_async_16(ptx::smem_addr(st + L::kW + L::kS + row * kXRowBytes + j * 16),
                                 x + (ok ? (int64_t)row * K + k : 0), ok);
            }
        }
    };

    float acc[T][MT][4];
#pragma unroll
    for (int i = 0; i < T; ++i)
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][mt][e] = 0.0f;

    // Writes the warp's sums for group t: directly if it is the group's only warp, else
    // as a partial; the last of the group's warps to arrive adds all partials in stripe
    // order (the same order whoever is last: deterministic) and writes the output. Only
    // the accumulator columns that hold real rows of x (m = 8 mt + 2q + e < M) travel.
    const Stripe stripe{per_warp, k_chunks};
    auto flush = [&](int t) {
        const int first = stripe.first_warp(t), count = stripe.last_warp(t) - first + 1;
        bool write = true;
        if (count > 1) {
            float4* base = reinterpret_cast<float4*>(partials) + (int64_t)t * max_contrib * 32 * T * MT;
#pragma unroll
            for (int i = 0; i < T; ++i)
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
                    if (mt * 8 + 2 * q < M)
                        base[(((gw - first) * 32 + lane) * T + i) * MT + mt] =
                            make_float4(acc[i][mt][0], acc[i][mt][1], acc[i][mt][2], acc[i][mt][3]);
            __threadfence();
            __syncwarp();
            int last = 0;
            if (lane == 0) last = atomicAdd(&counters[t], 1) == count - 1;
            write = __shfl_sync(0xFFFFFFFFu, last, 0) != 0;
            if (write) {
                __threadfence();
#pragma unroll
                for (int i = 0; i < T; ++i)
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                        for (int e = 0; e < 4; ++e) acc[i][mt][e] = 0.0f;
                // JB partials per round trip: the loads of a batch are independent, so
                // the last warp waits ceil(count / JB) L2 latencies, not count (a group
                // has up to ~k_chunks / per_warp + 1 contributors). Missing ones add +0.
                constexpr int JB = 4 / MT;
                for (int j0 = 0; j0 < count; j0 += JB) {
                    float4 v[JB][T][MT];
#pragma unroll
                    for (int jj = 0; jj < JB; ++jj)
#pragma unroll
                        for (int i = 0; i < T; ++i)
#pragma unroll
                            for (int mt = 0; mt < MT; ++mt)
                                v[jj][i][mt] = (j0 + jj < count && mt * 8 + 2 * q < M)
                                                   ? __ldcg(base + (((j0 + jj) * 32 + lane) * T + i) * MT + mt)
                                                   : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
                    for (int jj = 0; jj < JB; ++jj)
#pragma unroll
                        for (int i = 0; i < T; ++i)
#pragma unroll
                            for (int mt = 0; mt < MT; ++mt) {
                                acc[i][mt][0] += v[jj][i][mt].x;
                                acc[i][mt][1] += v[jj][i][mt].y;
                                acc[i][mt][2] += v[jj][i][mt].z;
                                acc[i][mt][3] += v[jj][i][mt].w;
                            }
                }
                if (lane == 0) counters[t] = 0;  // ready for the next launch
            }
        }
        if (write) {
#pragma unroll
            for (int i = 0; i < T; ++i) {
#pragma unroll
                for (int half = 0; half < 2; ++half) {  // rows g and g + 8 of tile t T + i
                    const int n = (t * T + i) * kTileN + g + 8 * half;
                    if (n >= N) continue;
                    const float b = bias ? act_to_float<BF16>(bias[n]) : 0.0f;
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            const int m = mt * 8 + 2 * q + e;
                            if (m < M) out[(int64_t)m * N + n] = act_from_float<BF16>(acc[i][mt][2 * half + e] + b);
                        }
                    }
                }
            }
        }
#pragma unroll
        for (int i = 0; i < T; ++i)
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[i][mt][e] = 0.0f;
    };

    // Prologue: kV2Stages - 1 units in flight. (lt, lc) = the next unit to load.
    int lt = u_begin / k_chunks, lc = u_begin % k_chunks;
    auto advance = [&](int& t, int& c) {
        if (++c == k_chunks) c = 0, ++t;
    };
#pragma unroll
    for (int i = 0; i < kV2Stages - 1; ++i) {
        if (u_begin + i < u_end) {
            load_unit(lt, lc, i);
            advance(lt, lc);
        }
        ptx::cp_async_commit();
    }
    const float zero[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int t = u_begin / k_chunks, c = u_begin % k_chunks;
    int slot = 0, load_slot = kV2Stages - 1;
    for (int u = u_begin; u < u_end; ++u) {
        ptx::cp_async_wait<kV2Stages - 2>();  // unit u has landed (this lane's copies) ...
        __syncwarp();                         // ... every lane's; and every lane is done with slot - 1
        if (u + kV2Stages - 1 < u_end) {
            load_unit(lt, lc, load_slot);
            advance(lt, lc);
        }
        ptx::cp_async_commit();

        const uint8_t* st = ring + slot * L::kStage;
        uint4 wq[T];
        uint32_t sw[T];
#pragma unroll
        for (int i = 0; i < T; ++i) {
            wq[i] = *reinterpret_cast<const uint4*>(st + i * 512 + lane * 16);
            sw[i] = *reinterpret_cast<const uint32_t*>(st + L::kW + i * 32 + g * 4);
        }
        const uint32_t x_addr = ptx::smem_addr(st + L::kW + L::kS) + (lane % 8) * kXRowBytes + (lane / 8) * 16;
#pragma unroll
        for (int kb = 0; kb < 2; ++kb) {  // the chunk's two 32-blocks
            // B fragments of both k16 steps of the block for x rows 8 mt .. 8 mt + 7.
            uint32_t b[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) ptx::ldmatrix_x4(b[mt], x_addr + mt * 8 * kXRowBytes + kb * 64);
#pragma unroll
            for (int i = 0; i < T; ++i) {
                // A fragments (tile i's 16 rows) of the block's two k16 steps.
                uint32_t a0[4], a1[4];
                e2m1_fragment<BF16>(kb == 0 ? wq[i].x : wq[i].z, a0);
                e2m1_fragment<BF16>(kb == 0 ? wq[i].y : wq[i].w, a1);
                // The block's scale, exactly, in fp32: rows g (bytes 0 / 2) and g + 8 (1 / 3).
                const float s_g = v2_block_scale<PLAIN, 0>(sw[i] >> (16 * kb));
                const float s_g8 = v2_block_scale<PLAIN, 1>(sw[i] >> (16 * kb));
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    float part[4];
                    mma_16x8x16<BF16>(part, a0, b[mt][0], b[mt][1], zero);
                    mma_16x8x16<BF16>(part, a1, b[mt][2], b[mt][3], part);
                    acc[i][mt][0] = fmaf(part[0], s_g, acc[i][mt][0]);
                    acc[i][mt][1] = fmaf(part[1], s_g, acc[i][mt][1]);
                    acc[i][mt][2] = fmaf(part[2], s_g8, acc[i][mt][2]);
                    acc[i][mt][3] = fmaf(part[3], s_g8, acc[i][mt][3]);
                }
            }
        }
        if (c == k_chunks - 1 || u == u_end - 1) flush(t);
        advance(t, c);
        slot = slot == kV2Stages - 1 ? 0 : slot + 1;
        load_slot = load_slot == kV2Stages - 1 ? 0 : load_slot + 1;
    }
    ptx::cp_async_wait<0>();
}

// ---------------------------------------------------------------------------------
// v3: wgmma; weights dequantized into shared memory, activations cp.async'ed there
// ---------------------------------------------------------------------------------


// WGS warpgroups, one 16-row tile of W per warp: the CTA covers 64 WGS rows of W and
// kV3RowsX = 128 rows of x (the N = 128 of wgmma m64n128k16).
constexpr int kV3RowsX = 128;

template <int WGS>
struct V3Smem {
    static constexpr int BM = kV3RowsX;
    static constexpr int kThreads = 128 * WGS;
    static constexpr int kTiles = 4 * WGS;
    static constexpr int kStages = 5;
    static constexpr int kX = BM * 128;                 // BM rows x 64 values, 128B-swizzled
    static constexpr int kW = kTiles * 32 * 16;         // raw fragments, 512 B per tile
    static constexpr int kS = kTiles * 8 * 4;           // scale words, 32 B per tile
    static constexpr int kStage = (kX + kW + kS + 1023) / 1024 * 1024;  // x stays 1024-aligned
    static constexpr int kA = kTiles * 16 * 128;        // dequantized W tile: 64 WGS rows x 64 values
    static constexpr int kABuffers = 3;                 // chunk c in the MMAs, c + 1 being written, c - 1 retiring
    static constexpr int kAOffset = kStage * kStages;   // the A buffers follow the stages
    static constexpr int kOutRow = kTiles * 16 * 2 + 16;  // staged output row: 64 WGS n + padding
    static constexpr int kUsed = kAOffset + kABuffers * kA;
    static constexpr int kTotal = (kUsed > BM * kOutRow ? kUsed : BM * kOutRow) + 1024;  // + alignment
};

template <bool BF16>
__device__ __forceinline__ void wgmma_ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b) {
    if (BF16) ptx::wgmma_bf16<128>(d, desc_a, desc_b, 1);
    else ptx::wgmma_f16<128>(d, desc_a, desc_b, 1);
}

template <bool BF16, int WGS>
__global__ void __launch_bounds__(128 * WGS, 1)
    v3_kernel(const uint16_t* __restrict__ x,        // [M, K]
              const uint4* __restrict__ words,       // [n_tiles, k_chunks, 32] x 16 B
              const uint32_t* __restrict__ swords,   // [n_tiles, k_chunks, 8]
              const uint16_t* __restrict__ bias,     // [N] or null
              uint16_t* __restrict__ out,            // [M, N]
              int M, int N, int K, int n_tiles, int k_chunks, int fold_shift, float out_scale) {
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
    __trap();  // wgmma needs sm_90a; the launchers refuse v3 in other builds
#else
    using L = V3Smem<WGS>;
    constexpr int BM = L::BM;
    // Chunk c + kAhead is loaded while chunk c + 1 is dequantized and chunk c multiplied;
    // its slot last held chunk c + kAhead - kStages, whose MMAs must have retired: c - 2.
    constexpr int kStages = L::kStages, kAhead = L::kStages - 2;
    extern __shared__ uint8_t smem_raw[];
    // 1024-byte alignment: the 128B swizzle pattern repeats every 8 rows x 128 B.
    uint8_t* smem = smem_raw + ((1024 - (ptx::smem_addr(smem_raw) & 1023)) & 1023);
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4;
    const int wg = warp / 4;  // warpgroup: W rows 64 wg .. 64 wg + 63 of the CTA's
    const int nb = blockIdx.x, m0 = blockIdx.y * BM;

    auto load_chunk = [&](int c, int slot) {
        uint8_t* st = smem + slot * L::kStage;
        for (int p = tid; p < BM * 8; p += L::kThreads) {  // x rows, 16-byte pieces, swizzled
            const int r = p / 8, j = p % 8;
            const int k = c * kChunkK + j * 8;
            const bool ok = m0 + r < M && k < K;
            ptx::cp_async_16(ptx::smem_addr(st + sw128_offset(r, j)), x + (ok ? (int64_t)(m0 + r) * K + k : 0), ok);
        }
        {   // fragments: thread i copies lane i % 32 of tile i / 32
            const int t = nb * L::kTiles + warp;
            const bool ok = t < n_tiles;
            ptx::cp_async_16(ptx::smem_addr(st + L::kX + tid * 16),
                             words + (ok ? ((int64_t)t * k_chunks + c) * 32 + lane : 0), ok);
        }
        if (tid < 2 * L::kTiles) {  // scale words: 32 B per tile
            const int t = nb * L::kTiles + tid / 2;
            const bool ok = t < n_tiles;
            ptx::cp_async_16(ptx::smem_addr(st + L::kX + L::kW + tid * 16),
                             swords + (ok ? ((int64_t)t * k_chunks + c) * 8 + (tid % 2) * 4 : 0), ok);
        }
    };

    // Dequantize this warp's 16 x 64 weights of chunk c (scale folded in) into A buffer
    // c % 3, then make them visible to the warpgroup's wgmma.
    const int a_row = warp * 16 + (lane / 8 % 2) * 8 + lane % 8;  // the row this lane addresses for stmatrix
    auto dequantize_chunk = [&](int c) {
        const uint8_t* st = smem + (c % kStages) * L::kStage;
        uint8_t* a_tile = smem + L::kAOffset + (c % L::kABuffers) * L::kA;
        const uint4 wq = *reinterpret_cast<const uint4*>(st + L::kX + tid * 16);
        const uint32_t sw = *reinterpret_cast<const uint32_t*>(st + L::kX + L::kW + (warp * 8 + g) * 4);
        const uint32_t mul_g0 = folded_multiplier<BF16>(sw & 0xFF, fold_shift);
        const uint32_t mul_g8_0 = folded_multiplier<BF16>((sw >> 8) & 0xFF, fold_shift);
        const uint32_t mul_g1 = folded_multiplier<BF16>((sw >> 16) & 0xFF, fold_shift);
        const uint32_t mul_g8_1 = folded_multiplier<BF16>(sw >> 24, fold_shift);
        const uint32_t wsteps[4] = {wq.x, wq.y, wq.z, wq.w};
#pragma unroll
        for (int s = 0; s < 4; ++s) {
            uint32_t a[4];
            folded_fragment<BF16>(wsteps[s], s < 2 ? mul_g0 : mul_g1, s < 2 ? mul_g8_0 : mul_g8_1, a);
            // Matrix j = lane / 8 of the x4 store: rows + 8 (j odd), columns + 8 (j >= 2).
            ptx::stmatrix_x4(ptx::smem_addr(a_tile + sw128_offset(a_row, 2 * s + lane / 16)), a);
        }
        ptx::fence_proxy_async_shared();       // stmatrix wrote A; wgmma reads it
        ptx::named_barrier_sync(1 + wg, 128);  // the warpgroup's 4 warps have written their rows
    };

    float acc[BM / 2];  // m64n128: 64 fp32 per thread
#pragma unroll
    for (int i = 0; i < BM / 2; ++i) acc[i] = 0.0f;

    for (int i = 0; i < kAhead; ++i) {
        if (i < k_chunks) load_chunk(i, i);
        ptx::cp_async_commit();
    }
    ptx::cp_async_wait<kAhead - 1>();  // chunk 0 is in
    ptx::fence_proxy_async_shared();
    __syncthreads();
    dequantize_chunk(0);

    for (int c = 0; c < k_chunks; ++c) {
        // 1. Multiply chunk c (A buffer c % 3, x slot c % kStages): 4 wgmmas, one group.
        const uint8_t* st = smem + (c % kStages) * L::kStage;
        const uint8_t* a_tile = smem + L::kAOffset + (c % L::kABuffers) * L::kA + wg * 64 * 128;
        const uint64_t desc_a = ptx::wgmma_desc_k_major_sw128(ptx::smem_addr(a_tile));
        const uint64_t desc_b = ptx::wgmma_desc_k_major_sw128(ptx::smem_addr(st));
#pragma unroll
        for (int i = 0; i < BM / 2; ++i) ptx::pin_register(acc[i]);
        ptx::wgmma_fence();
#pragma unroll
        for (int s = 0; s < 4; ++s) wgmma_ss<BF16>(acc, desc_a + 2 * s, desc_b + 2 * s);  // +32 B per k16
        ptx::wgmma_commit();

        // 2. While the tensor cores work on chunks c (and maybe c - 1): bring chunk c + 1
        //    in, refill the pipeline, dequantize chunk c + 1.
        if (c + 1 < k_chunks) {
            ptx::cp_async_wait<kAhead - 2>();  // chunk c + 1 is in (this thread's copies)
            ptx::fence_proxy_async_shared();   // cp.async wrote x; wgmma reads it via the async proxy
            __syncthreads();                   // everyone's copies; every group up to c - 2 has retired
            if (c + 1 + kAhead - 1 < k_chunks) load_chunk(c + kAhead, (c + kAhead) % kStages);
            ptx::cp_async_commit();
            dequantize_chunk(c + 1);           // A buffer (c + 1) % 3 last held chunk c - 2
        }
        // 3. Retire chunk c - 1's group: its A buffer and x slot may be reused from here.
        ptx::wgmma_wait<1>();
#pragma unroll
        for (int i = 0; i < BM / 2; ++i) ptx::pin_register(acc[i]);
    }
    ptx::wgmma_wait<0>();
#pragma unroll
    for (int i = 0; i < BM / 2; ++i) ptx::pin_register(acc[i]);
    ptx::cp_async_wait<0>();
    __syncthreads();  // pipeline smem is reused for the output tile below

    // Epilogue: acc (rows n, cols m) -> out tile [BM][64 WGS] in smem -> 16-byte stores.
    const int q = lane % 4;
    const int n_local0 = warp * 16 + g;  // = 64 wg + 16 (warp % 4) + g
    const int n0 = nb * L::kTiles * 16;
    float bias_v[2] = {0.0f, 0.0f};
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int n = n0 + n_local0 + 8 * h;
        if (bias && n < N) bias_v[h] = act_to_float<BF16>(bias[n]);
    }
    uint16_t* tile = reinterpret_cast<uint16_t*>(smem);
    constexpr int kRow = L::kOutRow / 2;  // in elements
#pragma unroll
    for (int j = 0; j < BM / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int m = 8 * j + 2 * q + (e & 1), h = e >> 1;
            tile[m * kRow + n_local0 + 8 * h] = act_from_float<BF16>(acc[4 * j + e] * out_scale + bias_v[h]);
        }
    }
    __syncthreads();
    const bool vec_ok = N % 8 == 0;
    constexpr int kPieces = L::kTiles * 2;  // 16-byte pieces per output row of the tile
    for (int p = tid; p < BM * kPieces; p += L::kThreads) {
        const int m = p / kPieces, j = p % kPieces;
        const int gm = m0 + m, gn = n0 + j * 8;
        if (gm >= M || gn >= N) continue;
        const uint16_t* src = tile + m * kRow + j * 8;
        uint16_t* dst = out + (int64_t)gm * N + gn;
        if (vec_ok) {
            *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
        } else {
            for (int e = 0; e < 8 && gn + e < N; ++e) dst[e] = src[e];
        }
    }
#endif
}

// ---------------------------------------------------------------------------------
// Launchers
// ---------------------------------------------------------------------------------

// Grow-only device scratch for v2's partial sums and arrival counters (counters are
// zeroed once and reset by the kernel itself). One stream, one call at a time.
struct V2Workspace {
    Tensor partials, counters;
    int64_t partial_floats = 0, counter_ints = 0;
    void reserve(int64_t floats, int64_t ints) {
        if (floats > partial_floats) {
            partials = device_empty(DType::F32, {floats});
            partial_floats = floats;
        }
        if (ints > counter_ints) {
            counters = device_zeros(DType::I32, {ints});
            counter_ints = ints;
        }
    }
};
V2Workspace& v2_workspace() {
    static V2Workspace ws;
    return ws;
}

float exp2_float(int e) { return f32_from_bits(static_cast<uint32_t>(e + 127) << 23); }  // |e| <= 126

// Fewest units per warp stripe for a layer of `total` units. Measured on the H100
// (bf16, M = 1 and 16, docs/mxfp4.md): stripes of 1-2 units lose to start-up and split-K
// reduction; 8 units is best on 4096x4096 (4096 units), 16 on the larger layers
// (14336-16384 units). CTK_MXFP4_MIN_UNITS overrides the rule (for tuning runs).
int v2_min_units(int total) {
    static const int forced = [] {
        const char* e = std::getenv("CTK_MXFP4_MIN_UNITS");
        return e ? std::max(1, std::atoi(e)) : 0;
    }();
    if (forced) return forced;
    return total >= 8192 ? 16 : 8;
}

template <bool BF16, int MT, bool PLAIN>
void launch_v2(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int M) {
    auto kernel = v2_kernel<BF16, MT, PLAIN>;
    const int smem = V2Smem<MT>::kTotal;
    static int per_sm = 0;  // resident CTAs per SM, from the occupancy calculator
    if (per_sm == 0) {
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
        CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kV2Warps * 32, smem));
        per_sm = std::max(per_sm, 1);
    }
    const int n_tiles = static_cast<int>(w.n_tiles), k_chunks = static_cast<int>(w.k_chunks);
    const int n_groups = (n_tiles + kV2Tiles - 1) / kV2Tiles;
    const int total = n_groups * k_chunks;
    // Equal stripes for every resident warp: each SM streams the same number of bytes.
    // A stripe is at least v2_min_units(total) units: short stripes pay more in ring
    // start-up and split-K reduction than they gain in parallelism.
    const int warps = device_sm_count() * per_sm * kV2Warps;
    const int per_warp = std::max(v2_min_units(total), (total + warps - 1) / warps);
    const int used_warps = (total + per_warp - 1) / per_warp;
    const int grid = (used_warps + kV2Warps - 1) / kV2Warps;
    const Stripe stripe{per_warp, k_chunks};
    int max_contrib = 1;
    for (int t = 0; t < n_groups; ++t) max_contrib = std::max(max_contrib, stripe.last_warp(t) - stripe.first_warp(t) + 1);
    V2Workspace& ws = v2_workspace();
    ws.reserve(static_cast<int64_t>(n_groups) * max_contrib * 32 * kV2Tiles * MT * 4, n_groups);
    kernel<<<grid, kV2Warps * 32, smem>>>(x, static_cast<const uint4*>(w.words.raw()),
                                          static_cast<const uint4*>(w.scale_words.raw()), bias, out,
                                          static_cast<float*>(ws.partials.raw()), static_cast<int*>(ws.counters.raw()),
                                          M, static_cast<int>(w.N), static_cast<int>(w.K), n_tiles, k_chunks, per_warp,
                                          max_contrib);
    CUDA_CHECK_LAUNCH();
}

template <bool BF16, int MT>
void launch_v2(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int M) {
    // No code 0 and no NaN block: every scale is a normal fp32 exponent (v2_block_scale).
    if (w.min_code >= 1 && w.nan_blocks == 0) launch_v2<BF16, MT, true>(x, w, bias, out, M);
    else launch_v2<BF16, MT, false>(x, w, bias, out, M);
}

template <bool BF16>
void run_v2(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    // Slices of at most 16 rows (two n8 columns of the MMA per warp); each slice streams
    // the weights again, which is why v3 takes over for larger M.
    for (int64_t m0 = 0; m0 < M; m0 += 16) {
        const int rows = static_cast<int>(std::min<int64_t>(16, M - m0));
        const uint16_t* xs = x + m0 * w.K;
        uint16_t* os = out + m0 * w.N;
        if (rows <= 8) launch_v2<BF16, 1>(xs, w, bias, os, rows);
        else launch_v2<BF16, 2>(xs, w, bias, os, rows);
    }
}

template <bool BF16>
void run_v1(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    Tensor wd = device_empty(w.act_dtype, {w.N, w.K});
    const int64_t words = w.k_chunks * w.n_tiles * 128;
    v1_dequantize_kernel<BF16><<<static_cast<int>((words + 255) / 256), 256>>>(
        static_cast<const uint32_t*>(w.words.raw()), static_cast<const uint32_t*>(w.scale_words.raw()),
        static_cast<uint16_t*>(wd.raw()), static_cast<int>(w.N), static_cast<int>(w.K), static_cast<int>(w.n_tiles),
        static_cast<int>(w.k_chunks), w.fold_shift);
    CUDA_CHECK_LAUNCH();
    dim3 grid(static_cast<unsigned>((w.N + 63) / 64), static_cast<unsigned>((M + 63) / 64));
    v1_gemm_kernel<BF16><<<grid, 256>>>(x, static_cast<const uint16_t*>(wd.raw()), bias, out, static_cast<int>(M),
                                        static_cast<int>(w.N), static_cast<int>(w.K), exp2_float(w.fold_shift));
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaStreamSynchronize(0));  // wd is freed on return
}

template <bool BF16, int WGS>
void launch_v3(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    using L = V3Smem<WGS>;
    auto kernel = v3_kernel<BF16, WGS>;
    static bool configured = false;
    if (!configured) {
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, L::kTotal));
        configured = true;
    }
    const int n_blocks = static_cast<int>((w.n_tiles + L::kTiles - 1) / L::kTiles);
    dim3 grid(static_cast<unsigned>(n_blocks), static_cast<unsigned>((M + L::BM - 1) / L::BM));
    kernel<<<grid, L::kThreads, L::kTotal>>>(x, static_cast<const uint4*>(w.words.raw()),
                                             static_cast<const uint32_t*>(w.scale_words.raw()), bias, out,
                                             static_cast<int>(M), static_cast<int>(w.N), static_cast<int>(w.K),
                                             static_cast<int>(w.n_tiles), static_cast<int>(w.k_chunks), w.fold_shift,
                                             exp2_float(w.fold_shift));
    CUDA_CHECK_LAUNCH();
}

template <bool BF16>
void run_v3(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    // grid.y counts x tiles of kV3RowsX rows and may not exceed 65535.
    CTK_CHECK(M < (int64_t(1) << 31) / 256 && M <= int64_t{65535} * kV3RowsX, "x: M = ", M,
              " too large for v3 (at most ", int64_t{65535} * kV3RowsX, " rows per call)");
    // Large M: 4 warpgroups, 256 rows of W per CTA (x is re-read from L2 half as often);
    // smaller M: 2 warpgroups, so that N / 128 CTAs fill more of the GPU.
    if (M >= 512) launch_v3<BF16, 4>(x, w, bias, out, M);
    else launch_v3<BF16, 2>(x, w, bias, out, M);
}

}  // namespace

int mxfp4_gemm_best_version(int64_t M, const Mxfp4KernelWeight& w) {
    // v5 (decode, scale folded) where measured faster and the layer folds; v3 and v4 need
    // wgmma: an sm_90a build on an sm_90 device. Elsewhere v2 serves every M.
    if (mxfp4_v5_takes(M) && w.foldable) return 5;
    if (M <= kMxfp4V2MaxM || !w.foldable || !CTK_BUILD_SM90A || device_capability() != 90) return 2;
    // v6 beat v3 and v4 on every prefill case timed (M 64..4096, four shapes; ops_mxfp4.h).
    return 6;
}

void mxfp4_gemm_out(Tensor& out, const Tensor& x, const Mxfp4KernelWeight& w, const Tensor& bias, int version) {
    CTK_CHECK(w.words.defined() && w.words.device == Device::CUDA,
              "w: not a repacked device weight (call mxfp4_repack first)");
    CTK_CHECK(x.device == Device::CUDA, "x: expected a device tensor, found ", x.describe());
    CTK_CHECK(x.dtype == w.act_dtype, "x: expected ", dtype_name(w.act_dtype),
              " (the activation dtype the weight was repacked for), found ", dtype_name(x.dtype));
    CTK_CHECK(x.ndim() == 2 && x.size(0) >= 1 && x.size(1) == w.K, "x: expected shape [M, ", w.K,
              "] with M >= 1, found ", shape_str(x.shape));
    const int64_t M = x.size(0);
    if (bias.defined()) {
        CTK_CHECK(bias.device == Device::CUDA, "bias: expected a device tensor, found ", bias.describe());
        expect_dtype(bias, w.act_dtype, "bias");
        expect_shape(bias, {w.N}, "bias");
    }
    CTK_CHECK(out.device == Device::CUDA, "out: expected a device tensor, found ", out.describe());
    expect_dtype(out, w.act_dtype, "out");
    expect_shape(out, {M, w.N}, "out");
    CTK_CHECK(version >= 0 && version <= 7, "version: expected 0 (best) or 1..7, found ", version);
    if (version == 0) version = mxfp4_gemm_best_version(M, w);
    CTK_CHECK(version == 2 || w.foldable, "mxfp4_gemm v", version,
              " folds the scale into a 16-bit weight and cannot for this layer: ", w.fold_error,
              " (use version 0 or 2)");
    const bool hopper_rung = version == 3 || version == 4 || version == 6 || version == 7;  // wgmma / TMA
    CTK_CHECK(!hopper_rung || device_capability() == 90, "mxfp4_gemm v", version,
              " needs sm_90 (wgmma, TMA); this device is sm_", device_capability());
    CTK_CHECK(!hopper_rung || CTK_BUILD_SM90A, "mxfp4_gemm v", version,
              " needs an sm_90a build (wgmma, TMA); rebuild with ARCH=sm_90a");
    const auto* xp = static_cast<const uint16_t*>(x.raw());
    const auto* bp = bias.defined() ? static_cast<const uint16_t*>(bias.raw()) : nullptr;
    auto* op = static_cast<uint16_t*>(out.raw());
    const bool bf16 = w.act_dtype == DType::BF16;
    switch (version) {
        case 1: bf16 ? run_v1<true>(xp, w, bp, op, M) : run_v1<false>(xp, w, bp, op, M); break;
        case 2: bf16 ? run_v2<true>(xp, w, bp, op, M) : run_v2<false>(xp, w, bp, op, M); break;
        case 3: bf16 ? run_v3<true>(xp, w, bp, op, M) : run_v3<false>(xp, w, bp, op, M); break;
        case 4: mxfp4_gemm_v4(xp, w, bp, op, M); break;
        case 5: run_mxfp4_v5(xp, w, bp, op, M); break;
        case 6: mxfp4_gemm_v6(xp, w, bp, op, M); break;
        default: run_mxfp4_v7(xp, w, bp, op, M); break;
    }
}

Tensor mxfp4_gemm(const Tensor& x, const Mxfp4KernelWeight& w, const Tensor& bias, int version) {
    CTK_CHECK(x.ndim() == 2, "x: expected shape [M, K], found ", shape_str(x.shape));
    Tensor out = device_empty(w.act_dtype, {x.size(0), w.N});
    mxfp4_gemm_out(out, x, w, bias, version);
    return out;
}

}  // namespace ctk::cuda
