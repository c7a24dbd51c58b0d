// MXFP4 W4A16 decode, rung v7 ("bulk decode", sm_90a): out[M, N] = x[M, K] @ dequant(W)^T
// (+ bias) for M <= 8 per launch (larger M in 8-row slices, each streaming W again). Same
// inputs, layout and exactness contract as cuda/mxfp4_gemm.cu (read its header first);
// launched through mxfp4_gemm(..., version = 7). Tested on the H100 on 2026-12-07 (gpu
// tests pass) but slower than v5 and v2 on every decode case timed, so version 0 does not
// take it: M = 1 on 14336 x 4096 29.6 us with 12 slots, 27.7 with 8, 25.4 with 4 (v5 21.7,
// v2 21.5; a kernel that only reads the same bytes 14.8 us). Fewer bytes in flight ran
// faster, as for the 2:4 decode (docs/mxfp4.md, v7: what the run says).
//
// Why a new rung. v5 (cuda/mxfp4_gemv.cu) streams the weight through registers: every
// byte in flight is a register until it lands, so at ~96 registers per thread and 13.6
// warps per SM the GPU has only ~7 MB of loads in flight, and by Little's law a stream
// with 2-3 us of loaded DRAM latency runs at 2.4-3.6 TB/s at best; v5's fitted rate was
// 2.1-2.4 TB/s (docs/mxfp4.md, v5). v7 puts the bytes in flight in shared memory instead:
//
//  - One persistent CTA per SM owns tiles b, b + G, b + 2G, ... (G = CTAs). The repack
//    (ref/mxfp4_repack.h) stores a tile's fragments for all of K as one contiguous run
//    (512 bytes per k64 chunk) and its scale words likewise (32 bytes per chunk), so a
//    "segment" of up to 32 chunks of one tile is two plain bulk copies (cp.async.bulk, no
//    tensor map): 16 KB of codes and 1 KB of scales.
//  - Warp 16 (one thread) is the producer: it runs a ring of 12 segment slots (~204 KB per
//    SM, ~27 MB on an H100: nearly the whole 31.2 MB of a 14336 x 4096 layer is requested
//    at once), each on a "full" mbarrier (bytes) and an "empty" one (16 arrivals).
//  - Warps 0..15 compute: in a segment, warp w takes chunks w, w + 16; per chunk it
//    reads its lane's 16 fragment bytes and scale word from shared memory, x's B
//    fragments from global memory (L1/L2-resident), and runs v5's inner step
//    (decode_chunk_mma: scale folded into the 16-bit weight, mma.m16n8k16 with the W tile
//    as the 16-row operand). At a tile's end the 16 warps' sums go through shared memory
//    and warp 0 adds them in warp order (deterministic), x 2^fold_shift, + bias, one
//    rounding, and stores.
//
// The ring depth is a run-time argument (mxfp4_gemm_v7_ring_slots, default all 12): the
// 2:4 v3 decode ran faster with 8 stages than 16 (docs/sparse24_v3.md 4b: past the DRAM's
// bandwidth-delay product the requests only queue), so the bench times 4 and 8 too.
//
// Exactness as v5: only the order of the fp32 additions differs from ref::mxfp4_gemm.
//
// Test: ctk_tests -ts=gpu -tc='*mxfp4*'      Bench: ctk bench mxfp4 decode
#include <cuda_runtime.h>

#include <algorithm>

#include "check.cuh"
#include "mxfp4_decode_bulk.h"
#include "mxfp4_dequant.cuh"
#include "ops.h"
#include "ptx_sm90.cuh"

namespace ctk::cuda {

namespace {

// 16 compute warps: 4 per scheduler, so one warp's chain (shared-memory load, dequantize,
// 4 dependent MMAs, ~100 instructions per chunk) hides another's latencies.
constexpr int kV7ComputeWarps = 16;
constexpr int kV7Threads = (kV7ComputeWarps + 1) * 32;  // + the producer warp
constexpr int kV7SegChunks = 32;                         // k64 chunks per segment
constexpr int kV7CodeBytes = kV7SegChunks * 512;         // 16 KB of fragments
constexpr int kV7SegBytes = kV7CodeBytes + kV7SegChunks * 32;  // + 1 KB of scale words
constexpr int kV7Slots = 12;                             // ring depth
constexpr int kV7RedOff = kV7Slots * kV7SegBytes;        // the tile-end sums: [warp][lane] float4
constexpr int kV7BarOff = kV7RedOff + kV7ComputeWarps * 32 * 16;
constexpr int kV7Smem = kV7BarOff + 2 * kV7Slots * 8;
constexpr int kV7ChunkK = 64;

template <bool BF16, bool NANS>
__global__ void __launch_bounds__(kV7Threads, 1)
    v7_kernel(const uint16_t* __restrict__ x,        // [M, K], M <= 8
              const uint8_t* __restrict__ words,     // [n_tiles, k_chunks, 512 B]
              const uint8_t* __restrict__ swords,    // [n_tiles, k_chunks, 32 B]
              const uint16_t* __restrict__ bias,     // [N] or null
              uint16_t* __restrict__ out,            // [M, N]
              int M, int N, int K, int n_tiles, int k_chunks, uint32_t mul_add, float out_scale,
              int slots) {  // ring slots in use, 1..kV7Slots (fewer: tuning and tests)
#if CTK_SM90A
    extern __shared__ __align__(128) uint8_t smem[];
    uint64_t* full = reinterpret_cast<uint64_t*>(smem + kV7BarOff);  // a slot's bytes have landed
    uint64_t* empty = full + kV7Slots;                               // the compute warps are done with it
    float4* red = reinterpret_cast<float4*>(smem + kV7RedOff);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (threadIdx.x == 0) {
        for (int s = 0; s < kV7Slots; ++s) {
            ptx::mbar_init(ptx::smem_u32(&full[s]), 1);
            ptx::mbar_init(ptx::smem_u32(&empty[s]), kV7ComputeWarps);
        }
        ptx::fence_mbarrier_init();
    }
    __syncthreads();
    const int segs = (k_chunks + kV7SegChunks - 1) / kV7SegChunks;

    if (warp == kV7ComputeWarps) {
        // ---- producer: the whole ring is requested at once, then a slot whenever freed ----
        if (lane == 0) {
            int n = 0;
            for (int tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
                for (int sg = 0; sg < segs; ++sg, ++n) {
                    const int slot = n % slots;
                    ptx::mbar_wait(ptx::smem_u32(&empty[slot]), ((n / slots) & 1) ^ 1);
                    const int c0 = sg * kV7SegChunks, cn = min(kV7SegChunks, k_chunks - c0);
                    const uint32_t fb = ptx::smem_u32(&full[slot]);
                    ptx::mbar_arrive_expect_tx(fb, static_cast<uint32_t>(cn) * (512 + 32));
                    const size_t first = static_cast<size_t>(tile) * k_chunks + c0;  // the tile's chunk c0
                    uint8_t* dst = smem + slot * kV7SegBytes;
                    ptx::bulk_load(ptx::smem_u32(dst), words + first * 512, cn * 512, fb);
                    ptx::bulk_load(ptx::smem_u32(dst + kV7CodeBytes), swords + first * 32, cn * 32, fb);
                }
            }
        }
        return;  // the compute warps synchronise among themselves only (named barrier 1)
    }

    // ---- compute warps ---------------------------------------------------------------------
    const int g = lane / 4, q = lane % 4;
    const bool xok[1] = {g < M};                                 // this lane's B column: x row g
    const uint32_t* const xp[1] = {reinterpret_cast<const uint32_t*>(x + static_cast<int64_t>(xok[0] ? g : 0) * K) + q};
    int n = 0;
    for (int tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        float acc[1][1][4] = {{{0.0f, 0.0f, 0.0f, 0.0f}}};  // [tile][column block][4]
        for (int sg = 0; sg < segs; ++sg, ++n) {
            const int slot = n % slots;
            ptx::mbar_wait(ptx::smem_u32(&full[slot]), (n / slots) & 1);
            const int c0 = sg * kV7SegChunks, cn = min(kV7SegChunks, k_chunks - c0);
            const uint8_t* seg = smem + slot * kV7SegBytes;
            for (int j = warp; j < cn; j += kV7ComputeWarps) {
                const int c = c0 + j;
                const bool full_chunk = c * kV7ChunkK + kV7ChunkK <= K;  // else its second block is padding
                const uint4 wq[1] = {*reinterpret_cast<const uint4*>(seg + j * 512 + lane * 16)};
                const uint32_t sw[1] = {*reinterpret_cast<const uint32_t*>(seg + kV7CodeBytes + j * 32 + g * 4)};
                uint32_t bx[1][4][2];
                decode_x_fragments<1>(bx, xp, xok, c, full_chunk);
                decode_chunk_mma<BF16, NANS, 1, 1>(acc, wq, sw, mul_add, bx, full_chunk);
            }
            __syncwarp();
            if (lane == 0) ptx::mbar_arrive(ptx::smem_u32(&empty[slot]));  // its values are in registers
        }
        // The compute warps' sums of this tile, added in warp order by warp 0.
        red[warp * 32 + lane] = make_float4(acc[0][0][0], acc[0][0][1], acc[0][0][2], acc[0][0][3]);
        ptx::named_barrier_sync(1, kV7ComputeWarps * 32);
        if (warp == 0) {
            float4 sum = red[lane];
            for (int w = 1; w < kV7ComputeWarps; ++w) {
                const float4 v = red[w * 32 + lane];
                sum.x += v.x;
                sum.y += v.y;
                sum.z += v.z;
                sum.w += v.w;
            }
            const float r[4] = {sum.x, sum.y, sum.z, sum.w};  // (row g, x row 2q), (g, 2q+1), (g+8, 2q), (g+8, 2q+1)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int nrow = tile * 16 + g + 8 * h;
                if (nrow >= N) continue;
                const float bv = bias ? act_to_float<BF16>(bias[nrow]) : 0.0f;
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int m = 2 * q + e;
                    if (m < M)
                        out[static_cast<int64_t>(m) * N + nrow] = act_from_float<BF16>(r[2 * h + e] * out_scale + bv);
                }
            }
        }
        ptx::named_barrier_sync(1, kV7ComputeWarps * 32);  // red is read before the next tile rewrites it
    }
#else
    (void)x, (void)words, (void)swords, (void)bias, (void)out, (void)M, (void)N, (void)K, (void)n_tiles,
        (void)k_chunks, (void)mul_add, (void)out_scale, (void)slots;
    __trap();  // not an sm_90a build: the dispatcher never launches v7 there
#endif
}

int v7_cta_limit = 0;  // tests: mxfp4_gemm_v7_limit_ctas
int v7_slots = 0;      // tests and tuning: mxfp4_gemm_v7_ring_slots (0 = kV7Slots)

template <bool BF16, bool NANS>
void launch_v7(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int M) {
    auto kernel = v7_kernel<BF16, NANS>;
    static const bool configured = [&] {
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kV7Smem));
        return true;
    }();
    (void)configured;
    const int n_tiles = static_cast<int>(w.n_tiles);
    const int sms = v7_cta_limit ? std::min(v7_cta_limit, device_sm_count()) : device_sm_count();
    const int ctas = std::min(n_tiles, sms);
    const uint32_t mul_add = e8m0_folded_factor_x2_add(w.fold_shift, BF16);
    const float out_scale = f32_from_bits(static_cast<uint32_t>(w.fold_shift + 127) << 23);  // |shift| <= 126
    kernel<<<ctas, kV7Threads, kV7Smem>>>(x, static_cast<const uint8_t*>(w.words.raw()),
                                          static_cast<const uint8_t*>(w.scale_words.raw()), bias, out, M,
                                          static_cast<int>(w.N), static_cast<int>(w.K), n_tiles,
                                          static_cast<int>(w.k_chunks), mul_add, out_scale,
                                          v7_slots ? v7_slots : kV7Slots);
    CUDA_CHECK_LAUNCH();
}

template <bool BF16>
void run_v7_typed(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    const bool nans = w.nan_blocks > 0;
    for (int64_t m0 = 0; m0 < M; m0 += 8) {  // 8-row slices (each streams W again)
        const int rows = static_cast<int>(std::min<int64_t>(8, M - m0));
        if (nans) launch_v7<BF16, true>(x + m0 * w.K, w, bias, out + m0 * w.N, rows);
        else launch_v7<BF16, false>(x + m0 * w.K, w, bias, out + m0 * w.N, rows);
    }
}

}  // namespace

void mxfp4_gemm_v7_limit_ctas(int max_ctas) { v7_cta_limit = std::max(0, max_ctas); }
void mxfp4_gemm_v7_ring_slots(int slots) {
    CTK_CHECK(slots >= 0 && slots <= kV7Slots, "mxfp4_gemm_v7_ring_slots: expected 0 (all) .. ", kV7Slots,
              ", found ", slots);
    v7_slots = slots;
}

void run_mxfp4_v7(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M) {
    CTK_CHECK(w.foldable, "mxfp4_gemm v7 folds the scale into a 16-bit weight and cannot for this layer: ",
              w.fold_error, " (use version 0 or 2)");
    if (w.act_dtype == DType::BF16) run_v7_typed<true>(x, w, bias, out, M);
    else run_v7_typed<false>(x, w, bias, out, M);
}

}  // namespace ctk::cuda
