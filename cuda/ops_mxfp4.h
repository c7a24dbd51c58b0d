// Launchers of the mxfp4 kernels (part of cuda/ops.h; include that instead).
//
// MXFP4 W4A16 linear: out[M, N] = x[M, K] @ dequant(W)^T (+ bias), W given in the
// compressed-tensors layout (weight_packed [N, K/2] u8, weight_scale [N, K/32] u8 E8M0).
//
//   Mxfp4KernelWeight w = mxfp4_repack(packed_dev, scales_dev, DType::BF16);  // once, at load
//   Tensor out = mxfp4_gemm(x_dev, w, bias_dev);                              // every call
//
// mxfp4_repack is vLLM's process_weights_after_loading: it reorders the codes and scales
// into the tile layout the kernels read (ref/mxfp4_repack.h, the CPU twin), finds the
// range of scale codes the layer uses, and decides how the kernels that fold the scale
// into a 16-bit weight (v1, v3) keep it exact (see Mxfp4KernelWeight::fold_shift).
#pragma once
#include <functional>
#include <string>

#include "core/tensor.h"

namespace ctk::cuda {

struct Mxfp4KernelWeight {
    int64_t N = 0, K = 0;   // logical W shape
    int64_t n_tiles = 0;    // ceil(N / 16)
    int64_t k_chunks = 0;   // ceil(K / 64)
    DType act_dtype = DType::BF16;  // activations and output: bf16 or f16
    Tensor words;           // [n_tiles, k_chunks, 32, 4] i32, device (ref/mxfp4_repack.h)
    Tensor scale_words;     // [n_tiles, k_chunks, 8] i32, device

    // Scale codes the layer uses, code 255 (NaN blocks) and the codes of blocks of only
    // +-0 weights (mxfp4_block_is_zero) left out; min > max if no block is left.
    int min_code = 255, max_code = -1;
    int64_t nan_blocks = 0;

    // v1 and v3 dequantize to a 16-bit weight w' = e2m1 * 2^(code - 127 - fold_shift)
    // and multiply the fp32 accumulator by 2^fold_shift: exact as long as every w' is
    // a 16-bit number and the fp32 products keep clear of under/overflow (see
    // mxfp4_fold_plan for the exponent window). foldable says such a shift exists for
    // [min_code, max_code]; if not, fold_error says why, v1 and v3 refuse the layer and
    // the default (version 0) uses v2, which applies the scale to fp32 partial sums and
    // takes any code.
    bool foldable = true;
    int fold_shift = 0;
    std::string fold_error;
};

// The fold plan for a range of scale codes (exposed for tests). The folded exponent
// e = code - 127 - shift must satisfy, for every finite code of the layer:
//   e <= 1:     v3 turns a bit-placed E2M1 pair (e2m1 * 2^-126 in bf16, * 2^-14 in f16)
//               into e2m1 * 2^e with ONE multiply by 2^(126 + e) / 2^(14 + e), which must
//               itself be a 16-bit number (2^127 / 2^15 at most);
//   e >= -23 (f16): 0.5 * 2^e stays an exact f16 value (2^-24 is the smallest subnormal);
//   e >= -100 (bf16): keeps the fp32 products with activations away from the subnormals.
// So a layer folds when its codes span at most 24 (f16) or 101 (bf16) binades; the shift
// closest to 0 is picked (0 for every layer whose codes lie in 104..128 (f16) / 27..128).
struct Mxfp4FoldPlan {
    bool foldable = true;
    int shift = 0;
    std::string error;
};
Mxfp4FoldPlan mxfp4_fold_plan(int min_code, int max_code, DType act_dtype);

// packed_dev: [N, K/2] u8, scales_dev: [N, K/32] u8, both on the device; K % 32 == 0.
// Throws when a weight's value does not fit fp32/bf16 (|e2m1| * 2^(code-127) >= 2^128:
// code 254 with |e2m1| >= 2, code 253 with |e2m1| >= 4), naming row, block and codes.
Mxfp4KernelWeight mxfp4_repack(const Tensor& packed_dev, const Tensor& scales_dev, DType act_dtype);

// x_dev: [M, K] act_dtype, M >= 1; bias_dev: [N] act_dtype or undefined. Returns
// [M, N] act_dtype on the device. version: 0 = the best rung for this M (see
// mxfp4_gemm_best_version), 1..7 = that rung (all but v2 throw for a layer that is not
// foldable; v3, v4, v6 and v7 need an sm_90a build on an sm_90 device). v5
// (cuda/mxfp4_gemv.cu) is the gemv-style decode rung for small M; v6
// (cuda/mxfp4_gemm_sm90.cu) is v4 with the dequantization in the consumers' registers; v7
// (cuda/mxfp4_decode_bulk.cu) is decode with the weight streamed by bulk copies into a
// shared-memory ring (tested; slower than v5, so version 0 does not take it).
Tensor mxfp4_gemm(const Tensor& x_dev, const Mxfp4KernelWeight& w, const Tensor& bias_dev, int version = 0);
// The same into a caller's out [M, N] act_dtype device tensor (tests poison it first).
void mxfp4_gemm_out(Tensor& out, const Tensor& x_dev, const Mxfp4KernelWeight& w, const Tensor& bias_dev,
                    int version = 0);

// Which rung version 0 runs for M rows (measured on the H100, docs/mxfp4.md 6), if the
// layer folds: v5 where mxfp4_v5_takes(M); v2 for the other M up to kMxfp4V2MaxM; above,
// on a device that runs wgmma, v6. A layer that does not fold, or a device without wgmma:
// v2 for every M.
//
// v5 against v2 (H100, 2026-12-06, four LLM shapes): v5 was as fast or faster at M = 1
// and 16 and everywhere on 4096x4096, but 2-12 % slower at M = 2..8 on the large shapes,
// so version 0 took v2 there. After v5's fifth round (k16-step-outer MMAs, guard-free
// batches, 5 warps per CTA on 14336x4096; H100, 2026-12-07) v5 was faster than v2 at every
// M from 1 to 16 on all four shapes, bf16 and f16 (4x14336x4096: 19.6 against 22.0 us in
// the same run), and version 0 runs v5 for every M up to 16 (docs/mxfp4.md, v5 fifth round).
// v6 against v3 and v4 (H100, 2026-12-07, `ctk bench mxfp4 prefill`, four LLM shapes, M 64,
// 128, 256, 1024, 4096): faster than both on every case, 1.3-2.5x v3 and 1.3-1.6x v4; at
// M = 4096 0.87-0.94x cuBLAS bf16 (v4 0.65-0.67x, v3 0.50-0.51x). Its gpu tests passed the
// same day. From 17 rows: v6 runs one 64-row x tile for any M <= 64 (the loads and MMAs of
// M = 64: 31.9 us at 14336x4096, 1.43x cuBLAS, without split-K), while v2 above 16 rows
// streams W once per 16-row slice (32 x 14336 x 4096: 56 us, 2026-12-06). Not timed at
// 17..32 rows yet: `ctk bench mxfp4` times v2 and v6 there.
constexpr bool mxfp4_v5_takes(int64_t M) { return M >= 1 && M <= 16; }
constexpr int64_t kMxfp4V2MaxM = 16;
int mxfp4_gemm_best_version(int64_t M, const Mxfp4KernelWeight& w);

// Tests: caps v4's persistent grid at max_ctas CTAs (0 = one per SM), so that small
// problems also run several tiles per CTA through the ring.
void mxfp4_gemm_v4_limit_ctas(int max_ctas);
// Tests: caps v7's persistent grid at max_ctas CTAs (0 = one per SM), so that every CTA
// runs many tiles and its segment ring wraps several times whatever the SM count.
void mxfp4_gemm_v7_limit_ctas(int max_ctas);
// Tests and tuning: v7 uses only the first `slots` of its 12 ring slots (0 = all): fewer
// bytes in flight per SM, and a ring that wraps sooner.
void mxfp4_gemm_v7_ring_slots(int slots);
// Tests: forces v5's work shape (tiles per CTA, chunks per batch, batches in flight, x
// loaded with the weights or not; the list is in cuda/mxfp4_gemv.cu) to one of the
// kMxfp4V5WorkShapes (-1: the default, or CTK_MXFP4_V5_SHAPE when set).
constexpr int kMxfp4V5WorkShapes = 11;
void mxfp4_gemm_v5_work_shape(int shape);
// v5's K split: warps per CTA. The most warps (max_warps down to 2, any count) that leave
// each warp at least one ring of chunks (k_chunks >= kw * ring_chunks) and still put every
// CTA on the GPU at once (n_ctas <= per_sm[kw] * sms, per_sm[kw] = resident CTAs of kw
// warps per SM from the occupancy calculator), else 1. Host-only and pure so the CPU tests
// can check it (cuda/mxfp4_gemv.cu calls it; CTK_MXFP4_V5_WARPS overrides it there). Any
// count, not only powers of two: 1x14336x4096 (448 CTAs at 96 registers) gets 5 warps, not
// 4, which was 4-8 % faster at M = 1 and 4 (H100, 2026-12-07); 6 and 8 warps no longer fit
// every CTA at once and were slower.
inline int mxfp4_v5_warps_rule(const int* per_sm, int max_warps, int n_ctas, int k_chunks, int ring_chunks,
                               int sms) {
    for (int kw = max_warps; kw > 1; --kw) {
        if (k_chunks < kw * ring_chunks) continue;
        if (per_sm[kw] >= 1 && n_ctas <= per_sm[kw] * sms) return kw;
    }
    return 1;
}
// v5's work shape (cuda/mxfp4_gemv.cu lists them) for a 16-row slice of `rows` rows over
// n_tiles 16-row weight tiles: shape 2 (4 tiles per CTA, one chunk per batch) for slices
// of 9..16 rows when the CTAs of 4 tiles still cover at least 3/4 of the SMs, else shape 0
// (2 tiles, 2 chunks). Why: with two 8-row blocks of x a lane loads 16 x words per chunk
// against 2 weight words, and every CTA reads all of x (16 x K x 2 bytes) from L2; 4 tiles
// per CTA halve that traffic per weight byte but also halve the CTAs. Measured on the H100
// (2026-12-07, bf16 sliced words, `ctk bench mxfp4 decode v5 0 2 4 7 9`, M = 16, us, shape
// 0 -> 2): 14336x4096 27.5 -> 23.5 (224 CTAs), 8192x8192 28.1 -> 25.1 (128 CTAs),
// 4096x4096 13.7 -> 14.2 and 4096x14336 27.9 -> 33.1 (64 CTAs); at M = 1 and 4 shape 2 is
// never faster. Host-only and pure so the CPU tests can check it.
inline int mxfp4_v5_shape_rule(int64_t rows, int64_t n_tiles, int sms) {
    return rows > 8 && 4 * ((n_tiles + 3) / 4) >= 3 * int64_t{sms} ? 2 : 0;
}
// Tests: forces v4's x tile (the wgmma N) to 64, 128 or 256 rows (0 = chosen by M).
void mxfp4_gemm_v4_force_tile(int bx);
// Split-K in v4 and v6 (each output tile's k chunks cut into contiguous ranges, partial
// tiles added in split order by the last range to finish): kMxfp4V4SplitK turns on the
// rule that picks the count (enough ranges to fill the SMs once, for layers with few output
// tiles). Tested and measured on the H100 on 2026-12-07: v6 at 64 x 4096 x 14336 (32 output
// tiles) 91.5 us unsplit, 52.6 us with 2 splits, 32.8 us with 4 (the rule's count), i.e.
// 0.52x -> 1.46x cuBLAS; at 256 rows 0.42x -> 1.08x.
constexpr bool kMxfp4V4SplitK = true;
// Tests: forces v4/v6's split count (capped at the k chunks; 0 = the rule above).
void mxfp4_gemm_v4_force_splits(int splits);

}  // namespace ctk::cuda
