// Hopper 2:4 sparse GEMM, rung v3: wgmma.mma_async.sp + TMA + an mbarrier pipeline.
//
// Computes, for f16, bf16, f8e4m3 (e4m3 x e4m3) and i8 (i8 x i8) operands,
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] )      fp32 epilogue, one rounding
//   acc[m, n] = sum_k x[m, k] * W[n, k]                                  fp32 (int32 for i8)
// x: [M, K] row-major (the activations, dense), W: [N, K] 2:4 along K in the kernel layout
// (formats/sparse24_layout.h: values [Np, Kp/2], metadata [Np/16, Kp/64, 32] 32-bit words),
// out: [M, N] f16/bf16. The weight is the sparse operand A of the tensor cores, the
// activations are B: each tile computes out^T[n0.., m0..] = W[n0.., :] * x[m0.., :]^T.
//
// The ladder (docs/sparse24.md; v3 in docs/sparse24_v3.md):
//   v1 (sparse-gpu, cuda/sparse24_gemm.cu): readable mma.sp kernel, one warp per 16 x 8 tile.
//   v2 (sparse-gpu): mma.sp::ordered_metadata, cp.async multi-stage pipeline, ldmatrix:
//      bounded by the legacy mma.sp rate on H100 (~0.93 PFLOP/s f16 dense-equivalent,
//      and fp8 mma.sp is emulated, ~70 TFLOP/s).
//   v3 (this file, sm_90a): wgmma.mma_async.sp m64nNk32 (16-bit) / m64nNk64 (8-bit) from
//      shared memory, fed by the TMA unit through a STAGES-deep mbarrier ring; one producer
//      warp, two consumer warpgroups (64 weight rows each, BN tokens), a persistent grid
//      with a grouped tile order, split-K with an in-kernel "last CTA reduces" fix-up for
//      small M, the fused epilogue. The only real fp8 path on H100 (QGMMA.SP in the SASS).
//      Measured on H100 SXM (docs/sparse24_v3.md): 8192^3 f16/bf16 1.06 PFLOP/s (1.4x cuBLAS,
//      1.0-1.13x cuSPARSELt), fp8 1.85 PFLOP/s, i8 1.89 POP/s (0.90-0.95x cuSPARSELt, ~85 %
//      of this structure's shared-memory ceiling); decode 1 x 14336 x 4096 f16 28 us (1.59x
//      cuBLAS; an 8-stage ring, 3-6 % faster than 16 for decode tiles); 3.5x v2 at large M.
//      Decode with split K (N = 4096, K = 14336: 32 tiles x 4 splits) adds the partials
//      through global memory: at bn <= 32 the last split of a tile sums them in order (its
//      loads all in flight), at bn = 64 every split waits for the others and sums 1/S of
//      the tile ("spread": 32 KB read per SM instead of 128 KB; docs/sparse24_v3.md 4h). A cluster
//      reduction through distributed shared memory (split_reduce = 2) is kept as an
//      option: correct and bit-identical, but 4-8 % slower on the H100, because the 4-split
//      tiles do not fit as clusters and 2 splits stream the weight with half the CTAs
//      (docs/sparse24_v3.md 4c).
//
// Per stage (128 bytes of activation row = 64 logical K for 16-bit, 128 for 8-bit):
//   A: 128 weight rows x 64 bytes of compressed values, TMA 64-byte swizzle  (8 KiB)
//   B: BN token rows x 128 bytes of x,                  TMA 128-byte swizzle (BN x 128 B)
//   E: 8 row blocks x 32 (16-bit) or 64 (8-bit) metadata words, no swizzle   (1 or 2 KiB)
// all three on one "full" mbarrier (arrive.expect_tx of the byte total); consumers free
// the stage on an "empty" mbarrier once the wgmmas that read it have completed.
//
// Test: ctk_tests -ts=gpu -tc='*v3*'   Bench: ctk bench sparse24v3 (src/cli/bench_sparse24_v3.cpp)
#include <cuda.h>  // CUtensorMap and its enums (types only: the driver entry point is fetched at run time)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <type_traits>

#include "check.cuh"
#include "convert16.cuh"
#include "core/epilogue.h"
#include "formats/fp16.h"
#include "formats/sparse24_layout.h"
#include "launch.cuh"
#include "ops.h"
#include "ptx_sm90.cuh"
#include "sparse24_gemm_sm90.cuh"
#include "split_workspace.cuh"
#include "tensor_map.cuh"
#include "wgmma_store.cuh"

namespace ctk::cuda {
namespace {

// ---- operand traits --------------------------------------------------------------------
// kEsize: bytes per element (16-bit types: wgmma.sp m64nNk32; 8-bit: m64nNk64); mma():
// one wgmma.sp of N tokens. stage_k / meta_blocks below derive the per-stage sizes.
struct OpF16 {
    using Acc = float;
    static constexpr int kEsize = 2;
    template <int N, int kSel>
    __device__ static void mma(Acc (&d)[N / 2], uint64_t a, uint64_t b, uint32_t e, int scale_d) {
        ptx::wgmma_sp_f16<N, kSel>(d, a, b, e, scale_d);
    }
};
struct OpBF16 {
    using Acc = float;
    static constexpr int kEsize = 2;
    template <int N, int kSel>
    __device__ static void mma(Acc (&d)[N / 2], uint64_t a, uint64_t b, uint32_t e, int scale_d) {
        ptx::wgmma_sp_bf16<N, kSel>(d, a, b, e, scale_d);
    }
};
struct OpE4M3 {
    using Acc = float;
    static constexpr int kEsize = 1;
    template <int N, int kSel>
    __device__ static void mma(Acc (&d)[N / 2], uint64_t a, uint64_t b, uint32_t e, int scale_d) {
        ptx::wgmma_sp_e4m3<N, kSel>(d, a, b, e, scale_d);
    }
};
struct OpI8 {
    using Acc = int32_t;
    static constexpr int kEsize = 1;
    template <int N, int kSel>
    __device__ static void mma(Acc (&d)[N / 2], uint64_t a, uint64_t b, uint32_t e, int scale_d) {
        ptx::wgmma_sp_s8<N, kSel>(d, a, b, e, scale_d);
    }
};

constexpr int kBM = 128;                  // weight rows per CTA tile (2 consumer warpgroups x 64)
constexpr int kThreads = 384;             // producer warpgroup + 2 consumer warpgroups
[[maybe_unused]] constexpr int kConsumerThreads = 256;
constexpr int kRowBytesA = 64;            // compressed bytes of one weight row per stage
constexpr int kRowBytesB = 128;           // bytes of one token row per stage
constexpr int kStageBytesA = kBM * kRowBytesA;
constexpr int kGroupM = 8;                // token tiles per raster group (L2 reuse of weight tiles)
constexpr int kSmemBudget = 232448 - 2048;  // sm_90 opt-in maximum, minus alignment slack + barriers
[[maybe_unused]] constexpr int kProducerRegs = 40, kConsumerRegs = 232;  // 128 * 40 + 256 * 232 <= 65536
constexpr int kMinClusterBN = 64;         // cluster (multicast) variants exist for bn >= 64
constexpr int kMaxCsplitBN = 64;          // cluster split-K (DSMEM reduction) for the decode tiles
constexpr int kMaxCsplit = 8;             // the portable cluster size limit

template <class Op>
constexpr int stage_k() { return kRowBytesB / Op::kEsize; }  // 64 (16-bit) or 128 (8-bit)
template <class Op>
constexpr int meta_blocks() { return stage_k<Op>() / 64; }   // 64-K metadata blocks per stage
template <class Op, int BN>
constexpr int stage_bytes() { return kStageBytesA + BN * kRowBytesB + (kBM / 16) * 128 * meta_blocks<Op>(); }
template <class Op, int BN>
constexpr int num_stages() {
    // 8 stages for every tile: decode tiles (bn <= 64) ran 3-7 % faster with 8 than with 16
    // or 12 on the H100 (perf-v3 sweep, docs/sparse24_v3.md 4b): past ~8 stages per SM the
    // extra TMA requests in flight only queue in the memory system.
    return std::min(8, kSmemBudget / stage_bytes<Op, BN>());
}
// The partial tile of one CTA for the cluster split-K (bn <= 64 only): 128 x BN fp32/int32.
template <int BN>
constexpr int csplit_bytes() { return BN <= kMaxCsplitBN ? kBM * BN * 4 : 0; }
template <class Op, int BN>
constexpr int smem_bytes() { return num_stages<Op, BN>() * stage_bytes<Op, BN>() + csplit_bytes<BN>() + 1024 + 512; }

struct Params {
    int M, N;
    int tiles_w, tiles_m, splits, k_blocks;
    uint16_t* out;
    int out_bf16;
    const float* xs;  // nullptr = 1
    int xs_vec;
    const float* ws;  // nullptr = 1
    int ws_vec;
    const uint16_t* bias;  // nullptr = none
    void* partial;         // split-K partial tiles (float4 / int4 units)
    int* counters;         // split-K arrival counters, one per tile, zero between launches
    int csplit;            // 1: the `splits` CTAs of a tile are one cluster (split = CTA rank) and
                           // add their partial tiles through distributed shared memory; one
                           // tile per cluster (grid = tiles * splits)
    int spread;            // 1: global split-K where each split adds a share of the tile
                           // (one unit per CTA, every CTA resident: splits wait for each other)
    int wtiled;            // 1: values / meta in the tiled layout (formats/sparse24_layout.h):
                           // stage block (tile, kb) is row (tile * wblocks + kb) * 128 of the
                           // values map and row (tile * wblocks + kb) * 8 of the meta map
    int wblocks;           // stage blocks per weight row in the tiled layout (Kp / stage_k)
};

// Unit u of the persistent loop -> (weight tile, token tile, split). With clusters of CL
// CTAs, a unit is CL neighbouring weight tiles that share one token tile (CTA `rank`
// takes weight tile CL * pw + rank). Splits of one tile are consecutive units, so they
// run at the same time on neighbouring CTAs; tiles go in groups of kGroupM token tiles,
// token tile fastest, so the CTAs running together share weight tiles (and a group's
// activations stay in L2 while it sweeps the weight).
struct Unit {
    int tw, tm, split, tile, kb0, kb1;
};
template <int CL>
__device__ __forceinline__ Unit decode_unit(int u, const Params& p, int rank, int krank) {
    Unit r;
    r.split = p.csplit ? krank : u % p.splits;
    const int pair = p.csplit ? u : u / p.splits;
    const int tiles_wc = p.tiles_w / CL;
    const int group_size = kGroupM * tiles_wc;
    const int group = pair / group_size, first_m = group * kGroupM;
    const int gm = min(kGroupM, p.tiles_m - first_m);
    const int local = pair - group * group_size;
    r.tm = first_m + local % gm;
    r.tw = (local / gm) * CL + rank;
    r.tile = pair * CL + rank;  // unique per (weight tile, token tile): split-K counters
    r.kb0 = static_cast<int>(static_cast<long long>(r.split) * p.k_blocks / p.splits);
    r.kb1 = static_cast<int>(static_cast<long long>(r.split + 1) * p.k_blocks / p.splits);
    return r;
}

__device__ __forceinline__ float acc_to_float(float v) { return v; }
__device__ __forceinline__ float acc_to_float(int32_t v) { return __int2float_rn(v); }  // RNE, as the reference

// Four accumulators <-> one 16-byte vector (the split-K partial tiles).
__device__ __forceinline__ float4 pack4(const float* a) { return make_float4(a[0], a[1], a[2], a[3]); }
__device__ __forceinline__ int4 pack4(const int32_t* a) { return make_int4(a[0], a[1], a[2], a[3]); }
__device__ __forceinline__ void unpack4(const float4& v, float* a) { a[0] = v.x, a[1] = v.y, a[2] = v.z, a[3] = v.w; }
__device__ __forceinline__ void unpack4(const int4& v, int32_t* a) { a[0] = v.x, a[1] = v.y, a[2] = v.z, a[3] = v.w; }

// The fused epilogue of one 64 x BN warpgroup tile held in registers.
// acc[4j + 2h + e] = acc(row 16*warp + g + 8h, token 8j + 2t + e) (wgmma D fragment,
// PTX ISA 9.7.15.5.1.1). Lanes g and g^1 swap one value so that each lane stores two
// adjacent output features (n, n+1) of one token as a 32-bit word when N is even.
// The epilogue's operands of one lane: w scales and bias of its rows n_row0, n_row0 + 8,
// x scales of its tokens. All loads are issued before any is used: one memory latency per
// tile instead of BN / 4 dependent ones (measured: the fp8/i8 epilogue with vector scales
// took ~13 us per 128 x 256 tile before, ~3 us without scales). Decode tiles (bn <= 64)
// load them before the K loop, so even that one latency hides under the weight stream.
template <int BN>
struct EpiScales {
    float ws[2], bias[2], xs[BN / 4];
};
// A lane's two rows (n_row0, n_row0 + 8): their w scales and bias.
__device__ __forceinline__ void load_row_scales(float (&ws)[2], float (&bias)[2], const Params& p, int n_row0) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int n = min(n_row0 + 8 * h, p.N - 1);  // rows past N compute but never store
        ws[h] = p.ws ? p.ws[p.ws_vec ? n : 0] : 1.0f;
        bias[h] = 0.0f;
        if (p.bias) bias[h] = act_to_float(p.bias[n], p.out_bf16);
    }
}
// A lane's two tokens (m_even, m_even + 1) of one n8 block: their x scales.
__device__ __forceinline__ void load_token_scales(float* xs2, const Params& p, int m_even) {
#pragma unroll
    for (int e = 0; e < 2; ++e) xs2[e] = p.xs ? __ldg(&p.xs[p.xs_vec ? min(m_even + e, p.M - 1) : 0]) : 1.0f;
}
template <int BN>
__device__ __forceinline__ void load_epi_scales(EpiScales<BN>& sc, const Params& p, int n_row0, int m0, int lane) {
    load_row_scales(sc.ws, sc.bias, p, n_row0);
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) load_token_scales(&sc.xs[2 * j], p, m0 + 8 * j + 2 * (lane & 3));
}

// One n8 block of the fragment: a4[2h + e] = acc(row n_row0 + 8h, token m_even + e), with
// that block's w scales and bias (rows n_row0, n_row0 + 8) and x scales (tokens m_even,
// m_even + 1). Every lane of the warp must call it (store_d_block's shuffle).
template <class Acc>
__device__ __forceinline__ void epilogue_block(const Acc* a4, const float (&ws)[2], const float (&bias)[2],
                                               const float* xs2, const Params& p, int n_row0, int m_even, int g) {
    uint16_t r[2][2];  // [h][e]
#pragma unroll
    for (int e = 0; e < 2; ++e) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            // The reference's order: ws * (xs * acc) [+ bias], each op rounded (no FMA).
            float v = __fmul_rn(ws[h], __fmul_rn(xs2[e], acc_to_float(a4[2 * h + e])));
            if (p.bias) v = __fadd_rn(v, bias[h]);
            r[h][e] = act_from_float_hw(v, p.out_bf16);  // convert16.cuh says why not act_from_float
        }
    }
    store_d_block(p.out, p.M, p.N, r, n_row0, m_even, g, (p.N % 2) == 0);
}

template <int BN, class Acc>
__device__ __forceinline__ void epilogue(const Acc (&acc)[BN / 2], const EpiScales<BN>& sc, const Params& p,
                                         int n_row0, int m0, int lane) {
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) epilogue_block(&acc[4 * j], sc.ws, sc.bias, &sc.xs[2 * j], p, n_row0, m0 + 8 * j + 2 * t, g);
}

// Spread split-K (Params::spread): the tile's fix-up is shared by its S splits. An item is
// one n8 block (q) of one consumer warp's 16 rows (v): 8 * BN / 8 items per tile, item
// i = v * Q + q added and stored by split i % S, by warp (i / S) % 8 of that CTA; lane l
// of the warp plays lane l of warp v. The item's S partial vectors are loaded together
// (one L2 round trip, not S) and added in split order 0..S-1: the global path's sum.
constexpr int kSpreadMaxSplits = 8;
constexpr int kMaxSpreadBN = 64;  // decode tiles only (the large tiles keep their registers)
// The default plan (split_reduce = 0) takes the spread reduction for bn >= 64 where it is
// allowed: measured on the H100 (docs/sparse24_v3.md 4h), spread won at bn = 64 (-0.5 to
// -1.0 us back to back, 4-7 % alone) and lost at bn <= 32 (+0.2 to +0.8 us), where the
// last-split fix-up is one round trip too and the early splits free their SMs at once.
constexpr int kMinSpreadBNByDefault = 64;

// The kernel. Warpgroup 0 = producer (one elected thread issues every TMA copy),
// warpgroups 1, 2 = consumers (64 weight rows x BN tokens each). CL = 2: clusters of two
// CTAs on neighbouring weight tiles share the token tile; each loads half of it and
// multicasts it to both, and a stage is free only when the consumers of both CTAs have
// released it (each consumer warp arrives on its own and on the peer's empty barrier).
template <class Op, int BN, int CL>
__global__ void __launch_bounds__(kThreads, 1)
    sparse24_gemm_v3_kernel(const __grid_constant__ CUtensorMap tm_a, const __grid_constant__ CUtensorMap tm_b,
                            const __grid_constant__ CUtensorMap tm_e, const Params p) {
#if CTK_SM90A
    using Acc = typename Op::Acc;
    constexpr int STAGES = num_stages<Op, BN>();
    constexpr int P = meta_blocks<Op>();
    constexpr int kStageBytesB = BN * kRowBytesB;
    constexpr int kStageBytesE = (kBM / 16) * 128 * P;
    constexpr uint32_t kTxBytes = kStageBytesA + kStageBytesB + kStageBytesE;

    extern __shared__ uint8_t smem_raw[];
    // Swizzled TMA boxes and wgmma descriptors need the 1024-byte swizzle period.
    uint8_t* smem = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
    uint8_t* smem_a = smem;
    uint8_t* smem_b = smem_a + STAGES * kStageBytesA;
    uint8_t* smem_e = smem_b + STAGES * kStageBytesB;
    uint8_t* smem_part = smem_e + STAGES * kStageBytesE;  // cluster split-K partial tile (bn <= 64)
    uint64_t* full = reinterpret_cast<uint64_t*>(smem_part + csplit_bytes<BN>());
    uint64_t* empty = full + STAGES;
    int* last_flag = reinterpret_cast<int*>(empty + STAGES);

    ptx::griddep_launch_dependents();  // overlapped launch: the next kernel may be scheduled
    const int wg = threadIdx.x / 128;
    const int rank = CL > 1 ? static_cast<int>(ptx::cluster_ctarank()) : 0;
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; ++s) {
            ptx::mbar_init(ptx::smem_u32(&full[s]), 1);        // the producer's arrive.expect_tx
            ptx::mbar_init(ptx::smem_u32(&empty[s]), 8 * CL);  // one arrive per consumer warp of the cluster
        }
        ptx::fence_mbarrier_init();
        ptx::prefetch_tensormap(&tm_a);
        ptx::prefetch_tensormap(&tm_b);
        ptx::prefetch_tensormap(&tm_e);
    }
    if constexpr (CL > 1) ptx::cluster_sync();
    else __syncthreads();

    // Cluster split-K: this CTA's split is its rank in the cluster of `splits` CTAs.
    const int krank = (CL == 1 && p.csplit) ? static_cast<int>(ptx::cluster_ctarank()) : 0;
    const int per_unit = p.csplit ? p.splits : CL;  // CTAs per unit
    const int units = p.csplit ? p.tiles_w * p.tiles_m : (p.tiles_w / CL) * p.tiles_m * p.splits;
    const int first_unit = blockIdx.x / per_unit, unit_step = gridDim.x / per_unit;
    if (wg == 0) {
        // ---- producer ------------------------------------------------------------------
        ptx::setmaxnreg_dec<kProducerRegs>();
        if (threadIdx.x == 0) {
            // A stage = the weight tile (A values, E metadata) and the x tile (B) on one
            // full barrier that expects all their bytes.
            auto load_weight = [&](int s, const Unit& w, int kb) {
                const uint32_t bar = ptx::smem_u32(&full[s]);
                ptx::mbar_arrive_expect_tx(bar, kTxBytes);
                if (p.wtiled) {  // the stage's block is contiguous: rows of 64 bytes / 32 P words
                    const int block = w.tw * p.wblocks + kb;
                    ptx::tma_load_2d(ptx::smem_u32(smem_a + s * kStageBytesA), &tm_a, bar, 0, block * kBM);
                    ptx::tma_load_2d(ptx::smem_u32(smem_e + s * kStageBytesE), &tm_e, bar, 0, block * (kBM / 16));
                } else {
                    ptx::tma_load_2d(ptx::smem_u32(smem_a + s * kStageBytesA), &tm_a, bar,
                                     kb * (kRowBytesA / Op::kEsize), w.tw * kBM);
                    ptx::tma_load_2d(ptx::smem_u32(smem_e + s * kStageBytesE), &tm_e, bar, kb * 32 * P,
                                     w.tw * (kBM / 16));
                }
            };
            auto load_x = [&](int s, const Unit& w, int kb) {
                const uint32_t bar = ptx::smem_u32(&full[s]);
                if constexpr (CL == 1) {
                    ptx::tma_load_2d(ptx::smem_u32(smem_b + s * kStageBytesB), &tm_b, bar, kb * stage_k<Op>(), w.tm * BN);
                } else {
                    // This CTA's half of the token rows, into both CTAs at the same offset.
                    ptx::tma_load_2d_multicast(ptx::smem_u32(smem_b + s * kStageBytesB + rank * (BN / CL) * kRowBytesB),
                                               &tm_b, bar, kb * stage_k<Op>(), w.tm * BN + rank * (BN / CL),
                                               static_cast<uint16_t>((1u << CL) - 1));
                }
            };
            // Overlapped launch (cuda/launch.cuh): the weight tiles of the first STAGES
            // stages (free slots: no empty-barrier wait) go out before waiting for the
            // kernel ahead, whose output may be x; their x tiles follow the wait. A plain
            // launch passes the wait at once and issues the same copies.
            int early = 0;
            for (int u = first_unit; u < units && early < STAGES; u += unit_step) {
                const Unit w = decode_unit<CL>(u, p, rank, krank);
                for (int kb = w.kb0; kb < w.kb1 && early < STAGES; ++kb) load_weight(early++, w, kb);
            }
            ptx::griddep_wait();
            int stage = 0, item = 0;
            uint32_t phase = 0;
            for (int u = first_unit; u < units; u += unit_step) {
                const Unit w = decode_unit<CL>(u, p, rank, krank);
                for (int kb = w.kb0; kb < w.kb1; ++kb, ++item) {
                    if (item >= early) {
                        ptx::mbar_wait(ptx::smem_u32(&empty[stage]), phase ^ 1);
                        load_weight(stage, w, kb);
                    }
                    load_x(stage, w, kb);
                    if (++stage == STAGES) stage = 0, phase ^= 1;
                }
            }
        }
        if (p.csplit) {
            __syncwarp();
            ptx::cluster_sync();  // the consumers' "partial tiles written" barrier (one unit per CTA)
        }
    } else {
        // ---- consumers -----------------------------------------------------------------
        ptx::setmaxnreg_inc<kConsumerRegs>();
        ptx::griddep_wait();  // overlapped launch: x scales, split-K workspace and out after the kernel ahead
        const int ct = threadIdx.x - 128;  // 0..255
        const int cw = ct / 128;           // consumer warpgroup: weight rows 64 cw .. 64 cw + 63
        const int warp = (ct / 32) & 3, lane = ct & 31;
        int stage = 0;
        uint32_t phase = 0;
        Acc acc[BN / 2];
#pragma unroll
        for (int i = 0; i < BN / 2; ++i) acc[i] = Acc(0);

        // Frees a stage: one arrive per warp, on this CTA's barrier and the peers'.
        auto release = [&](int s) {
            __syncwarp();
            if (lane == 0) {
                const uint32_t bar = ptx::smem_u32(&empty[s]);
                ptx::mbar_arrive(bar);
#pragma unroll
                for (int peer = 1; peer < CL; ++peer)
                    ptx::mbar_arrive_cluster(ptx::map_to_cta(bar, static_cast<uint32_t>((rank + peer) % CL)));
            }
        };
        for (int u = first_unit; u < units; u += unit_step) {
            const Unit w = decode_unit<CL>(u, p, rank, krank);
            int prev = -1;
            int kb = w.kb0;
            const int n_row0 = w.tw * kBM + cw * 64 + warp * 16 + (lane >> 2);
            EpiScales<BN> sc;
            if constexpr (BN <= 64) load_epi_scales<BN>(sc, p, n_row0, w.tm * BN, lane);
            // The metadata registers are read by the tensor cores while a wgmma.sp runs
            // (for N >= 128 well after issue), so a stage's words must stay untouched until
            // its group has completed: two register sets, alternating by stage parity
            // (compile-time, so they stay in registers), and the set of group i-1 is kept
            // alive until wait_group 1 in step i has retired that group.
            uint32_t meta[2][2];
            auto step = [&](auto parity) {
                constexpr int PAR = decltype(parity)::value;
                ptx::mbar_wait(ptx::smem_u32(&full[stage]), phase);
                // This warp's metadata words: row block 4 cw + warp of the tile, lane's word.
                const uint32_t e_addr = ptx::smem_u32(smem_e + stage * kStageBytesE) + ((cw * 4 + warp) * (32 * P) + lane) * 4;
                meta[PAR][0] = ptx::ld_shared_u32(e_addr);
                meta[PAR][1] = (P == 2) ? ptx::ld_shared_u32(e_addr + 128) : meta[PAR][0];
                const uint64_t da = ptx::smem_desc(ptx::smem_u32(smem_a + stage * kStageBytesA + cw * 64 * kRowBytesA),
                                                   ptx::Swizzle::B64, 8 * kRowBytesA);
                const uint64_t db = ptx::smem_desc(ptx::smem_u32(smem_b + stage * kStageBytesB), ptx::Swizzle::B128,
                                                   8 * kRowBytesB);
                const int scale_d = kb > w.kb0 ? 1 : 0;  // the unit's first step overwrites acc
                ptx::wgmma_fence();
                // Two instructions per stage: A advances 32 bytes (16 compressed 16-bit values
                // or 32 8-bit ones), B 64 bytes (the instruction's K). Descriptor +n = +16n bytes.
                if constexpr (P == 1) {
                    // 16-bit: one word, two k32 steps: selector 0 (lanes t=0,1), then 1 (t=2,3).
                    Op::template mma<BN, 0>(acc, da, db, meta[PAR][0], scale_d);
                    Op::template mma<BN, 1>(acc, da + 2, db + 4, meta[PAR][0], 1);
                } else {
                    // 8-bit: one word per k64 step, selector 0.
                    Op::template mma<BN, 0>(acc, da, db, meta[PAR][0], scale_d);
                    Op::template mma<BN, 0>(acc, da + 2, db + 4, meta[PAR][1], 1);
                }
                ptx::wgmma_commit();
                ptx::wgmma_wait<1>();  // the previous stage's wgmmas are done: free it
                ptx::keep_alive(meta[PAR ^ 1][0], meta[PAR ^ 1][1]);
                if (prev >= 0) release(prev);
                prev = stage;
                if (++stage == STAGES) stage = 0, phase ^= 1;
                ++kb;
            };
            meta[1][0] = meta[1][1] = 0;
            while (kb + 1 < w.kb1) {
                step(std::integral_constant<int, 0>{});
                step(std::integral_constant<int, 1>{});
            }
            if (kb < w.kb1) step(std::integral_constant<int, 0>{});
            ptx::wgmma_wait<0>();
            release(prev);

            if constexpr (BN <= kMaxCsplitBN) {
                if (p.csplit) {
                    // Cluster split-K: every CTA of the cluster holds one split of the same
                    // tile. Each writes its partial tile to its own shared memory ([q][thread]
                    // 16-byte vectors), one cluster barrier (release / acquire) makes them
                    // visible, and consumer warp v of the tile is finished by CTA v % splits:
                    // it adds the splits' partials of its 16 rows in split order 0..S-1 (the
                    // same order, so the same bits, as the global split-K below), read
                    // through distributed shared memory, and runs the epilogue. No global
                    // partials, fence or counter: the fix-up is a few hundred cycles.
                    using Vec = typename std::conditional<std::is_integral<Acc>::value, int4, float4>::type;
                    constexpr int Q = BN / 8;
                    Vec* mine = reinterpret_cast<Vec*>(smem_part);
#pragma unroll
                    for (int q = 0; q < Q; ++q) mine[q * kConsumerThreads + ct] = pack4(&acc[4 * q]);
                    __syncwarp();         // barrier.cluster.*.aligned: the whole warp, converged
                    ptx::cluster_sync();  // with the producer warpgroup's, after its loop
                    if ((ct / 32) % p.splits == krank) {
                        const uint32_t base = ptx::smem_u32(&mine[ct]);
#pragma unroll 1
                        for (int s = 0; s < p.splits; ++s) {
                            const uint32_t src = ptx::map_to_cta(base, static_cast<uint32_t>(s));
                            Vec v[Q];
#pragma unroll
                            for (int q = 0; q < Q; ++q) {
                                const uint4 r = ptx::ld_shared_cluster_v4(src + q * kConsumerThreads * 16);
                                v[q] = *reinterpret_cast<const Vec*>(&r);
                            }
#pragma unroll
                            for (int q = 0; q < Q; ++q) {
                                Acc a[4];
                                unpack4(v[q], a);
#pragma unroll
                                for (int c = 0; c < 4; ++c) acc[4 * q + c] = (s == 0) ? a[c] : acc[4 * q + c] + a[c];
                            }
                        }
                        epilogue<BN>(acc, sc, p, n_row0, w.tm * BN, lane);
                    }
                    continue;  // the final cluster barrier keeps the partials alive for the peers
                }
            }
            if (p.splits > 1) {
                // Split-K: every split stores its partial tile, then either the last to arrive
                // (per-tile counter) adds all partials and runs the epilogue, or (spread) every
                // split waits for all S and adds 1/S of the tile. Both add splits in order
                // 0..S-1 (deterministic: the same sum whichever split finishes last).
                // Layout: [tile][split][q][consumer thread] of 16-byte vectors (coalesced).
                using Vec = typename std::conditional<std::is_integral<Acc>::value, int4, float4>::type;
                constexpr int Q = BN / 8;
                Vec* part = reinterpret_cast<Vec*>(p.partial) + static_cast<size_t>(w.tile) * p.splits * Q * kConsumerThreads;
#pragma unroll
                for (int q = 0; q < Q; ++q) {
                    part[(static_cast<size_t>(w.split) * Q + q) * kConsumerThreads + ct] = pack4(&acc[4 * q]);
                }
                __threadfence();
                ptx::named_barrier_sync(1, kConsumerThreads);
                if (BN <= kMaxSpreadBN && p.spread) {
                    // The counter counts to 2S - 1 and wraps to 0 (atomicInc): S arrivals,
                    // then S departures once each split has seen all S arrivals, so it is
                    // zero again for the next launch and no split can miss the S.
                    if (ct == 0) {
                        unsigned* cnt = reinterpret_cast<unsigned*>(&p.counters[w.tile]);
                        const unsigned lim = 2u * static_cast<unsigned>(p.splits) - 1u;
                        if (atomicInc(cnt, lim) + 1u < static_cast<unsigned>(p.splits))
                            while (ptx::ld_acquire_gpu(&p.counters[w.tile]) < static_cast<uint32_t>(p.splits)) {
                            }
                        atomicInc(cnt, lim);
                    }
                    ptx::named_barrier_sync(1, kConsumerThreads);
                    __threadfence();
                    const int t = lane & 3;
                    for (int i = w.split + p.splits * (ct / 32); i < 8 * Q; i += 8 * p.splits) {
                        const int v = i / Q, q = i - (i / Q) * Q;  // source warp and n8 block
                        Vec pv[kSpreadMaxSplits];
#pragma unroll
                        for (int s = 0; s < kSpreadMaxSplits; ++s)
                            if (s < p.splits) pv[s] = __ldcg(&part[(static_cast<size_t>(s) * Q + q) * kConsumerThreads + v * 32 + lane]);
                        // The item's epilogue operands, loaded beside the partials.
                        const int n_row = w.tw * kBM + v * 16 + (lane >> 2), m_even = w.tm * BN + 8 * q + 2 * t;
                        float ws[2], bias[2], xs2[2];
                        load_row_scales(ws, bias, p, n_row);
                        load_token_scales(xs2, p, m_even);
                        Acc a4[4], sum[4] = {};
#pragma unroll
                        for (int s = 0; s < kSpreadMaxSplits; ++s) {
                            if (s < p.splits) {
                                unpack4(pv[s], a4);
#pragma unroll
                                for (int c = 0; c < 4; ++c) sum[c] = (s == 0) ? a4[c] : sum[c] + a4[c];
                            }
                        }
                        epilogue_block(sum, ws, bias, xs2, p, n_row, m_even, lane >> 2);
                    }
                    continue;
                }
                if (ct == 0) *last_flag = (atomicAdd(&p.counters[w.tile], 1) == p.splits - 1);
                ptx::named_barrier_sync(1, kConsumerThreads);
                if (!*last_flag) continue;
                __threadfence();
                // The partials are loaded QC n8 blocks x SB splits at a time, all in flight
                // together (a loop of dependent loads would pay the L2 latency S * Q times;
                // decode tiles: one or two round trips for 4 splits).
                constexpr int QC = BN <= 64 ? (Q < 4 ? Q : 4) : 8;
                constexpr int SB = BN <= 64 ? 4 : 1;
#pragma unroll
                for (int q0 = 0; q0 < Q; q0 += QC) {
#pragma unroll 1
                    for (int s0 = 0; s0 < p.splits; s0 += SB) {
                        Vec v[SB][QC];
#pragma unroll
                        for (int sb = 0; sb < SB; ++sb)
#pragma unroll
                            for (int i = 0; i < QC; ++i)
                                if (s0 + sb < p.splits)
                                    v[sb][i] = __ldcg(&part[(static_cast<size_t>(s0 + sb) * Q + q0 + i) * kConsumerThreads + ct]);
#pragma unroll
                        for (int sb = 0; sb < SB; ++sb) {
                            if (s0 + sb < p.splits) {
#pragma unroll
                                for (int i = 0; i < QC; ++i) {
                                    Acc a[4];
                                    unpack4(v[sb][i], a);
#pragma unroll
                                    for (int c = 0; c < 4; ++c)
                                        acc[4 * (q0 + i) + c] = (s0 + sb == 0) ? a[c] : acc[4 * (q0 + i) + c] + a[c];
                                }
                            }
                        }
                    }
                }
                if (ct == 0) p.counters[w.tile] = 0;  // ready for the next launch
            }
            if constexpr (BN > 64) load_epi_scales<BN>(sc, p, n_row0, w.tm * BN, lane);
            epilogue<BN>(acc, sc, p, n_row0, w.tm * BN, lane);
        }
    }
    if (CL > 1 || p.csplit) {
        __syncwarp();
        ptx::cluster_sync();  // no CTA exits while a peer may still arrive on its barriers or read its partial
    }
#else
    (void)tm_a, (void)tm_b, (void)tm_e, (void)p;
    __trap();  // not an sm_90a build: the launcher refuses before launching
#endif
}

// ---- host side -------------------------------------------------------------------------

// One kernel instantiation: its shared-memory opt-in, residency and launch.
template <class Op, int BN, int CL>
struct Launcher {
    static constexpr auto kernel = &sparse24_gemm_v3_kernel<Op, BN, CL>;
    static const void* fn() { return reinterpret_cast<const void*>(kernel); }

    // cdim: CTAs per cluster, CL (multicast pairs) or, with CL = 1, the splits of a
    // cluster split-K launch.
    static cudaLaunchConfig_t config(int ctas, cudaLaunchAttribute (&attr)[2], int cdim = CL, bool overlapped = false) {
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(ctas, 1, 1);
        cfg.blockDim = dim3(kThreads, 1, 1);
        cfg.dynamicSmemBytes = smem_bytes<Op, BN>();
        attr[0].id = cudaLaunchAttributeClusterDimension;
        attr[0].val.clusterDim.x = cdim, attr[0].val.clusterDim.y = 1, attr[0].val.clusterDim.z = 1;
        cfg.attrs = attr;
        cfg.numAttrs = 1 + overlap_attribute(&attr[1], overlapped);
        return cfg;
    }

    // CTAs that can be resident at once (whole clusters): the persistent grid size.
    // The first call also raises the kernel's dynamic shared-memory limit.
    static int resident_ctas() {
        static const int n = [] {
            CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes<Op, BN>()));
            cudaLaunchAttribute attr[2];
            cudaLaunchConfig_t cfg = config(CL * device_sm_count(), attr);
            int clusters = 0;
            CUDA_CHECK(cudaOccupancyMaxActiveClusters(&clusters, kernel, &cfg));
            CTK_CHECK(clusters > 0, "sparse24_gemm_v3: no cluster of ", CL, " CTAs with ", smem_bytes<Op, BN>(),
                      " bytes of shared memory fits on this device");
            return clusters * CL;
        }();
        return n;
    }

    // CTAs resident at once in clusters of `cdim` (cluster split-K), cached per size.
    static int resident_ctas_in_clusters(int cdim) {
        static std::mutex mu;
        static int cache[kMaxCsplit + 1] = {};
        std::lock_guard<std::mutex> lock(mu);
        if (cache[cdim] == 0) {
            resident_ctas();  // the shared-memory opt-in
            cudaLaunchAttribute attr[2];
            cudaLaunchConfig_t cfg = config(cdim * device_sm_count(), attr, cdim);
            int clusters = 0;
            // A refused query (a cluster shape this device cannot place) means "does not
            // fit": the plan then keeps the global split-K reduction.
            if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &cfg) != cudaSuccess) {
                cudaGetLastError();
                clusters = 0;
            }
            cache[cdim] = clusters > 0 ? clusters * cdim : -1;  // -1: none fits (remembered)
        }
        return std::max(cache[cdim], 0);
    }

    static void launch(int ctas, const CUtensorMap& a, const CUtensorMap& b, const CUtensorMap& e, const Params& p,
                       int cdim = CL) {
        resident_ctas();  // the shared-memory opt-in
        cudaLaunchAttribute attr[2];
        cudaLaunchConfig_t cfg = config(ctas, attr, cdim, overlapped_launch());
        CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, a, b, e, p));
    }
};

template <class Op, class F>
auto with_bn(int bn, F f) {
    switch (bn) {
        case 8: return f(std::integral_constant<int, 8>{});
        case 16: return f(std::integral_constant<int, 16>{});
        case 32: return f(std::integral_constant<int, 32>{});
        case 64: return f(std::integral_constant<int, 64>{});
        case 128: return f(std::integral_constant<int, 128>{});
        case 256: return f(std::integral_constant<int, 256>{});
    }
    throw Error(cat("sparse24_gemm_v3: bn: expected 8, 16, 32, 64, 128 or 256, found ", bn));
}

template <class F>
auto with_op(DType t, F f) {
    switch (t) {
        case DType::F16: return f(OpF16{});
        case DType::BF16: return f(OpBF16{});
        case DType::F8E4M3: return f(OpE4M3{});
        case DType::I8: return f(OpI8{});
        default: break;
    }
    throw Error(cat("sparse24_gemm_v3: x: expected dtype f16, bf16, f8e4m3 or i8, found ", dtype_name(t)));
}

// Token tile by M: small M takes the smallest tile that holds it (decode: the weight
// stream dominates, the tile only has to cover the tokens); large M the 128/256 tile
// with the least padding, 256 on ties (fewer passes over the weight).
int choose_bn(int64_t M) {
    for (int bn : {8, 16, 32, 64})
        if (M <= bn) return bn;
    const int64_t pad128 = (M + 127) / 128 * 128, pad256 = (M + 255) / 256 * 256;
    return pad256 <= pad128 ? 256 : 128;
}

// Split-K by a small cost model in units of "one stage": a CTA runs ceil(units / ctas)
// units of ceil(k_blocks / S) stages, plus the partial tile's traffic when S > 1. Only
// splits when the tiles alone leave SMs idle.
// partial_stages: the bytes of one fp32 partial tile in units of a stage's bytes (a unit
// writes one; the last split of a tile reads all S of them back).
int choose_splits(int tiles, int k_blocks, int sms, double partial_stages) {
    if (tiles >= sms) return 1;
    int best = 1;
    double best_cost = 1e300;
    for (int s = 1; s <= std::min(k_blocks, 32); ++s) {
        const double waves = std::ceil(double(tiles) * s / sms);
        // Per split unit: its partial tile plus a fixed ~4 stages (store, fence, counter,
        // pipeline restart), the cost measured on H100 at M = 1, N = 14336 (8 splits of
        // 8 stages ran 2.4x slower than 1 split of 64).
        const double extra = s > 1 ? partial_stages + 4.0 : 0.0;
        const double cost = waves * (std::ceil(double(k_blocks) / s) + extra) + s * extra;
        if (cost < best_cost - 1e-9) best = s, best_cost = cost;
    }
    return best;
}

}  // namespace

bool sparse24_v3_available() {
    // Cached: the launcher asks on every call, and device queries cost microseconds.
    static const bool available = [] {
        if (!CTK_BUILD_SM90A || device_count() == 0 || device_capability() < 90) return false;
        cudaFuncAttributes a;
        if (cudaFuncGetAttributes(&a, Launcher<OpF16, 8, 1>::fn()) != cudaSuccess) {
            cudaGetLastError();
            return false;
        }
        return a.binaryVersion >= 90;  // SASS for sm_90a, not a PTX-only or sm_80 build
    }();
    return available;
}

Sparse24V3Plan sparse24_gemm_v3_plan(int64_t M, int64_t N, int64_t K, DType dtype, const Sparse24V3Options& opt) {
    CTK_CHECK(M >= 1 && N >= 1 && K >= 4, "sparse24_gemm_v3: expected M, N >= 1 and K >= 4, found M = ", M, ", N = ", N,
              ", K = ", K);
    CTK_CHECK(M < (int64_t{1} << 31) && N < (int64_t{1} << 31) && K < (int64_t{1} << 31),
              "sparse24_gemm_v3: sizes must fit in int32, found M = ", M, ", N = ", N, ", K = ", K);
    Sparse24V3Plan plan;
    plan.bn = opt.bn ? opt.bn : choose_bn(M);
    const int tiles_w = static_cast<int>(sparse24_padded_rows(N) / kBM);
    const int tiles_m = static_cast<int>((M + plan.bn - 1) / plan.bn);
    // Clusters of 2 (activation tile multicast) for the large token tiles, where the
    // activation tile is most of a stage; they pair neighbouring weight tiles.
    CTK_CHECK(opt.cluster >= 0 && opt.cluster <= 2, "sparse24_gemm_v3: cluster: expected 0, 1 or 2, found ",
              opt.cluster);
    plan.cluster = opt.cluster ? opt.cluster : (plan.bn >= 128 && tiles_w % 2 == 0 ? 2 : 1);
    CTK_CHECK(plan.cluster == 1 || tiles_w % 2 == 0, "sparse24_gemm_v3: cluster = 2 needs an even number of ",
              kBM, "-row weight tiles, found ", tiles_w, " (N = ", N, ")");
    CTK_CHECK(plan.cluster == 1 || plan.bn >= kMinClusterBN, "sparse24_gemm_v3: cluster = 2 needs bn >= ",
              kMinClusterBN, ", found ", plan.bn);
    const bool have_device = device_count() > 0;
    static const int sms = have_device ? device_sm_count() : 132;  // 132: H100 SXM, for planning without a device
    int resident = sms;
    with_op(dtype, [&](auto op) {
        using Op = decltype(op);
        plan.stage_k = stage_k<Op>();
        with_bn<Op>(plan.bn, [&](auto bn) {
            constexpr int BN = decltype(bn)::value;
            plan.stages = num_stages<Op, BN>();
            plan.smem_bytes = smem_bytes<Op, BN>();
            if (have_device) {
                if constexpr (BN >= kMinClusterBN) {
                    if (plan.cluster == 2) resident = Launcher<Op, BN, 2>::resident_ctas();
                }
                if (plan.cluster == 1) resident = Launcher<Op, BN, 1>::resident_ctas();
            }
            return 0;
        });
        return 0;
    });
    const int k_blocks = static_cast<int>((K + plan.stage_k - 1) / plan.stage_k);
    plan.tiles = tiles_w * tiles_m;
    CTK_CHECK(opt.splits >= 0, "sparse24_gemm_v3: splits: expected >= 0, found ", opt.splits);
    const double stage_bytes_now = plan.smem_bytes / double(plan.stages);
    plan.splits = opt.splits ? std::min(opt.splits, k_blocks)
                             : choose_splits(plan.tiles, k_blocks, sms, kBM * plan.bn * 4.0 / stage_bytes_now);
    const int units = plan.tiles / plan.cluster * plan.splits;  // cluster-wide units
    int cap = std::min(resident, opt.max_ctas > 0 ? opt.max_ctas : sms) / plan.cluster;
    plan.ctas = std::max(1, std::min(units, cap)) * plan.cluster;

    CTK_CHECK(opt.tiled_weight == 0 || opt.tiled_weight == 1,
              "sparse24_gemm_v3: tiled_weight: expected 0 (row-major kernel layout) or 1 (tiled), found ",
              opt.tiled_weight);
    CTK_CHECK(opt.split_reduce >= 0 && opt.split_reduce <= 3,
              "sparse24_gemm_v3: split_reduce: expected 0 (by the plan), 1 (global), 2 (cluster) or 3 (spread), found ",
              opt.split_reduce);

    // Cluster split-K (decode tiles): the splits of a tile run as one cluster and add their
    // partials through distributed shared memory, when every tile's cluster is resident
    // at once (one tile per cluster) and no CTA cap asks for a smaller grid.
    // Only on request: on an H100 the default plan's 4-split decode tiles did not fit as
    // clusters, and 2 splits as clusters were 4-8 % slower than 4 global splits
    // (docs/sparse24_v3.md 4c).
    const bool want_cluster = opt.split_reduce == 2;
    if (plan.splits > 1 && plan.cluster == 1 && plan.bn <= kMaxCsplitBN && plan.splits <= kMaxCsplit &&
        want_cluster && opt.max_ctas == 0) {
        const int need = plan.tiles * plan.splits;
        int fits = need <= sms;  // planning without a device: assume the clusters fit
        if (have_device) {
            with_op(dtype, [&](auto op) {
                using Op = decltype(op);
                return with_bn<Op>(plan.bn, [&](auto bn) {
                    constexpr int BN = decltype(bn)::value;
                    fits = need <= Launcher<Op, BN, 1>::resident_ctas_in_clusters(plan.splits);
                    return 0;
                });
            });
        }
        if (fits) {
            plan.cluster_splits = true;
            plan.ctas = need;
        }
    }
    // Spread split-K: every split waits for the others, so it needs every unit on its own
    // CTA and all of them resident at once (the grid is one wave: ctas <= resident).
    const bool want_spread = opt.split_reduce == 3 || (opt.split_reduce == 0 && plan.bn >= kMinSpreadBNByDefault);
    if (want_spread && plan.splits > 1 && plan.splits <= kSpreadMaxSplits && !plan.cluster_splits &&
        plan.cluster == 1 && plan.bn <= kMaxSpreadBN && units <= plan.ctas)
        plan.spread_splits = true;
    CTK_CHECK(opt.split_reduce != 3 || plan.spread_splits, "sparse24_gemm_v3: split_reduce = 3 (spread split-K) ",
              "needs 2..", kSpreadMaxSplits, " splits, bn <= ", kMaxSpreadBN, ", cluster = 1 and one unit per CTA ",
              "(tiles x splits <= CTAs); found splits = ", plan.splits, ", bn = ", plan.bn, ", cluster = ", plan.cluster,
              ", ", plan.tiles, " tiles, ", plan.ctas, " CTAs");
    CTK_CHECK(opt.split_reduce != 2 || plan.cluster_splits, "sparse24_gemm_v3: split_reduce = 2 (cluster split-K) ",
              "needs 2..", kMaxCsplit, " splits, bn <= ", kMaxCsplitBN, ", cluster = 1, no max_ctas and every tile's ",
              "cluster resident at once; found splits = ", plan.splits, ", bn = ", plan.bn, ", cluster = ", plan.cluster,
              ", ", plan.tiles, " tiles");
    return plan;
}

void sparse24_gemm_v3_into(Tensor& out, const Tensor& x, const Tensor& values, const Tensor& meta, int64_t N,
                           int64_t K, const Tensor& x_scale, const Tensor& w_scale, const Tensor& bias,
                           const Sparse24V3Options& opt) {
    const char* op = "sparse24_gemm_v3";
    // ---- validate (before anything touches the device) ----
    CTK_CHECK(x.defined() && x.device == Device::CUDA && x.ndim() == 2, op,
              ": x: expected a device tensor [M, K], found ", x.defined() ? x.describe() : std::string("undefined"));
    const DType dt = x.dtype;
    CTK_CHECK(dt == DType::F16 || dt == DType::BF16 || dt == DType::F8E4M3 || dt == DType::I8, op,
              ": x: expected dtype f16, bf16, f8e4m3 or i8, found ", dtype_name(dt));
    const int64_t M = x.shape[0];
    CTK_CHECK(x.shape[1] == K, op, ": x: expected K = ", K, " columns (the weight's K), found ", x.shape[1]);
    CTK_CHECK(M >= 1, op, ": x: expected M >= 1 rows, found ", M);
    const size_t es = dtype_size(dt);
    CTK_CHECK(K % 4 == 0 && (K * es) % 16 == 0, op, ": x: the row pitch K * ", es, " bytes must be a multiple of 16",
              " (the TMA unit's rule: K % ", 16 / es, " == 0), found K = ", K);
    CTK_CHECK(reinterpret_cast<uintptr_t>(x.raw()) % 16 == 0, op, ": x: expected a 16-byte aligned base address");
    CTK_CHECK(dt != DType::I8 || K < (int64_t{1} << 17), op, ": x: K = ", K,
              " is too large for int32 accumulation of i8 products (K < 131072)");
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
    CTK_CHECK(values.defined() && values.device == Device::CUDA, op, ": values: expected a device tensor");
    CTK_CHECK(values.dtype == dt, op, ": values: expected dtype ", dtype_name(dt), " (the dtype of x), found ",
              dtype_name(values.dtype));
    expect_shape(values, {Np, Kp / 2}, cat(op, ": values"));
    CTK_CHECK(meta.defined() && meta.device == Device::CUDA, op, ": meta: expected a device tensor");
    expect_dtype(meta, DType::I32, cat(op, ": meta"));
    expect_shape(meta, {Np / 16, Kp / 64, 32}, cat(op, ": meta"));
    CTK_CHECK(out.defined() && out.device == Device::CUDA, op, ": out: expected a device tensor");
    CTK_CHECK(out.dtype == DType::F16 || out.dtype == DType::BF16, op, ": out: expected dtype f16 or bf16, found ",
              dtype_name(out.dtype));
    expect_shape(out, {M, N}, cat(op, ": out"));
    check_epilogue_args(op, Device::CUDA, M, N, x_scale, w_scale, bias, out.dtype);
    if (!sparse24_v3_available()) {
        CTK_CHECK(device_capability() >= 90, op, ": needs an sm_90 (Hopper) device, found ", device_description(),
                  "; use sparse24_gemm version 2 (mma.sp) there");
        throw Error(cat(op, ": this build has no sm_90a kernels (built for another ARCH; rebuild with ARCH=sm_90a)"));
    }

    const Sparse24V3Plan plan = sparse24_gemm_v3_plan(M, N, K, dt, opt);
    Params p{};
    p.M = static_cast<int>(M);
    p.N = static_cast<int>(N);
    p.tiles_w = static_cast<int>(Np / kBM);
    p.tiles_m = static_cast<int>((M + plan.bn - 1) / plan.bn);
    p.splits = plan.splits;
    p.k_blocks = static_cast<int>((K + plan.stage_k - 1) / plan.stage_k);
    p.out = static_cast<uint16_t*>(out.raw());
    p.out_bf16 = out.dtype == DType::BF16;
    p.xs = x_scale.defined() ? static_cast<const float*>(x_scale.raw()) : nullptr;
    p.xs_vec = x_scale.defined() && x_scale.numel() > 1;
    p.ws = w_scale.defined() ? static_cast<const float*>(w_scale.raw()) : nullptr;
    p.ws_vec = w_scale.defined() && w_scale.numel() > 1;
    p.bias = bias.defined() ? static_cast<const uint16_t*>(bias.raw()) : nullptr;

    p.csplit = plan.cluster_splits ? 1 : 0;
    p.spread = plan.spread_splits ? 1 : 0;
    std::unique_lock<std::mutex> lock;  // held until the launch is queued (cuda/split_workspace.cuh)
    if (plan.splits > 1 && !plan.cluster_splits) {
        const SplitScratch ws = split_scratch(static_cast<size_t>(plan.tiles) * plan.splits * kBM * plan.bn * 4,
                                              static_cast<size_t>(plan.tiles), lock);
        p.partial = ws.partial;
        p.counters = ws.counters;
    }

    // Tensor maps (CUtensorMap, 128 bytes each, passed by value as __grid_constant__).
    const CUtensorMapDataType elem = es == 2 ? CU_TENSOR_MAP_DATA_TYPE_UINT16 : CU_TENSOR_MAP_DATA_TYPE_UINT8;
    CUtensorMapL2promotion promo = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
    switch (opt.l2_promotion) {
        case 0: promo = CU_TENSOR_MAP_L2_PROMOTION_NONE; break;
        case 64: promo = CU_TENSOR_MAP_L2_PROMOTION_L2_64B; break;
        case 128: promo = CU_TENSOR_MAP_L2_PROMOTION_L2_128B; break;
        case 256: break;
        default: throw Error(cat(op, ": l2_promotion: expected 0, 64, 128 or 256 bytes, found ", opt.l2_promotion));
    }
    // Row-major kernel layout: values [Np rows, Kp/2], meta [Np/16 rows, Kp/64 * 32 words];
    // tiled: the same bytes as [Np * wblocks rows, 64 bytes] and [Np/16 * wblocks rows, 32 P
    // words], one stage block = one box of consecutive rows.
    const int P = plan.stage_k / 64;
    p.wtiled = opt.tiled_weight;
    p.wblocks = static_cast<int>(Kp / plan.stage_k);
    const uint64_t a_inner = p.wtiled ? kRowBytesA / es : Kp / 2, a_outer = p.wtiled ? Np * p.wblocks : Np;
    const uint64_t e_inner = p.wtiled ? 32 * P : (Kp / 64) * 32, e_outer = p.wtiled ? (Np / 16) * p.wblocks : Np / 16;
    const CUtensorMap tm_a = make_tensor_map_2d(values.raw(), elem, a_inner, a_outer, a_inner * es, kRowBytesA / es,
                                             kBM, CU_TENSOR_MAP_SWIZZLE_64B, op, "values", promo);
    const CUtensorMap tm_b = make_tensor_map_2d(x.raw(), elem, K, M, K * es, kRowBytesB / es, plan.bn / plan.cluster,
                                             CU_TENSOR_MAP_SWIZZLE_128B, op, "x", promo);
    const CUtensorMap tm_e = make_tensor_map_2d(meta.raw(), CU_TENSOR_MAP_DATA_TYPE_UINT32, e_inner, e_outer,
                                             e_inner * 4, 32 * P, kBM / 16, CU_TENSOR_MAP_SWIZZLE_NONE, op, "meta", promo);

    with_op(dt, [&](auto op) {
        using Op = decltype(op);
        return with_bn<Op>(plan.bn, [&](auto bn) {
            constexpr int BN = decltype(bn)::value;
            if (plan.cluster == 2) {
                if constexpr (BN >= kMinClusterBN) Launcher<Op, BN, 2>::launch(plan.ctas, tm_a, tm_b, tm_e, p);
            } else {
                Launcher<Op, BN, 1>::launch(plan.ctas, tm_a, tm_b, tm_e, p, plan.cluster_splits ? plan.splits : 1);
            }
            CUDA_CHECK_LAUNCH();
            return 0;
        });
    });
}

Tensor sparse24_gemm_v3(const Tensor& x, const Tensor& values, const Tensor& meta, int64_t N, int64_t K,
                        const Tensor& x_scale, const Tensor& w_scale, const Tensor& bias, DType out_dtype,
                        const Sparse24V3Options& opt) {
    CTK_CHECK(out_dtype == DType::F16 || out_dtype == DType::BF16,
              "sparse24_gemm_v3: out_dtype: expected f16 or bf16, found ", dtype_name(out_dtype));
    CTK_CHECK(x.defined() && x.ndim() == 2, "sparse24_gemm_v3: x: expected [M, K]");
    Tensor out = device_empty(out_dtype, {x.shape[0], N});
    sparse24_gemm_v3_into(out, x, values, meta, N, K, x_scale, w_scale, bias, opt);
    return out;
}

}  // namespace ctk::cuda
