// 2:4 sparse GEMM with a fused scale/bias epilogue.
//
// What it computes (the weight is the sparse operand, mma-sp-and-wgmma-sp.md 5.4):
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] ),  acc = sum_k x[m, k] * W[n, k]
//   x: [M, K] row-major (f16, bf16, i8 or f8e4m3); W: [N, K] 2:4 along K, in the kernel
//   layout (values [Np, Kp/2] + metadata [Np/16, Kp/64, 32], formats/sparse24_layout.h);
//   xs: f32 scalar or [M]; ws: f32 scalar or [N]; bias: [N] out dtype or none;
//   out: [M, N] f16 or bf16. acc is fp32 (int32 for i8, exact). The epilogue is fp32
//   with no contraction: t = xs * acc, t = ws * t, t = t + bias, then one rounding (RNE).
//   In MMA terms the kernel computes out^T [N, M] = W [N, K] * x^T [K, M]: weight rows
//   are the MMA's M dimension (16-row tiles), tokens its N (8-column tiles).
//
// The ladder:
//   v1 (readable). A 16 x 16 output tile per block, one output per thread. Per K step
//      of 64 the block stages its 16 weight rows on the CUDA cores (each thread reads one
//      group's code from the metadata word and its two kept values into shared memory)
//      and 16 x 64 activations; every thread then walks the 16 groups and multiplies the
//      two kept values with the x of the two slots the code names, 32 fp32 (int32)
//      multiply-adds in ascending k, without contraction. It shows the format and the
//      epilogue with nothing else in the way. It sums in the reference's order and reads
//      no pruned slot, so it matches ref::scaled_sparse_gemm bit for bit, also when x
//      holds an Inf or NaN at a pruned position (until 2026-12-07 v1 multiplied the
//      decoded dense rows, so such an x gave Inf x 0 = NaN). Measured on an H100 (the
//      dense-row version): 3.0 TFLOP/s at 16x4096x4096 f16, 7.8 at 1024x4096x4096 (i8:
//      5.0 / 7.7 TOP/s).
//   v2 (mma.sp). Tensor cores: `mma.sp::ordered_metadata` m16n8k32 (f16, bf16) or
//      m16n8k64 (i8; f8e4m3 works but ptxas emulates it on sm_90). A block computes a
//      BN (weight rows) x BM (tokens) tile; each warp a (16 WTN) x (8 WTM) sub-tile.
//      Per K tile (KT units of 64 bytes of compressed weight and 128 bytes of
//      activations per row: 64 logical K per unit for 16-bit, 128 for 8-bit) a STAGES-deep
//      cp.async pipeline brings the compressed weight, the activations and the
//      metadata words into shared memory (XOR-swizzled 16-byte chunks so ldmatrix is
//      free of bank conflicts); each warp ldmatrix.x4's its A and B fragments, reads its
//      metadata word per 16 rows with one 32-bit load (the kernel layout stores the
//      registers), and issues two MMA steps per unit (16-bit: the same word with
//      selector 0 then 1; 8-bit: one word per k64 step). The accumulators go
//      through shared memory so the epilogue stores whole rows of out with 8-byte
//      stores. Three tile shapes by M (decode M <= 16, medium, large), and split-K when
//      the tiles alone do not fill the GPU: each split writes an fp32/int32 partial,
//      the last split of a tile (a counter per tile) sums them in a fixed order and
//      runs the epilogue, so results are deterministic and need one launch.
//      Measured on an H100 (cuBLAS dense in the same run): decode M <= 16 1.3-1.5x
//      faster than cuBLAS f16/bf16 (16x14336x4096: 38.6 us, 1.73 TB/s) and 1.1-1.7x
//      faster than cuBLASLt i8; 8192^3 only 300-330 TFLOP/s f16/bf16 (0.40-0.43x
//      cuBLAS) and 0.52-0.56 POP/s i8: about a third of the mma.sp ceiling (ncu: the
//      tensor pipe 35 % busy, "wait" stalls, 8 warps per SM). The Hopper rung
//      (wgmma.sp + TMA) is the fix; docs/sparse24.md has the numbers and what was tried.
//      A software-pipelined main loop (double-buffered fragments, CUTLASS sm80 barrier
//      placement; tiles "*p") measured 3-7 % faster on the decode tile (now its default,
//      16x14336x4096 f16 28.6 us, 2.33 TB/s) and 2-16 % slower on the others.
//
// Test: ctk_tests -ts=gpu -tc='*sparse24*'     Bench: ctk bench sparse24
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "check.cuh"
#include "convert16.cuh"
#include "core/epilogue.h"
#include "formats/fp16.h"
#include "formats/fp8_e4m3.h"
#include "formats/sparse24.h"
#include "formats/sparse24_layout.h"
#include "ops.h"
#include "sparse24_gemm_sm90.cuh"
#include "ptx.cuh"

namespace ctk::cuda {
namespace {

// ---- the epilogue, shared by every rung ----------------------------------------------

struct Epilogue {
    const float* xs;      // [M] or [1] or nullptr (= 1)
    const float* ws;      // [N] or [1] or nullptr (= 1)
    const uint16_t* bias; // [N] out dtype, or nullptr
    bool xs_vec, ws_vec, out_bf16;
};

__device__ __forceinline__ float acc_to_float(float a) { return a; }
__device__ __forceinline__ float acc_to_float(int32_t a) { return __int2float_rn(a); }

// round_out(ws[n] * (xs[m] * acc) + bias[n]); explicit _rn intrinsics: no FMA contraction.
__device__ __forceinline__ uint16_t epilogue_value(const Epilogue& ep, float acc, int64_t m, int64_t n) {
    float t = acc;
    if (ep.xs) t = __fmul_rn(ep.xs[ep.xs_vec ? m : 0], t);
    if (ep.ws) t = __fmul_rn(ep.ws[ep.ws_vec ? n : 0], t);
    if (ep.bias) t = __fadd_rn(t, act_to_float(ep.bias[n], ep.out_bf16));
    return act_from_float(t, ep.out_bf16);
}

// ---- operand types ----------------------------------------------------------------

// Per operand dtype: element size, accumulator, scalar decode (v1) and the MMA (v2).
struct OpF16 {
    static constexpr int kES = 2;
    using Acc = float;
    __device__ static float to_acc(const uint8_t* p) { return fp16_to_float(*reinterpret_cast<const uint16_t*>(p)); }
    template <int SEL>
    __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
        ptx::mma_sp_m16n8k32_f16<SEL>(d, a, b, e);
    }
};
struct OpBF16 {
    static constexpr int kES = 2;
    using Acc = float;
    __device__ static float to_acc(const uint8_t* p) { return bf16_to_float(*reinterpret_cast<const uint16_t*>(p)); }
    template <int SEL>
    __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
        ptx::mma_sp_m16n8k32_bf16<SEL>(d, a, b, e);
    }
};
struct OpI8 {
    static constexpr int kES = 1;
    using Acc = int32_t;
    __device__ static int32_t to_acc(const uint8_t* p) { return *reinterpret_cast<const int8_t*>(p); }
    template <int SEL>
    __device__ static void mma(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
        ptx::mma_sp_m16n8k64_s8(d, a, b, e);
    }
};
struct OpE4M3 {
    static constexpr int kES = 1;
    using Acc = float;
    __device__ static float to_acc(const uint8_t* p) { return e4m3_to_float(*p); }
    template <int SEL>
    __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
        ptx::mma_sp_m16n8k64_e4m3(d, a, b, e);
    }
};

__device__ __forceinline__ float mac(float acc, float a, float b) { return __fadd_rn(acc, __fmul_rn(a, b)); }
__device__ __forceinline__ int32_t mac(int32_t acc, int32_t a, int32_t b) { return acc + a * b; }

// Everything a kernel needs; pointers are raw bytes so one struct serves every dtype.
struct GemmArgs {
    const uint8_t* x;       // [M, K]
    const uint8_t* values;  // [Np, Kp/2]
    const uint32_t* meta;   // [Np/16, Kp/64, 32]
    uint16_t* out;          // [M, N]
    int64_t M, N, K, Np, Kp;
    Epilogue ep;
};

// ---- v1: readable ------------------------------------------------------------------

constexpr int kV1Tile = 16;  // 16 x 16 outputs per block, one per thread
constexpr int kV1K = 64;     // K per step (16 groups)

template <class Op>
__global__ void gemm_v1_kernel(GemmArgs a) {
    using Acc = typename Op::Acc;
    constexpr int ES = Op::kES;
    constexpr bool kEightBit = ES == 1;
    constexpr int kGroups = kV1K / 4;
    __shared__ Acc x_s[kV1Tile][kV1K];              // activations, converted
    __shared__ Acc w_s[kV1Tile][kV1K / 2 + 1];      // each group's two kept values (+1: the 16
                                                    // threads of a row read 16 rows: no bank conflict)
    __shared__ uint8_t code_s[kV1Tile][kGroups + 1];  // each group's 2:4 code (which two slots)
    const int tx = threadIdx.x, ty = threadIdx.y;  // tx: n (and group), ty: m (and row)
    const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kV1Tile, m0 = static_cast<int64_t>(blockIdx.y) * kV1Tile;
    Acc acc = 0;
    for (int64_t k0 = 0; k0 < a.Kp; k0 += kV1K) {
        // Activations: row m0 + ty, columns k0 .. k0 + 63 (zero past M and K).
        for (int c = tx; c < kV1K; c += kV1Tile) {
            const int64_t m = m0 + ty, k = k0 + c;
            x_s[ty][c] = (m < a.M && k < a.K) ? Op::to_acc(a.x + (m * a.K + k) * ES) : Acc(0);
        }
        // Weight: thread (ty, tx) reads group tx of row n0 + ty: its 4-bit code from the
        // metadata word and its two kept values.
        {
            const int64_t n = n0 + ty, group = k0 / 4 + tx;  // n < Np always (grid covers Np)
            const Sparse24MetaSlot slot = sparse24_meta_slot(n, group, a.Kp, kEightBit);
            code_s[ty][tx] = (a.meta[slot.word] >> slot.shift) & 0xF;
            const uint8_t* kept = a.values + (n * (a.Kp / 2) + 2 * group) * ES;
            w_s[ty][2 * tx] = Op::to_acc(kept);
            w_s[ty][2 * tx + 1] = Op::to_acc(kept + ES);
        }
        __syncthreads();
        // Only the two kept slots of each group are multiplied, in k order, as the reference
        // does (and as mma.sp does in v2/v3): the x of a pruned slot is never read, so an
        // Inf or NaN there cannot become NaN (Inf x 0).
        for (int g = 0; g < kGroups; ++g) {
            const uint8_t code = code_s[tx][g];
            acc = mac(acc, x_s[ty][4 * g + code24_idx0(code)], w_s[tx][2 * g]);
            acc = mac(acc, x_s[ty][4 * g + code24_idx1(code)], w_s[tx][2 * g + 1]);
        }
        __syncthreads();
    }
    const int64_t m = m0 + ty, n = n0 + tx;
    if (m < a.M && n < a.N) a.out[m * a.N + n] = epilogue_value(a.ep, acc_to_float(acc), m, n);
}

// ---- v2: mma.sp, ldmatrix, cp.async pipeline -----------------------------------------

// Tile geometry. A K tile is KT "units"; a unit is 64 bytes of compressed weight and
// 128 bytes of activations per row whatever the dtype (16-bit: 64 logical K, two k32
// MMA steps; 8-bit: 128 logical K, two k64 steps).
// PIPE: the software-pipelined main loop (fragments of the next MMA step loaded while
// the current one multiplies; the barrier of the next K tile placed before the last
// step's MMAs), see gemm_v2_kernel.
template <class Op, int BN_, int BM_, int WARPS_N_, int WARPS_M_, int STAGES_, int KT_ = 1, int MIN_BLOCKS_ = 1,
          bool PIPE_ = false>
struct V2Config {
    using Acc = typename Op::Acc;
    static constexpr int BN = BN_, BM = BM_, WARPS_N = WARPS_N_, WARPS_M = WARPS_M_, STAGES = STAGES_, KT = KT_;
    static constexpr int kMinBlocks = MIN_BLOCKS_;
    static constexpr bool kPipe = PIPE_;
    static constexpr int kThreads = 32 * WARPS_N * WARPS_M;
    static constexpr int kES = Op::kES;
    static constexpr bool kEightBit = Op::kES == 1;
    static constexpr int kRowBytesA = 64 * KT;             // compressed weight bytes per row per tile
    static constexpr int kRowBytesB = 128 * KT;            // activation bytes per row per tile
    static constexpr int kSteps = 2 * KT;                  // MMA steps per tile
    static constexpr int kStepK = 64 / kES;                // logical K per MMA step: 32 or 64
    static constexpr int kTileK = kSteps * kStepK;         // logical K per tile
    static constexpr int kMetaBlocks = kTileK / 64;        // 64-K metadata blocks per tile
    static constexpr int WTN = BN / WARPS_N / 16;          // 16-row MMA tiles per warp
    static constexpr int WTM = BM / WARPS_M / 8;           // 8-column MMA tiles per warp
    static constexpr int kBytesA = BN * kRowBytesA;
    static constexpr int kBytesB = BM * kRowBytesB;
    static constexpr int kBytesE = (BN / 16) * kMetaBlocks * 128;
    static constexpr int kStageBytes = kBytesA + kBytesB + kBytesE;
    static constexpr int kCLd = BN + 4;                    // staged accumulators: row stride (words)
    static constexpr int kSmemBytes = std::max(STAGES * kStageBytes, BM * kCLd * 4);
    static_assert(WTN >= 1 && WTM >= 1 && BN % (16 * WARPS_N) == 0 && BM % (8 * WARPS_M) == 0, "tile shape");
    static_assert(kSparse24RowPad % BN == 0, "the row padding (formats/sparse24_layout.h) must be a multiple of BN");
};

// Swizzled byte offset of 16-byte chunk c of row r in a tile with RB bytes per row. An
// ldmatrix reads one logical chunk of 8 consecutive rows; the XOR puts those 8 reads in
// 8 different 16-byte bank groups. 64-byte rows: pairs of rows share a 128-byte bank
// window, so XOR with (r >> 1); 128 bytes and more: XOR with r. The XOR only touches
// the low 2 or 3 bits of c, so a chunk stays inside its own 64/128-byte group.
template <int RB>
__device__ __forceinline__ uint32_t swz(int r, int c) {
    return RB == 64 ? r * RB + ((c ^ ((r >> 1) & 3)) << 4) : r * RB + ((c ^ (r & 7)) << 4);
}

// Copies K tile `kt` into stage buffers A, B, E (shared addresses) with cp.async.
// Past Kp (the last tile when kTileK does not divide Kp) weight and metadata are
// zero-filled and the compute loop skips those steps; past K the activations are zero.
template <class C>
__device__ __forceinline__ void load_tile(const GemmArgs& a, int64_t n0, int64_t m0, int64_t kt, uint32_t sA,
                                          uint32_t sB, uint32_t sE, int tid) {
    const int64_t ldA = a.Kp / 2 * C::kES, ldB = a.K * C::kES;  // row bytes in global memory
    constexpr int kChunksA = C::kRowBytesA / 16, kChunksB = C::kRowBytesB / 16;
    for (int c = tid; c < C::BN * kChunksA; c += C::kThreads) {
        const int r = c / kChunksA, ch = c % kChunksA;
        const int64_t kb = kt * C::kRowBytesA + ch * 16;
        const bool ok = kb < ldA;
        ptx::cp_async_16(sA + swz<C::kRowBytesA>(r, ch), ok ? a.values + (n0 + r) * ldA + kb : a.values, ok);
    }
    for (int c = tid; c < C::BM * kChunksB; c += C::kThreads) {
        const int r = c / kChunksB, ch = c % kChunksB;
        const int64_t m = m0 + r, kb = kt * C::kRowBytesB + ch * 16;
        const bool ok = m < a.M && kb < ldB;
        ptx::cp_async_16(sB + swz<C::kRowBytesB>(r, ch), ok ? a.x + m * ldB + kb : a.x, ok);
    }
    // Metadata: BN/16 row tiles x kMetaBlocks blocks x 128 bytes, copied as is (a row
    // tile's blocks are consecutive in memory).
    constexpr int kChunksE = C::kBytesE / 16;
    const int64_t blocks_per_row_tile = a.Kp / 64;
    for (int c = tid; c < kChunksE; c += C::kThreads) {
        const int rt = c / (C::kMetaBlocks * 8), b = (c / 8) % C::kMetaBlocks, ch = c & 7;
        const int64_t kblock = kt * C::kMetaBlocks + b;
        const bool ok = kblock < blocks_per_row_tile;
        const int64_t block = (n0 / 16 + rt) * blocks_per_row_tile + kblock;
        ptx::cp_async_16(sE + c * 16, reinterpret_cast<const uint8_t*>(a.meta) + (ok ? block * 128 + ch * 16 : 0), ok);
    }
}

// Split-K state: partial accumulators [S, M, Np] (Acc) and one arrival counter per tile.
struct SplitK {
    int splits;          // S >= 1
    int tiles_per_split; // K tiles per split
    void* partial;       // [S, M, Np] Acc
    int* counters;       // [tiles_m * tiles_n], zero between calls
};

// Shared addresses of stage s's weight (A), activation (B) and metadata (E) buffers.
template <class C>
__device__ __forceinline__ uint32_t stage_a(uint32_t s0, int s) { return s0 + s * C::kStageBytes; }
template <class C>
__device__ __forceinline__ uint32_t stage_b(uint32_t s0, int s) { return s0 + s * C::kStageBytes + C::kBytesA; }
template <class C>
__device__ __forceinline__ uint32_t stage_e(uint32_t s0, int s) {
    return s0 + s * C::kStageBytes + C::kBytesA + C::kBytesB;
}

// Prologue: fill STAGES - 1 stages (one commit group each, empty past the split's tiles).
template <class C>
__device__ __forceinline__ void prologue(const GemmArgs& a, int64_t n0, int64_t m0, int64_t kt_begin, int n_tiles,
                                         uint32_t s0, int tid) {
#pragma unroll
    for (int s = 0; s < C::STAGES - 1; ++s) {
        if (s < n_tiles)
            load_tile<C>(a, n0, m0, kt_begin + s, stage_a<C>(s0, s), stage_b<C>(s0, s), stage_e<C>(s0, s), tid);
        ptx::cp_async_commit();
    }
}

// The first main loop: per K tile, wait + barrier, issue the next tile's copies, then
// for each MMA step load the warp's fragments and multiply. Simple, but every
// fragment load sits right in front of the MMAs that need it.
template <class Op, class C>
__device__ __forceinline__ void mainloop_simple(const GemmArgs& a, typename Op::Acc (&acc)[C::WTN][C::WTM][4], int64_t n0,
                                                int64_t m0, int64_t kt_begin, int n_tiles, uint32_t s0, int tid,
                                                int lane, int wn, int wm) {
    prologue<C>(a, n0, m0, kt_begin, n_tiles, s0, tid);
    // Per-lane ldmatrix row/chunk offsets (see ptx::ldmatrix_x4): A: lanes 0-15 rows 0-15
    // of the first chunk, lanes 16-31 the second; B: lanes 8j..8j+7 rows 0-7 of chunk j.
    const int a_row = wn * C::WTN * 16 + (lane & 15), a_chunk = lane >> 4;
    const int b_row = wm * C::WTM * 8 + (lane & 7), b_chunk = lane >> 3;

    for (int it = 0; it < n_tiles; ++it) {
        ptx::cp_async_wait<C::STAGES - 2>();
        __syncthreads();  // tile `it` visible to all; stage (it - 1) free for reuse
        {
            const int pre = it + C::STAGES - 1;
            const int ps = pre % C::STAGES;
            if (pre < n_tiles)
                load_tile<C>(a, n0, m0, kt_begin + pre, stage_a<C>(s0, ps), stage_b<C>(s0, ps), stage_e<C>(s0, ps), tid);
            ptx::cp_async_commit();
        }
        const int s = it % C::STAGES;
        const uint32_t sA = stage_a<C>(s0, s), sB = stage_b<C>(s0, s), sE = stage_e<C>(s0, s);

        // kSteps MMA steps per tile (16-bit: k32 each, a metadata word serving two
        // steps with selectors 0 and 1; 8-bit: k64 each, one word per step).
        const int64_t k_tile0 = (kt_begin + it) * C::kTileK;
#pragma unroll
        for (int step = 0; step < C::kSteps; ++step) {
            if (k_tile0 + step * C::kStepK >= a.Kp) break;  // partial last tile (uniform)
            uint32_t fa[C::WTN][4], fe[C::WTN];
#pragma unroll
            for (int i = 0; i < C::WTN; ++i) {
                ptx::ldmatrix_x4(fa[i], sA + swz<C::kRowBytesA>(a_row + 16 * i, 2 * step + a_chunk));
                const int blk = C::kEightBit ? step : step / 2;
                fe[i] = ptx::ld_shared_u32(sE + (((wn * C::WTN + i) * C::kMetaBlocks + blk) * 32 + lane) * 4);
            }
            // One B fragment at a time: 4 live registers.
#pragma unroll
            for (int j = 0; j < C::WTM; ++j) {
                uint32_t fb[4];
                ptx::ldmatrix_x4(fb, sB + swz<C::kRowBytesB>(b_row + 8 * j, 4 * step + b_chunk));
#pragma unroll
                for (int i = 0; i < C::WTN; ++i) {
                    if (C::kEightBit || step % 2 == 0) Op::template mma<0>(acc[i][j], fa[i], fb, fe[i]);
                    else Op::template mma<1>(acc[i][j], fa[i], fb, fe[i]);
                }
            }
        }
    }
}

// The software-pipelined main loop (CUTLASS's sm80 multistage order). Fragments are
// double-buffered: while step s multiplies, the A fragments and metadata of step s + 1
// are already loading, and the B fragment of column tile j + 1 (or of the next step's
// j = 0) loads under the MMAs of column tile j. The wait + barrier that makes K tile
// it + 1 visible sits at the start of tile it's LAST step, so the first fragments of
// tile it + 1 load under that step's MMAs. Tile it's stage is still being read after
// that barrier (the last step's B fragments), so the copies issued there (tile
// it + STAGES - 1) go into the stage of tile it - 1, which every warp finished before
// the barrier; STAGES >= 3 keeps it apart from the stages of tiles it and it + 1.
template <class Op, class C>
__device__ __forceinline__ void mainloop_pipelined(const GemmArgs& a, typename Op::Acc (&acc)[C::WTN][C::WTM][4],
                                                   int64_t n0, int64_t m0, int64_t kt_begin, int n_tiles, uint32_t s0,
                                                   int tid, int lane, int wn, int wm) {
    static_assert(C::WTM % 2 == 0 && C::kSteps % 2 == 0, "double buffers alternate by parity across steps and tiles");
    static_assert(C::STAGES >= 3, "the copies at tile it's barrier go into tile it - 1's stage");
    if (n_tiles <= 0) return;
    prologue<C>(a, n0, m0, kt_begin, n_tiles, s0, tid);
    const int a_row = wn * C::WTN * 16 + (lane & 15), a_chunk = lane >> 4;
    const int b_row = wm * C::WTM * 8 + (lane & 7), b_chunk = lane >> 3;
    const uint32_t e_off = ((wn * C::WTN) * C::kMetaBlocks * 32 + lane) * 4;

    uint32_t fa[2][C::WTN][4], fe[2][C::WTN], fb[2][4];
    auto load_a = [&](uint32_t (&dst)[C::WTN][4], uint32_t (&dste)[C::WTN], int stage, int step) {
        const uint32_t sA = stage_a<C>(s0, stage), sE = stage_e<C>(s0, stage);
        const int blk = C::kEightBit ? step : step / 2;
#pragma unroll
        for (int i = 0; i < C::WTN; ++i) {
            ptx::ldmatrix_x4(dst[i], sA + swz<C::kRowBytesA>(a_row + 16 * i, 2 * step + a_chunk));
            dste[i] = ptx::ld_shared_u32(sE + e_off + ((i * C::kMetaBlocks + blk) * 32) * 4);
        }
    };
    auto load_b = [&](uint32_t (&dst)[4], int stage, int step, int j) {
        ptx::ldmatrix_x4(dst, stage_b<C>(s0, stage) + swz<C::kRowBytesB>(b_row + 8 * j, 4 * step + b_chunk));
    };

    ptx::cp_async_wait<C::STAGES - 2>();
    __syncthreads();  // tile 0 visible
    load_a(fa[0], fe[0], 0, 0);
    load_b(fb[0], 0, 0, 0);

    for (int it = 0; it < n_tiles; ++it) {
        const int s = it % C::STAGES, s_next = (it + 1) % C::STAGES;
        const bool has_next = it + 1 < n_tiles;
        const int64_t k_tile0 = (kt_begin + it) * C::kTileK;
#pragma unroll
        for (int step = 0; step < C::kSteps; ++step) {
            const bool last = step == C::kSteps - 1;
            if (last) {
                // Committed so far: tiles 0 .. it + STAGES - 2; tile it + 1 must be done.
                ptx::cp_async_wait<C::STAGES - 3>();
                __syncthreads();  // tile it + 1 visible; tile it - 1's stage read by every warp
                const int pre = it + C::STAGES - 1, ps = pre % C::STAGES;
                if (pre < n_tiles)
                    load_tile<C>(a, n0, m0, kt_begin + pre, stage_a<C>(s0, ps), stage_b<C>(s0, ps), stage_e<C>(s0, ps), tid);
                ptx::cp_async_commit();
            }
            const int cur = step & 1, nxt = cur ^ 1;
            // A and metadata of the next step (the next tile's step 0 after the last).
            if (!last) load_a(fa[nxt], fe[nxt], s, step + 1);
            else if (has_next) load_a(fa[nxt], fe[nxt], s_next, 0);
            const bool valid = k_tile0 + step * C::kStepK < a.Kp;  // partial last tile (uniform)
#pragma unroll
            for (int j = 0; j < C::WTM; ++j) {
                if (j + 1 < C::WTM) load_b(fb[(j + 1) & 1], s, step, j + 1);
                else if (!last) load_b(fb[0], s, step + 1, 0);
                else if (has_next) load_b(fb[0], s_next, 0, 0);
                if (valid) {
#pragma unroll
                    for (int i = 0; i < C::WTN; ++i) {
                        if (C::kEightBit || step % 2 == 0) Op::template mma<0>(acc[i][j], fa[cur][i], fb[j & 1], fe[cur][i]);
                        else Op::template mma<1>(acc[i][j], fa[cur][i], fb[j & 1], fe[cur][i]);
                    }
                }
            }
        }
    }
}

template <class Op, class C>
__global__ void __launch_bounds__(C::kThreads, C::kMinBlocks) gemm_v2_kernel(GemmArgs a, SplitK sk, int tiles_m, int tiles_n) {
    using Acc = typename Op::Acc;
    extern __shared__ __align__(128) uint8_t smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wn = warp / C::WARPS_M, wm = warp % C::WARPS_M;  // warp's position in the block tile

    // Grouped raster: 8 consecutive blocks walk down M before moving along N, so a wave
    // of blocks shares activation and weight tiles in L2.
    constexpr int kGroupM = 8;
    const int pid = blockIdx.x, in_group = kGroupM * tiles_n;
    const int first_m = (pid / in_group) * kGroupM, group_m = min(tiles_m - first_m, kGroupM);
    const int tile_m = first_m + (pid % in_group) % group_m, tile_n = (pid % in_group) / group_m;
    const int64_t n0 = static_cast<int64_t>(tile_n) * C::BN, m0 = static_cast<int64_t>(tile_m) * C::BM;

    const int64_t k_tiles = (a.Kp + C::kTileK - 1) / C::kTileK;
    const int64_t kt_begin = static_cast<int64_t>(blockIdx.z) * sk.tiles_per_split;
    const int64_t kt_end = min(k_tiles, kt_begin + sk.tiles_per_split);
    const int n_tiles = static_cast<int>(kt_end - kt_begin);

    const uint32_t s0 = ptx::smem_addr(smem);

    Acc acc[C::WTN][C::WTM][4];
#pragma unroll
    for (int i = 0; i < C::WTN; ++i)
#pragma unroll
        for (int j = 0; j < C::WTM; ++j)
#pragma unroll
            for (int q = 0; q < 4; ++q) acc[i][j][q] = Acc(0);

    if constexpr (C::kPipe) {
        mainloop_pipelined<Op, C>(a, acc, n0, m0, kt_begin, n_tiles, s0, tid, lane, wn, wm);
    } else {
        mainloop_simple<Op, C>(a, acc, n0, m0, kt_begin, n_tiles, s0, tid, lane, wn, wm);
    }
    ptx::cp_async_wait<0>();
    __syncthreads();  // pipeline buffers are now free: reuse them for the output tile

    // Stage the accumulators as [BM][BN] (token-major, like out). Lane (g, t) of MMA tile
    // (i, j) holds weight rows g, g+8 x tokens 2t, 2t+1.
    Acc* c_s = reinterpret_cast<Acc*>(smem);
    {
        const int g = lane >> 2, t = lane & 3;
#pragma unroll
        for (int i = 0; i < C::WTN; ++i)
#pragma unroll
            for (int j = 0; j < C::WTM; ++j) {
                const int n = wn * C::WTN * 16 + 16 * i + g, m = wm * C::WTM * 8 + 8 * j + 2 * t;
                c_s[m * C::kCLd + n] = acc[i][j][0];
                c_s[(m + 1) * C::kCLd + n] = acc[i][j][1];
                c_s[m * C::kCLd + n + 8] = acc[i][j][2];
                c_s[(m + 1) * C::kCLd + n + 8] = acc[i][j][3];
            }
    }
    __syncthreads();

    // Each thread owns 4 consecutive outputs of one token row per pass.
    constexpr int kQuads = C::BM * C::BN / 4;
    const bool vec_out = (a.N % 4) == 0;
    auto store = [&](int64_t m, int64_t n, const float (&v)[4]) {
        uint16_t o[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) o[u] = n + u < a.N ? epilogue_value(a.ep, v[u], m, n + u) : 0;
        uint16_t* dst = a.out + m * a.N + n;
        if (vec_out && n + 4 <= a.N) {
            *reinterpret_cast<uint2*>(dst) = make_uint2(o[0] | (uint32_t(o[1]) << 16), o[2] | (uint32_t(o[3]) << 16));
        } else {
            for (int u = 0; u < 4; ++u)
                if (n + u < a.N) dst[u] = o[u];
        }
    };

    if (sk.splits == 1) {
        for (int q = tid; q < kQuads; q += C::kThreads) {
            const int ml = q / (C::BN / 4), nl = (q % (C::BN / 4)) * 4;
            const int64_t m = m0 + ml, n = n0 + nl;
            if (m >= a.M || n >= a.N) continue;
            float v[4];
#pragma unroll
            for (int u = 0; u < 4; ++u) v[u] = acc_to_float(c_s[ml * C::kCLd + nl + u]);
            store(m, n, v);
        }
        return;
    }

    // Split-K: write this split's partial, then the last split of the tile reduces.
    Acc* part = static_cast<Acc*>(sk.partial);
    for (int q = tid; q < kQuads; q += C::kThreads) {
        const int ml = q / (C::BN / 4), nl = (q % (C::BN / 4)) * 4;
        const int64_t m = m0 + ml, n = n0 + nl;
        if (m >= a.M) continue;
        Acc* dst = part + (blockIdx.z * a.M + m) * a.Np + n;
#pragma unroll
        for (int u = 0; u < 4; ++u) dst[u] = c_s[ml * C::kCLd + nl + u];
    }
    __threadfence();  // partials visible device-wide before the arrival is counted
    __syncthreads();
    __shared__ int last;
    int* counter = sk.counters + tile_m * tiles_n + tile_n;
    if (tid == 0) last = atomicAdd(counter, 1) == sk.splits - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    for (int q = tid; q < kQuads; q += C::kThreads) {
        const int ml = q / (C::BN / 4), nl = (q % (C::BN / 4)) * 4;
        const int64_t m = m0 + ml, n = n0 + nl;
        if (m >= a.M || n >= a.N) continue;
        Acc sum[4] = {0, 0, 0, 0};
        for (int z = 0; z < sk.splits; ++z) {  // fixed order: deterministic
            const Acc* src = part + (z * a.M + m) * a.Np + n;
#pragma unroll
            for (int u = 0; u < 4; ++u) sum[u] += __ldcg(src + u);
        }
        float v[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) v[u] = acc_to_float(sum[u]);
        store(m, n, v);
    }
    if (tid == 0) *counter = 0;  // ready for the next call
}

// ---- launchers --------------------------------------------------------------------

// Split-K workspace, grown on demand and kept (one per process; calls on one stream).
struct Workspace {
    Tensor partial, counters;
};
Workspace& workspace() {
    static Workspace w;
    return w;
}
void* partial_buffer(size_t bytes) {
    Workspace& w = workspace();
    if (!w.partial.defined() || w.partial.nbytes() < bytes)
        w.partial = device_empty(DType::U8, {static_cast<int64_t>(bytes)});
    return w.partial.raw();
}
int* counter_buffer(int64_t n) {
    Workspace& w = workspace();
    if (!w.counters.defined() || w.counters.numel() < n) w.counters = device_zeros(DType::I32, {n});
    return static_cast<int*>(w.counters.raw());
}

// Blocks of this configuration that fit on one SM (registers, shared memory, threads).
template <class Op, class C>
int resident_blocks_per_sm() {
    static int n = 0;
    if (n == 0) {
        CUDA_CHECK(cudaFuncSetAttribute(gemm_v2_kernel<Op, C>, cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes));
        CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, gemm_v2_kernel<Op, C>, C::kThreads, C::kSmemBytes));
        n = std::max(n, 1);
    }
    return n;
}

// Launches one configuration. Split-K only when the output tiles fill less than half
// of the resident block slots: then as many splits as fit in ONE wave of resident
// blocks (a second, nearly empty wave would double the time), >= 4 K tiles per split
// (a minimum of 2 or 1 measured no faster on the H100's decode shapes, docs/sparse24.md).
template <class Op, class C>
void launch_v2(const GemmArgs& a) {
    const int tiles_n = static_cast<int>(a.Np / C::BN), tiles_m = static_cast<int>((a.M + C::BM - 1) / C::BM);
    const int tiles = tiles_n * tiles_m;
    const int64_t k_tiles = (a.Kp + C::kTileK - 1) / C::kTileK;
    const int slots = resident_blocks_per_sm<Op, C>() * device_sm_count();
    int splits = 1;
    if (2 * tiles <= slots) splits = static_cast<int>(std::min<int64_t>({slots / tiles, std::max<int64_t>(1, k_tiles / 4), 32}));
    SplitK sk{};
    sk.tiles_per_split = static_cast<int>((k_tiles + splits - 1) / splits);
    sk.splits = static_cast<int>((k_tiles + sk.tiles_per_split - 1) / sk.tiles_per_split);
    if (sk.splits > 1) {
        sk.partial = partial_buffer(static_cast<size_t>(sk.splits) * a.M * a.Np * sizeof(typename Op::Acc));
        sk.counters = counter_buffer(tiles);
    }
    dim3 grid(tiles, 1, sk.splits);
    gemm_v2_kernel<Op, C><<<grid, C::kThreads, C::kSmemBytes>>>(a, sk, tiles_m, tiles_n);
    CUDA_CHECK_LAUNCH();
}

// The tile shapes. Decode (M <= 16): 64 weight rows x 16 tokens, 4 warps, deep pipeline,
// split-K to fill the GPU. Medium: 128 x 64, 4 warps of 64 x 32, several blocks per SM.
// Large: 128 x 256, 8 warps of 64 x 64.
template <class Op> using Small = V2Config<Op, 64, 16, 4, 1, 6>;
template <class Op> using SmallKT4 = V2Config<Op, 64, 16, 4, 1, 4, 4>;
template <class Op> using Medium = V2Config<Op, 128, 64, 2, 2, 4, 1, 3>;
template <class Op> using Square = V2Config<Op, 128, 128, 2, 2, 4, 1, 2>;
template <class Op> using Square16 = V2Config<Op, 128, 128, 2, 4, 4, 1, 2>;
template <class Op> using Wide16 = V2Config<Op, 128, 256, 2, 8, 4, 1, 1>;
template <class Op> using Large = V2Config<Op, 128, 256, 2, 4, 4>;
// The same shapes with the software-pipelined main loop.
template <class Op> using SmallKT4P = V2Config<Op, 64, 16, 4, 1, 4, 4, 1, true>;
template <class Op> using MediumP = V2Config<Op, 128, 64, 2, 2, 4, 1, 3, true>;
template <class Op> using SquareP = V2Config<Op, 128, 128, 2, 2, 4, 1, 2, true>;
template <class Op> using LargeP = V2Config<Op, 128, 256, 2, 4, 4, 1, 1, true>;

// Testing and tuning override: CTK_SPARSE24_TILE = small | smallkt4 | medium | square |
// square16 | wide16 | large forces one tile shape for every call (the GPU tests run each
// shape through the awkward-size and real-valued cases this way; docs/sparse24.md lists
// what each measured). Unset: the choice below.
const char* forced_tile() {
    static const char* v = std::getenv("CTK_SPARSE24_TILE");
    return v;
}

template <class Op>
void gemm_v2(const GemmArgs& a) {
    if (const char* f = forced_tile()) {
        const std::string t = f;
        if (t == "small") return launch_v2<Op, Small<Op>>(a);
        if (t == "smallkt4") return launch_v2<Op, SmallKT4<Op>>(a);
        if (t == "medium") return launch_v2<Op, Medium<Op>>(a);
        if (t == "square") return launch_v2<Op, Square<Op>>(a);
        if (t == "square16") return launch_v2<Op, Square16<Op>>(a);
        if (t == "wide16") return launch_v2<Op, Wide16<Op>>(a);
        if (t == "large") return launch_v2<Op, Large<Op>>(a);
        if (t == "smallkt4p") return launch_v2<Op, SmallKT4P<Op>>(a);
        if (t == "mediump") return launch_v2<Op, MediumP<Op>>(a);
        if (t == "squarep") return launch_v2<Op, SquareP<Op>>(a);
        if (t == "largep") return launch_v2<Op, LargeP<Op>>(a);
    }
    const int64_t tiles_large = (a.Np / 128) * ((a.M + 255) / 256);
    // Decode: the pipelined main loop measured 4-7 % faster (docs/sparse24.md 2.3.1); at
    // larger M it measured 1-13 % slower than the simple loop, which stays there.
    if (a.M <= 16) launch_v2<Op, SmallKT4P<Op>>(a);
    else if (a.M <= 128 || tiles_large * 4 < 3 * device_sm_count()) launch_v2<Op, Medium<Op>>(a);
    else launch_v2<Op, Large<Op>>(a);
}
// fp8 mma.sp is emulated on sm_90 (an F2FP unpack and two HMMA.SP per instruction):
// the larger tiles spill the emulation to local memory, so fp8 uses the decode tile.
template <>
void gemm_v2<OpE4M3>(const GemmArgs& a) {
    launch_v2<OpE4M3, Small<OpE4M3>>(a);
}

template <class Op>
void gemm_v1(const GemmArgs& a) {
    dim3 block(kV1Tile, kV1Tile);
    dim3 grid(static_cast<unsigned>((a.N + kV1Tile - 1) / kV1Tile), static_cast<unsigned>((a.M + kV1Tile - 1) / kV1Tile));
    gemm_v1_kernel<Op><<<grid, block>>>(a);
    CUDA_CHECK_LAUNCH();
}

template <class Op>
void dispatch(const GemmArgs& a, int version) {
    if (version == 1) gemm_v1<Op>(a);
    else gemm_v2<Op>(a);
}

// An optional f32 scale with 1 or `n` elements (nullptr when undefined = 1).
}  // namespace

void sparse24_gemm_into(Tensor& out, const Tensor& x, const Sparse24KernelWeight& w, const Tensor& x_scale,
                        const Tensor& w_scale, const Tensor& bias, int version) {
    const char* op = "sparse24_gemm";
    CTK_CHECK(version >= 0 && version <= 3, op, ": version: expected 0 (best), 1, 2 or 3, found ", version);
    // v3 (cuda/sparse24_gemm_sm90.cu, wgmma.sp) is the best rung on sm_90 (an sm_90a
    // build): the default there; v2 stays the default on sm_80 - sm_89. Both read x in
    // 16-byte rows (TMA, cp.async): a layer whose K rows are not (K % 8 for 16-bit, K % 16
    // for 8-bit), or an x that is not 16-byte aligned, runs on v1, which takes any K % 4.
    const bool rows16 = x.defined() && x.ndim() == 2 && (x.shape[1] * dtype_size(x.dtype)) % 16 == 0 &&
                        reinterpret_cast<uintptr_t>(x.raw()) % 16 == 0;
    // A weight in v3's tiled layout (sparse24_tile_for_v3) runs on v3 whatever x's
    // alignment: an x whose base is not 16-byte aligned is copied to a fresh buffer (the
    // tiling already required 16-byte rows).
    CTK_CHECK(!w.v3_tiled || version == 0 || version == 3, op, ": w is in v3's tiled layout (sparse24_tile_for_v3);",
              " version ", version, " reads the row-major kernel layout");
    if (version == 3 || w.v3_tiled || (version == 0 && rows16 && sparse24_v3_available())) {
        CTK_CHECK(w.values.defined() && w.meta.defined(), op, ": w: expected a compressed weight (values and meta)");
        CTK_CHECK(x.defined() && x.dtype == w.dtype, op, ": x: expected dtype ", dtype_name(w.dtype),
                  " (the weight's), found ", x.defined() ? dtype_name(x.dtype) : "undefined");
        Sparse24V3Options opt;
        opt.tiled_weight = w.v3_tiled ? 1 : 0;
        Tensor xa = x;
        if (w.v3_tiled && x.device == Device::CUDA && reinterpret_cast<uintptr_t>(x.raw()) % 16 != 0) {
            xa = device_empty(x.dtype, x.shape);
            CUDA_CHECK(cudaMemcpy(xa.raw(), x.raw(), x.nbytes(), cudaMemcpyDeviceToDevice));
        }
        sparse24_gemm_v3_into(out, xa, w.values, w.meta, w.N, w.K, x_scale, w_scale, bias, opt);
        return;
    }
    CTK_CHECK(w.dtype == DType::F16 || w.dtype == DType::BF16 || w.dtype == DType::I8 || w.dtype == DType::F8E4M3, op,
              ": w: expected dtype f16, bf16, i8 or f8e4m3, found ", dtype_name(w.dtype));
    CTK_CHECK(w.N >= 1 && w.K >= 4 && w.K % 4 == 0, op, ": w: bad sizes N = ", w.N, ", K = ", w.K);
    const int64_t Np = sparse24_padded_rows(w.N), Kp = sparse24_padded_k(w.K);
    CTK_CHECK(w.values.device == Device::CUDA && w.meta.device == Device::CUDA, op, ": w: expected device tensors");
    expect_shape(w.values, {Np, Kp / 2}, cat(op, ": w.values"));
    expect_dtype(w.values, w.dtype, cat(op, ": w.values"));
    expect_shape(w.meta, {Np / 16, Kp / 64, 32}, cat(op, ": w.meta"));
    expect_dtype(w.meta, DType::I32, cat(op, ": w.meta"));

    CTK_CHECK(x.defined() && x.device == Device::CUDA && x.ndim() == 2, op, ": x: expected a 2-D device tensor [M, K], found ",
              x.defined() ? x.describe() : std::string("undefined"));
    CTK_CHECK(x.dtype == w.dtype, op, ": x: expected dtype ", dtype_name(w.dtype), " (the weight's), found ", dtype_name(x.dtype));
    const int64_t M = x.shape[0], K = x.shape[1];
    CTK_CHECK(M >= 1, op, ": x: expected M >= 1 rows, found ", shape_str(x.shape));
    CTK_CHECK(K == w.K, op, ": x: expected K = ", w.K, " columns (the weight's K), found ", shape_str(x.shape));
    // The reference's and v3's limit (|x * w| <= 2^14 for i8): the mma's int32 sum has no
    // saturation, so a longer K could wrap silently.
    CTK_CHECK(x.dtype != DType::I8 || K < (int64_t{1} << 17), op, ": x: K = ", K,
              " is too large for int32 accumulation of i8 products (K < 131072)");
    const size_t es = dtype_size(x.dtype);
    const int v = version == 0 ? (rows16 ? 2 : 1) : version;
    if (v == 2) {
        CTK_CHECK((K * es) % 16 == 0 && reinterpret_cast<uintptr_t>(x.raw()) % 16 == 0, op,
                  ": v2 reads x in 16-byte chunks: expected K * ", es, " bytes % 16 == 0 (K % ", 16 / es,
                  " == 0) and a 16-byte aligned x, found K = ", K);
    }

    CTK_CHECK(out.defined() && out.device == Device::CUDA && (out.dtype == DType::F16 || out.dtype == DType::BF16), op,
              ": out: expected a device f16 or bf16 tensor, found ", out.defined() ? out.describe() : std::string("undefined"));
    expect_shape(out, {M, w.N}, cat(op, ": out"));

    GemmArgs a{};
    a.x = static_cast<const uint8_t*>(x.raw());
    a.values = static_cast<const uint8_t*>(w.values.raw());
    a.meta = reinterpret_cast<const uint32_t*>(w.meta.raw());
    a.out = static_cast<uint16_t*>(out.raw());
    a.M = M, a.N = w.N, a.K = K, a.Np = Np, a.Kp = Kp;
    check_epilogue_args(op, Device::CUDA, M, w.N, x_scale, w_scale, bias, out.dtype);
    a.ep.xs = x_scale.defined() ? static_cast<const float*>(x_scale.raw()) : nullptr;
    a.ep.ws = w_scale.defined() ? static_cast<const float*>(w_scale.raw()) : nullptr;
    a.ep.xs_vec = a.ep.xs && x_scale.numel() > 1;  // [M] with M == 1 is the scalar case
    a.ep.ws_vec = a.ep.ws && w_scale.numel() > 1;
    a.ep.out_bf16 = out.dtype == DType::BF16;
    if (bias.defined()) a.ep.bias = static_cast<const uint16_t*>(bias.raw());

    switch (w.dtype) {
        case DType::F16: dispatch<OpF16>(a, v); break;
        case DType::BF16: dispatch<OpBF16>(a, v); break;
        case DType::I8: dispatch<OpI8>(a, v); break;
        default: dispatch<OpE4M3>(a, v); break;
    }
}

Tensor sparse24_gemm(const Tensor& x, const Sparse24KernelWeight& w, const Tensor& x_scale, const Tensor& w_scale,
                     const Tensor& bias, DType out_dtype, int version) {
    CTK_CHECK(out_dtype == DType::F16 || out_dtype == DType::BF16, "sparse24_gemm: out_dtype: expected f16 or bf16, found ",
              dtype_name(out_dtype));
    CTK_CHECK(x.defined() && x.ndim() == 2, "sparse24_gemm: x: expected a 2-D tensor [M, K], found ",
              x.defined() ? x.describe() : std::string("undefined"));
    Tensor out = device_empty(out_dtype, {x.shape[0], w.N});
    sparse24_gemm_into(out, x, w, x_scale, w_scale, bias, version);
    return out;
}

}  // namespace ctk::cuda
