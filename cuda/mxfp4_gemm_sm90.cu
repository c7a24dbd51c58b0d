// MXFP4 W4A16 GEMM, rung v4 (prefill, sm_90a): warp-specialized, persistent, fused.
//
//   out[M, N] = x[M, K] @ dequant(W)^T (+ bias)      (the contract of cuda/mxfp4_gemm.cu)
//
// v3 (cuda/mxfp4_gemm.cu) made every warp load, dequantize AND multiply, with a block
// barrier and a dequantize-store-fence-barrier chain per k64 chunk: ncu called it
// latency-bound (shared memory 61 %, SM 51 %). v4 splits the roles, as the Hopper 2:4
// kernel (cuda/sparse24_gemm_sm90.cu) does, and adds the dequantization as a stage:
//
//   warpgroup 0 (producer, 56 registers): warp 0 (one thread) issues the TMA copies of
//     a stage as soon as the consumers free it (blocking wait on "empty"):
//       x tile   BX rows x 64 values, 128-byte swizzle        (TMA, zero-filled past M, K)
//       W codes  8 repack tiles x 512 B (ref/mxfp4_repack.h: a 16 x 64 tile's fragments)
//       W scales 8 x 32 B
//     all on the stage's "full" mbarrier. Warps 1..3 dequantize the 8 tiles (128 rows x
//     64) with the scale folded in (exact by the fold plan, docs/mxfp4.md 5), store them
//     with stmatrix into the stage's 128-byte-swizzled A tile, fence.proxy.async, and
//     arrive on "deq": with the 256-row x tile all three share each chunk ("split"),
//     with 64/128 rows each takes whole chunks in turn ("round robin").
//   warpgroups 1, 2 (consumers, 224 registers): rows 64 cw .. 64 cw + 63 of the 128-row
//     W tile; per chunk: wait full + deq, 4 x wgmma m64nBXk16 (A = dequantized W, B = x,
//     both from shared memory), commit, retire the previous chunk's group and free its
//     stage ("empty", one arrive per warp). Epilogue straight from the accumulators:
//     2^fold_shift and the bias in fp32, one rounding, lanes g / g^1 swap one value so
//     each stores two adjacent outputs as a 32-bit word. While it runs the producer is
//     already filling the ring for the next tile.
//   Persistent grid (one CTA per SM), output tiles 128 W rows x BX x rows in groups of 8
//   x tiles (x tile fastest) so the CTAs running together share W tiles and x stays in L2.
//   BX (the wgmma N) by M: 64 (M <= 64), 128 (M <= 128), else 256.
//   Split-K (p.splits > 1; kMxfp4V4SplitK, on since its tests and the bench of 2026-12-07:
//   v6 at 64 x 4096 x 14336 91.5 -> 32.8 us with 4 splits): the unit of the persistent
//   loop becomes one of `splits` contiguous k ranges of a tile; each range stores its fp32
//   partial tile, and the last to arrive adds all of them in split order and runs the
//   epilogue (v4_split_k_last, the global reduction of the 2:4 Hopper kernel). For layers
//   with few output tiles: N = 4096 at M <= 256 has 32 tiles for 132 SMs (0.32x cuBLAS at
//   M = 128 without it).
//
// Measured (H100 SXM, bf16, L2 flushed, cuBLAS bf16 on the dequantized weight in the
// same run; docs/mxfp4.md 6): 4096 x 14336 x 4096 0.82 ms = 0.72x cuBLAS (v3 0.51x),
// 4096 x 4096 x 14336 0.79 ms (0.73x), 128 x 14336 x 4096 49 us (0.90x).
// The first producer had thread 0 of a dequantizing warp issue the loads, polling the
// "empty" barriers between its own chunks: loads ran barely ahead and every shape and
// tile size paid ~1.2 us per chunk (4096 x 14336 x 4096: 1.07-1.21 ms, 0.49-0.55x).
// Leaving the dequantization out of that producer only gained 20 %; the dedicated TMA
// warp gained 32 % (split) and 25 % (round robin) at M = 4096, and round robin 49 % at
// M = 128 (where split gained 42 %), hence the choice by BX.
//
// Since 2026-12-07 (tests passed, bench mxfp4 prefill) version 0 runs v6, this kernel with
// REG_A (below), from 17 rows; v4 stays a rung of the ladder (0.65-0.67x cuBLAS at M =
// 4096 in that run, v6 0.87-0.94x).
//
// Rung v6 (REG_A = true, mxfp4_gemm version 6): the same kernel with the dequantization
// moved into the consumers. Each consumer warp reads its own 16 rows' fragments (one
// 16-byte load) and scale word from the stage, folds the scale in registers, and feeds
// wgmma with A from registers (wgmma_rs_*): no A tile, no stmatrix, no proxy fence, no
// "deq" barrier, and producer warps 1..3 idle. Shared-memory traffic per chunk (BX = 256)
// drops from ~136 KB to ~104 KB, and a stage from 52 to 36 KB (6 stages instead of 4).
// The trap v3 fell into (docs/mxfp4.md, v3: ptxas serialized its RS wgmmas, C7513, because
// the next chunk's fragments overwrote registers a wgmma was still reading) is avoided
// with two register buffers, one per chunk parity, each kept alive (ptx::keep_alive) until
// the wgmma_wait<1> that retires the wgmmas reading it. keep_alive works on the compiler's
// side (the values stay live, so the two buffers stay distinct registers); ptxas itself
// tracks the registers of in-flight wgmmas and would serialize (C7513) on a rewrite
// before the wait. It reports no C7513 for v6: that check is what makes the scheme safe.
// Measured (H100, 2026-12-07, bench mxfp4 prefill, bf16, cuBLAS in the same run): M = 4096
// 0.67 ms on 14336 x 4096 (0.87x cuBLAS; v4 0.89 ms, v3 1.15 ms), 0.87-0.94x on the four
// LLM shapes; M = 64 on 14336 x 4096 31.9 us (1.43x). Its gpu tests (every rung loop, every
// x tile, 1 and 3 splits, sanitize under memcheck) passed the same day; version 0 runs it
// from 17 rows.
//
// Test: ctk_tests -ts=gpu -tc='*mxfp4*'      Bench: ctk bench mxfp4 [prefill]
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "check.cuh"
#include "mxfp4_dequant.cuh"
#include "mxfp4_gemm_sm90.cuh"
#include "ops.h"
#include "ptx.cuh"
#include "split_workspace.cuh"
#include "tensor_map.cuh"
#include "wgmma_store.cuh"

namespace ctk::cuda {
namespace {

constexpr int kV4Rows = 128;              // W rows per output tile: 2 consumer warpgroups x 64 (wgmma M)
constexpr int kV4Tiles = kV4Rows / 16;    // repack tiles (16 rows each) per output tile
constexpr int kV4Threads = 384;           // producer warpgroup + 2 consumer warpgroups
constexpr int kV4GroupM = 8;              // x tiles per raster group
constexpr int kV4Split = 1, kV4RoundRobin = 2;  // producer schedules (V4Params::producer)
[[maybe_unused]] constexpr int kV4ProducerRegs = 56, kV4ConsumerRegs = 224;  // 128 * 56 + 256 * 224 <= 65536
constexpr int kV4SmemBudget = 232448 - 2048;                // sm_90 opt-in maximum - alignment, barriers

// REG_A (rung v6): the consumers dequantize into their own A registers: no A tile.
template <int BX, bool REG_A>
struct V4Smem {
    static constexpr int kX = BX * 128;          // x tile: BX rows x 64 values (128 B), swizzled
    static constexpr int kA = REG_A ? 0 : kV4Rows * 128;  // dequantized W: 128 rows x 64 values, swizzled
    static constexpr int kW = kV4Tiles * 512;    // raw fragments
    static constexpr int kS = kV4Tiles * 32;     // scale words
    static constexpr int kStage = kX + kA + kW + kS;
    static constexpr int kFit = kV4SmemBudget / kStage < 8 ? kV4SmemBudget / kStage : 8;
    // A multiple of 3 where the round-robin producer may run (BX <= 128): then chunks q
    // and q - kStages, which share a stage, go to the same dequantizing warp, so a warp
    // waiting on a stage's "full" barrier never meets its phase of kStages chunks ago.
    static constexpr int kStages = BX <= 128 && !REG_A ? kFit / 3 * 3 : kFit;
    [[maybe_unused]] static constexpr uint32_t kTx = kX + kW + kS;  // bytes the TMA unit completes per stage
    // Regions: every x and A tile stays 1024-byte aligned (the swizzle period).
    static constexpr int kXOff = 0;
    static constexpr int kAOff = kXOff + kStages * kX;
    static constexpr int kWOff = kAOff + kStages * kA;
    static constexpr int kSOff = kWOff + kStages * kW;
    static constexpr int kBarOff = kSOff + kStages * kS;
    static constexpr int kFlagOff = kBarOff + 3 * kStages * 8;  // split-K: "this CTA adds the partials"
    static constexpr int kTotal = kFlagOff + 16 + 1024;
};

struct V4Params {
    const uint16_t* bias;  // [N] or null
    uint16_t* out;         // [M, N]
    int M, N, tiles_w, tiles_m, k_chunks, fold_shift;
    float out_scale;       // 2^fold_shift
    int producer;          // kV4Split or kV4RoundRobin: how warps 1..3 share the dequantization
    int splits;            // split-K: each output tile's k chunks in `splits` contiguous ranges (units)
    float4* partial;       // split-K partial tiles [tile][split][BX / 8][256 consumer threads]
    int* counters;         // split-K arrivals per tile, zero between launches
    int dbg;               // tuning runs only (CTK_V4_DBG): bit 0 leaves out the proxy fence, bit 1 the dequantization (wrong results)
};

// Output tile u -> (W tile, x tile): groups of kV4GroupM x tiles, x tile fastest.
[[maybe_unused]] __device__ __forceinline__ void v4_tile(int u, const V4Params& p, int& tw, int& tm) {
    const int group_size = kV4GroupM * p.tiles_w;
    const int group = u / group_size, first_m = group * kV4GroupM;
    const int gm = min(kV4GroupM, p.tiles_m - first_m);
    const int local = u - group * group_size;
    tm = first_m + local % gm;
    tw = local / gm;
}

// Unit u of the persistent loop (an output tile's k range) -> tile, its k chunks [c0, c1).
struct V4Unit {
    int tile, tw, tm, split, c0, c1;
};
[[maybe_unused]] __device__ __forceinline__ V4Unit v4_unit(int u, const V4Params& p) {
    V4Unit r;
    r.tile = u / p.splits;
    r.split = u - r.tile * p.splits;
    v4_tile(r.tile, p, r.tw, r.tm);
    r.c0 = static_cast<int>(static_cast<long long>(r.split) * p.k_chunks / p.splits);
    r.c1 = static_cast<int>(static_cast<long long>(r.split + 1) * p.k_chunks / p.splits);
    return r;
}

template <bool BF16, int N>
__device__ __forceinline__ void v4_wgmma(float (&d)[N / 2], uint64_t a, uint64_t b, int scale_d) {
    if constexpr (BF16) ptx::wgmma_bf16<N>(d, a, b, scale_d);
    else ptx::wgmma_f16<N>(d, a, b, scale_d);
}

// The four mma A fragments (k16 steps 0..3) of this lane in repack tile t (0..7) of a
// stage, 16 rows x 64 values, scale folded in (exact by the fold plan, docs/mxfp4.md 5):
// fragment word s is k16 step s; the scale word holds rows g / g + 8 of blocks 0 / 1.
template <bool BF16>
__device__ __forceinline__ void v4_tile_fragments(const uint8_t* raw, const uint8_t* scales, int t, int lane,
                                                  int fold_shift, uint32_t (&a)[4][4]) {
    const int g = lane / 4;
    const uint4 wq = *reinterpret_cast<const uint4*>(raw + t * 512 + lane * 16);
    const uint32_t sw = *reinterpret_cast<const uint32_t*>(scales + t * 32 + g * 4);
    const uint32_t mul_g0 = folded_multiplier<BF16>(sw & 0xFF, fold_shift);
    const uint32_t mul_g8_0 = folded_multiplier<BF16>((sw >> 8) & 0xFF, fold_shift);
    const uint32_t mul_g1 = folded_multiplier<BF16>((sw >> 16) & 0xFF, fold_shift);
    const uint32_t mul_g8_1 = folded_multiplier<BF16>(sw >> 24, fold_shift);
    folded_fragment<BF16>(wq.x, mul_g0, mul_g8_0, a[0]);
    folded_fragment<BF16>(wq.y, mul_g0, mul_g8_0, a[1]);
    folded_fragment<BF16>(wq.z, mul_g1, mul_g8_1, a[2]);
    folded_fragment<BF16>(wq.w, mul_g1, mul_g8_1, a[3]);
}

// v4: dequantizes repack tile t of a stage into rows 16t..16t+15 of the swizzled A tile
// (the stmatrix of v3, cuda/mxfp4_gemm.cu).
template <bool BF16>
__device__ __forceinline__ void v4_dequantize_tile(const uint8_t* raw, const uint8_t* scales, uint8_t* a_tile, int t,
                                                   int lane, int fold_shift) {
    uint32_t a[4][4];
    v4_tile_fragments<BF16>(raw, scales, t, lane, fold_shift, a);
    const int a_row = t * 16 + (lane / 8 % 2) * 8 + lane % 8;  // the row this lane addresses for stmatrix
#pragma unroll
    for (int s = 0; s < 4; ++s)  // matrix j = lane / 8 of the x4 store: rows + 8 (j odd), columns + 8 (j >= 2)
        ptx::stmatrix_x4(ptx::smem_addr(a_tile + sw128_offset(a_row, 2 * s + lane / 16)), a[s]);
}

// The accumulators are the tensor cores' between wgmma_fence and wgmma_wait: pinned
// (ptx::pin_register, CUTLASS's warpgroup_fence_operand) on both sides, so the compiler
// cannot move other work on them into that window, as in v3.
template <int BX>
__device__ __forceinline__ void v4_pin_acc(float (&acc)[BX / 2]) {
#pragma unroll
    for (int i = 0; i < BX / 2; ++i) ptx::pin_register(acc[i]);
}

// v4: one unit's k loop (chunks c0..c1-1 of an output tile) for one consumer warpgroup
// (W rows 64 cw .. 64 cw + 63 of the stage's dequantized A tile): wait full + deq, 4 x
// wgmma, commit, retire the previous chunk's group and free its stage. q: the CTA's
// running chunk count (ring position).
template <bool BF16, int BX, typename L, typename Release>
__device__ __forceinline__ void v4_consume_tile(float (&acc)[BX / 2], uint8_t* smem, uint64_t* full, uint64_t* deq,
                                                const Release& release, int& q, int c0, int c1, int cw) {
    constexpr int S = L::kStages;
    int prev = -1;
    for (int c = c0; c < c1; ++c, ++q) {
        const int slot = q % S;
        const uint32_t parity = (q / S) & 1;
        ptx::mbar_wait(ptx::smem_u32(&full[slot]), parity);
        ptx::mbar_wait(ptx::smem_u32(&deq[slot]), parity);
        const uint64_t da =
            ptx::smem_desc(ptx::smem_u32(smem + L::kAOff + slot * L::kA + cw * 64 * 128), ptx::Swizzle::B128, 1024);
        const uint64_t db = ptx::smem_desc(ptx::smem_u32(smem + L::kXOff + slot * L::kX), ptx::Swizzle::B128, 1024);
        v4_pin_acc<BX>(acc);
        ptx::wgmma_fence();
#pragma unroll
        for (int s = 0; s < 4; ++s)  // k16 step s: +32 bytes (+2 in the descriptor's 16-byte units)
            v4_wgmma<BF16, BX>(acc, da + 2 * s, db + 2 * s, (c > c0 || s > 0) ? 1 : 0);
        ptx::wgmma_commit();
        ptx::wgmma_wait<1>();  // the previous chunk's group is done: free its stage
        if (prev >= 0) release(prev);
        prev = slot;
    }
    ptx::wgmma_wait<0>();
    v4_pin_acc<BX>(acc);
    release(prev);
}

// Keeps a register buffer of A fragments alive up to this point (ptx::keep_alive): the
// tensor cores read it until wgmma.wait_group retires the wgmmas that named it. The empty
// asm leaves no trace in the PTX; it only stops the compiler from reusing the registers
// earlier. ptxas checks the in-flight wgmmas' registers itself (C7513 if it must wait).
__device__ __forceinline__ void v6_keep_alive(const uint32_t (&a)[4][4]) {
#pragma unroll
    for (int s = 0; s < 4; ++s) {
        ptx::keep_alive(a[s][0], a[s][1]);
        ptx::keep_alive(a[s][2], a[s][3]);
    }
}

// v6: one unit's k loop (chunks c0..c1-1 of an output tile) for one consumer warp, whose
// 16 W rows are repack tile t of every stage: the fragments go from the stage's raw bytes
// straight into A registers, scale folded in, and wgmma reads A from there (no A tile, no
// dequantizing warps, no "deq" barrier). Two register buffers: chunk c is dequantized into
// one while chunk c - 1's wgmmas may still read the other; wgmma_wait<1> after chunk c's
// commit retires c - 1, and only then is its buffer let go. q: the CTA's running chunk
// count (ring position), carried over units.
template <bool BF16, int BX, typename L, typename Release>
__device__ __forceinline__ void v6_consume_tile(float (&acc)[BX / 2], uint8_t* smem, uint64_t* full,
                                                const Release& release, int& q, int c0, int c1, int t, int lane,
                                                int fold_shift) {
    constexpr int S = L::kStages;
    uint32_t a[2][4][4] = {};
    int prev = -1;
    auto chunk = [&](int c, uint32_t(&cur)[4][4], const uint32_t(&other)[4][4]) {
        const int slot = q % S;
        ptx::mbar_wait(ptx::smem_u32(&full[slot]), (q / S) & 1);
        v4_tile_fragments<BF16>(smem + L::kWOff + slot * L::kW, smem + L::kSOff + slot * L::kS, t, lane, fold_shift,
                                cur);
        const uint64_t db = ptx::smem_desc(ptx::smem_u32(smem + L::kXOff + slot * L::kX), ptx::Swizzle::B128, 1024);
        v4_pin_acc<BX>(acc);
        ptx::wgmma_fence();  // the fragment registers were just written
#pragma unroll
        for (int s = 0; s < 4; ++s) {  // k16 step s: +32 bytes of x (+2 in the descriptor's 16-byte units)
            if constexpr (BF16) ptx::wgmma_rs_bf16<BX>(acc, cur[s], db + 2 * s, (c > c0 || s > 0) ? 1 : 0);
            else ptx::wgmma_rs_f16<BX>(acc, cur[s], db + 2 * s, (c > c0 || s > 0) ? 1 : 0);
        }
        ptx::wgmma_commit();
        ptx::wgmma_wait<1>();  // chunk c - 1 is done: its stage and its register buffer are free
        v6_keep_alive(other);
        if (prev >= 0) release(prev);
        prev = slot;
        ++q;
    };
    int c = c0;
    for (; c + 1 < c1; c += 2) {
        chunk(c, a[0], a[1]);
        chunk(c + 1, a[1], a[0]);
    }
    if (c < c1) chunk(c, a[0], a[1]);
    ptx::wgmma_wait<0>();
    v4_pin_acc<BX>(acc);
    v6_keep_alive(a[0]);
    v6_keep_alive(a[1]);
    release(prev);
}

// acc[4j + 2h + e] = (W row n_row0 + 8h, x row m0 + 8j + 2t + e) (wgmma D fragment).
template <bool BF16, int BX>
__device__ __forceinline__ void v4_epilogue(const float (&acc)[BX / 2], const V4Params& p, int n_row0, int m0,
                                            int lane) {
    const int g = lane >> 2, t = lane & 3;
    float bv[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int n = min(n_row0 + 8 * h, p.N - 1);  // rows past N compute but never store
        bv[h] = p.bias ? act_to_float<BF16>(p.bias[n]) : 0.0f;
    }
    const bool pair_ok = (p.N % 2) == 0;
#pragma unroll
    for (int j = 0; j < BX / 8; ++j) {
        uint16_t r[2][2];  // [h][e]
#pragma unroll
        for (int e = 0; e < 2; ++e)
#pragma unroll
            for (int h = 0; h < 2; ++h)
                r[h][e] = act_from_float<BF16>(__fadd_rn(__fmul_rn(acc[4 * j + 2 * h + e], p.out_scale), bv[h]));
        store_d_block(p.out, p.M, p.N, r, n_row0, m0 + 8 * j + 2 * t, g, pair_ok);
    }
}

// Split-K (the global reduction of the 2:4 Hopper kernel, cuda/sparse24_gemm_sm90.cu):
// every split of a tile stores its fp32 partial tile, coalesced ([BX / 8][256 threads] of
// 16-byte vectors); the last split to arrive (per-tile counter) re-reads all partials and
// adds them in split order 0..S-1, so the sum is the same whichever split finishes last.
// Returns true in the CTA that must run the epilogue (acc then holds the whole sum).
template <int BX>
__device__ __forceinline__ bool v4_split_k_last(float (&acc)[BX / 2], const V4Params& p, const V4Unit& w, int ct,
                                                volatile int* last_flag) {
    constexpr int Q = BX / 8;  // 16-byte vectors per thread
    constexpr int kThreads = 256;
    float4* part = p.partial + static_cast<size_t>(w.tile) * p.splits * Q * kThreads;
#pragma unroll
    for (int i = 0; i < Q; ++i)
        part[(static_cast<size_t>(w.split) * Q + i) * kThreads + ct] =
            make_float4(acc[4 * i], acc[4 * i + 1], acc[4 * i + 2], acc[4 * i + 3]);
    __threadfence();
    ptx::named_barrier_sync(1, kThreads);  // the consumers only: the producer runs ahead
    if (ct == 0) *last_flag = atomicAdd(&p.counters[w.tile], 1) == p.splits - 1;
    ptx::named_barrier_sync(1, kThreads);
    const bool last = *last_flag;
    ptx::named_barrier_sync(1, kThreads);  // the flag is read before the next unit rewrites it
    if (!last) return false;
    __threadfence();
    constexpr int QC = Q < 8 ? Q : 8;  // loads in flight together
#pragma unroll
    for (int i0 = 0; i0 < Q; i0 += QC) {
#pragma unroll 1
        for (int s = 0; s < p.splits; ++s) {
            float4 v[QC];
#pragma unroll
            for (int i = 0; i < QC; ++i) v[i] = __ldcg(&part[(static_cast<size_t>(s) * Q + i0 + i) * kThreads + ct]);
#pragma unroll
            for (int i = 0; i < QC; ++i) {
                const float a[4] = {v[i].x, v[i].y, v[i].z, v[i].w};
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[4 * (i0 + i) + e] = s == 0 ? a[e] : acc[4 * (i0 + i) + e] + a[e];
            }
        }
    }
    if (ct == 0) p.counters[w.tile] = 0;  // ready for the next launch
    return true;
}

template <bool BF16, int BX, bool REG_A>
__global__ void __launch_bounds__(kV4Threads, 1)
    v4_kernel(const __grid_constant__ CUtensorMap tm_x, const __grid_constant__ CUtensorMap tm_w,
              const __grid_constant__ CUtensorMap tm_s, const V4Params p) {
#if CTK_SM90A
    using L = V4Smem<BX, REG_A>;
    constexpr int S = L::kStages;
    extern __shared__ uint8_t smem_raw[];
    uint8_t* smem = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
    uint64_t* full = reinterpret_cast<uint64_t*>(smem + L::kBarOff);  // TMA bytes of a stage have landed
    uint64_t* deq = full + S;                                         // its A tile is dequantized
    uint64_t* empty = deq + S;                                        // the consumers are done with it
    const int wg = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    if (threadIdx.x == 0) {
        for (int s = 0; s < S; ++s) {
            ptx::mbar_init(ptx::smem_u32(&full[s]), 1);   // the producer's arrive.expect_tx
            ptx::mbar_init(ptx::smem_u32(&deq[s]), p.producer == kV4Split ? 3 : 1);  // the warps that dequantize it
            ptx::mbar_init(ptx::smem_u32(&empty[s]), 8);  // one arrive per consumer warp
        }
        ptx::fence_mbarrier_init();
        ptx::prefetch_tensormap(&tm_x);
        ptx::prefetch_tensormap(&tm_w);
        ptx::prefetch_tensormap(&tm_s);
    }
    __syncthreads();
    const int units = p.tiles_w * p.tiles_m * p.splits;

    if (wg == 0) {
        // ---- producer: warp 0 issues the TMA copies, warps 1..3 dequantize ------------
        ptx::setmaxnreg_dec<kV4ProducerRegs>();
        if (warp == 0) {
            if (lane == 0) {
                int n = 0;
                for (int u = blockIdx.x; u < units; u += gridDim.x) {
                    const V4Unit w = v4_unit(u, p);
                    const int tw = w.tw, tm = w.tm;
                    for (int c = w.c0; c < w.c1; ++c, ++n) {
                        const int slot = n % S;
                        ptx::mbar_wait(ptx::smem_u32(&empty[slot]), ((n / S) & 1) ^ 1);
                        const uint32_t fb = ptx::smem_u32(&full[slot]);
                        ptx::mbar_arrive_expect_tx(fb, L::kTx);
                        ptx::tma_load_2d(ptx::smem_u32(smem + L::kXOff + slot * L::kX), &tm_x, fb, c * 64, tm * BX);
                        ptx::tma_load_2d(ptx::smem_u32(smem + L::kWOff + slot * L::kW), &tm_w, fb, c * 128,
                                         tw * kV4Tiles);
                        ptx::tma_load_2d(ptx::smem_u32(smem + L::kSOff + slot * L::kS), &tm_s, fb, c * 8,
                                         tw * kV4Tiles);
                    }
                }
            }
        } else if (!REG_A) {
            int total = 0;  // chunks this CTA runs
            for (int u = blockIdx.x; u < units; u += gridDim.x) {
                const V4Unit w = v4_unit(u, p);
                total += w.c1 - w.c0;
            }
            // Split: every chunk is dequantized by all 3 warps (tiles w-1, w+2, w+5), so a
            // chunk is ready soonest. Round robin: warp w takes whole chunks w-1, w+2, ...,
            // so 3 chunks are in dequantization at once.
            const bool split = p.producer == kV4Split;
            for (int q = split ? 0 : warp - 1; q < total; q += split ? 1 : 3) {
                const int slot = q % S;
                ptx::mbar_wait(ptx::smem_u32(&full[slot]), (q / S) & 1);
                const uint8_t* raw = smem + L::kWOff + slot * L::kW;
                const uint8_t* scales = smem + L::kSOff + slot * L::kS;
                uint8_t* a_tile = smem + L::kAOff + slot * L::kA;
                if (!(p.dbg & 2)) {
                    for (int t = split ? warp - 1 : 0; t < kV4Tiles; t += split ? 3 : 1)
                        v4_dequantize_tile<BF16>(raw, scales, a_tile, t, lane, p.fold_shift);
                }
                if (!(p.dbg & 1)) ptx::fence_proxy_async_shared();
                __syncwarp();
                if (lane == 0) ptx::mbar_arrive(ptx::smem_u32(&deq[slot]));
            }
        }
    } else {
        // ---- consumers: wgmma + epilogue -----------------------------------------------
        ptx::setmaxnreg_inc<kV4ConsumerRegs>();
        const int cw = wg - 1;  // W rows 64 cw .. 64 cw + 63 of the tile
        float acc[BX / 2];
        auto release = [&](int s) {
            __syncwarp();
            if (lane == 0) ptx::mbar_arrive(ptx::smem_u32(&empty[s]));
        };
        int q = 0;
        const int ct = threadIdx.x - 128;  // consumer thread 0..255
        volatile int* last_flag = reinterpret_cast<volatile int*>(smem + L::kFlagOff);
        for (int u = blockIdx.x; u < units; u += gridDim.x) {
            const V4Unit w = v4_unit(u, p);
            if constexpr (REG_A)
                v6_consume_tile<BF16, BX, L>(acc, smem, full, release, q, w.c0, w.c1, cw * 4 + warp, lane,
                                             p.fold_shift);
            else
                v4_consume_tile<BF16, BX, L>(acc, smem, full, deq, release, q, w.c0, w.c1, cw);
            if (p.splits > 1 && !v4_split_k_last<BX>(acc, p, w, ct, last_flag)) continue;
            v4_epilogue<BF16, BX>(acc, p, w.tw * kV4Rows + cw * 64 + warp * 16 + (lane >> 2), w.tm * BX, lane);
        }
    }
#else
    (void)tm_x, (void)tm_w, (void)tm_s, (void)p;
    __trap();  // not an sm_90a build: the dispatcher never launches v4 there
#endif
}

// ---- host side -------------------------------------------------------------------------

int v4_cta_limit = 0;  // tests: 0 = one CTA per SM
int v4_forced_bx = 0;  // tests: 0 = by mxfp4_v4_bx
int v4_forced_splits = 0;  // tests: 0 = by v4_splits
int v4_env_splits = [] {   // tuning runs: CTK_V4_SPLITS = n forces n splits (0 or unset: the rule)
    const char* e = std::getenv("CTK_V4_SPLITS");
    return e ? std::max(0, std::atoi(e)) : 0;
}();
int v4_forced_producer = [] {  // tuning runs: CTK_V4_PROD = 1 (split) or 2 (round robin)
    const char* e = std::getenv("CTK_V4_PROD");
    const int v = e ? std::atoi(e) : 0;
    return v == kV4Split || v == kV4RoundRobin ? v : 0;
}();

// Split-K: how many k ranges each output tile is cut into. A layer with few output tiles
// (N = 4096 at M <= 256: 32 tiles on 132 SMs) leaves most SMs idle without it. The rule
// (kMxfp4V4SplitK in ops_mxfp4.h): as many splits as
// fill the SMs once, at most 8, each at least 8 chunks long (the ring's depth), else 1.
int v4_splits(int tiles, int k_chunks, int resident) {
    int s = v4_forced_splits ? v4_forced_splits : v4_env_splits;
    if (!s && kMxfp4V4SplitK) s = std::min(8, std::min(resident / std::max(1, tiles), k_chunks / 8));
    return std::max(1, std::min(s, k_chunks));
}

template <bool BF16, int BX, bool REG_A>
struct V4Launcher {
    using L = V4Smem<BX, REG_A>;
    static constexpr auto kernel = &v4_kernel<BF16, BX, REG_A>;
    static int resident_ctas() {
        static const int n = [] {
            CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, L::kTotal));
            int per_sm = 0;
            CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kV4Threads, L::kTotal));
            CTK_CHECK(per_sm > 0, "mxfp4_gemm v", REG_A ? 6 : 4, ": a CTA with ", L::kTotal,
                      " bytes of shared memory does not fit on this device");
            return per_sm * device_sm_count();
        }();
        return n;
    }
    static void launch(int units, const CUtensorMap& x, const CUtensorMap& w, const CUtensorMap& s,
                       const V4Params& p) {
        int ctas = std::min(units, resident_ctas());
        if (v4_cta_limit > 0) ctas = std::min(ctas, v4_cta_limit);
        kernel<<<ctas, kV4Threads, L::kTotal>>>(x, w, s, p);
        CUDA_CHECK_LAUNCH();
    }
};

template <bool BF16, int BX, bool REG_A>
void launch_v4(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    const char* op = REG_A ? "mxfp4_gemm v6" : "mxfp4_gemm v4";
    const uint64_t K = static_cast<uint64_t>(w.K), kc = static_cast<uint64_t>(w.k_chunks),
                   nt = static_cast<uint64_t>(w.n_tiles);
    const CUtensorMapDataType u16 = CU_TENSOR_MAP_DATA_TYPE_UINT16, u32 = CU_TENSOR_MAP_DATA_TYPE_UINT32;
    // x [M, K]: BX rows x 64 values per box, 128-byte swizzle (rows and columns past the
    // tensor read as zeros: partial x tiles and the second half of a K % 64 == 32 chunk).
    const CUtensorMap tm_x = make_tensor_map_2d(x, u16, K, static_cast<uint64_t>(M), K * 2, 64, BX,
                                                CU_TENSOR_MAP_SWIZZLE_128B, op, "x");
    // words [n_tiles, k_chunks * 128] u32: 8 tiles x one chunk's 512 bytes per box (tiles
    // past n_tiles read as zeros: zero weights in rows that are never stored).
    const CUtensorMap tm_w = make_tensor_map_2d(w.words.raw(), u32, kc * 128, nt, kc * 512, 128, kV4Tiles,
                                                CU_TENSOR_MAP_SWIZZLE_NONE, op, "words");
    const CUtensorMap tm_s = make_tensor_map_2d(w.scale_words.raw(), u32, kc * 8, nt, kc * 32, 8, kV4Tiles,
                                                CU_TENSOR_MAP_SWIZZLE_NONE, op, "scale words");
    V4Params p;
    p.bias = bias;
    p.out = out;
    p.M = static_cast<int>(M);
    p.N = static_cast<int>(w.N);
    p.tiles_w = static_cast<int>((w.n_tiles + kV4Tiles - 1) / kV4Tiles);
    p.tiles_m = static_cast<int>((M + BX - 1) / BX);
    p.k_chunks = static_cast<int>(w.k_chunks);
    p.fold_shift = w.fold_shift;
    p.out_scale = f32_from_bits(static_cast<uint32_t>(w.fold_shift + 127) << 23);  // |shift| <= 126
    // Measured (H100, docs/mxfp4.md v4): round robin is faster with the 64/128-row x tiles
    // (short chunks, the dequantization is the longer stage), split with the 256-row tile.
    p.producer = v4_forced_producer ? v4_forced_producer : BX <= 128 ? kV4RoundRobin : kV4Split;
    if (V4Smem<BX, REG_A>::kStages % 3 != 0) p.producer = kV4Split;  // round robin needs it (V4Smem)
    static const int dbg = [] {  // tuning runs only: the results are wrong, so say so once
        const char* e = std::getenv("CTK_V4_DBG");
        const int v = e ? std::atoi(e) & 3 : 0;
        const char* left_out[] = {"", "proxy fence", "dequantization", "dequantization and the proxy fence"};
        if (v) std::fprintf(stderr, "warning: CTK_V4_DBG=%d: mxfp4_gemm v4 leaves out the %s (timing runs only; its "
                            "results are wrong)\n", v, left_out[v]);
        return v;
    }();
    p.dbg = dbg;
    const int tiles = p.tiles_w * p.tiles_m;
    p.splits = v4_splits(tiles, p.k_chunks, V4Launcher<BF16, BX, REG_A>::resident_ctas());
    p.partial = nullptr;
    p.counters = nullptr;
    std::unique_lock<std::mutex> lock;  // held until the launch is queued (cuda/split_workspace.cuh)
    if (p.splits > 1) {
        const SplitScratch ws =
            split_scratch(static_cast<size_t>(tiles) * p.splits * kV4Rows * BX * 4, static_cast<size_t>(tiles), lock);
        p.partial = static_cast<float4*>(ws.partial);
        p.counters = ws.counters;
    }
    V4Launcher<BF16, BX, REG_A>::launch(tiles * p.splits, tm_x, tm_w, tm_s, p);
}

template <bool BF16, bool REG_A>
void run_v4(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    switch (mxfp4_v4_bx(M)) {
        case 64: launch_v4<BF16, 64, REG_A>(x, w, bias, out, M); break;
        case 128: launch_v4<BF16, 128, REG_A>(x, w, bias, out, M); break;
        default: launch_v4<BF16, 256, REG_A>(x, w, bias, out, M); break;
    }
}

template <bool REG_A>
void run_v4_or_v6(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    CTK_CHECK(M < (int64_t(1) << 31) / 256, "x: M = ", M, " too large");
    CTK_CHECK(reinterpret_cast<uintptr_t>(x) % 16 == 0, "mxfp4_gemm v", REG_A ? 6 : 4,
              ": x: expected a 16-byte aligned address (TMA)");
    if (w.act_dtype == DType::BF16) run_v4<true, REG_A>(x, w, bias, out, M);
    else run_v4<false, REG_A>(x, w, bias, out, M);
}

}  // namespace

int mxfp4_v4_bx(int64_t M) {
    if (v4_forced_bx) return v4_forced_bx;
    // The smallest tile that holds M up to 128 rows; 256 above. A k64 chunk took the same
    // ~1.2 us whatever BX (H100, docs/mxfp4.md), so the larger tile always wins above 128
    // rows (M = 1024 x 14336 x 4096 with the 128 tile: 498 us).
    if (M <= 64) return 64;
    if (M <= 128) return 128;
    return 256;
}

void mxfp4_gemm_v4(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    run_v4_or_v6<false>(x, w, bias, out, M);
}

void mxfp4_gemm_v6(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    run_v4_or_v6<true>(x, w, bias, out, M);
}

void mxfp4_gemm_v4_limit_ctas(int max_ctas) { v4_cta_limit = std::max(0, max_ctas); }

void mxfp4_gemm_v4_force_splits(int splits) {
    CTK_CHECK(splits >= 0, "mxfp4_gemm_v4_force_splits: expected 0 (the rule) or a count >= 1, found ", splits);
    v4_forced_splits = splits;
}

void mxfp4_gemm_v4_force_tile(int bx) {
    CTK_CHECK(bx == 0 || bx == 64 || bx == 128 || bx == 256, "mxfp4_gemm_v4_force_tile: expected 0, 64, 128 or 256, found ",
              bx);
    v4_forced_bx = bx;
}

}  // namespace ctk::cuda
