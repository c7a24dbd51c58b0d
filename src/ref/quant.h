// CPU reference for activation quantization: the bit-exact semantics of vLLM's CUDA
// kernels (docs/quant.md; shared/reference/sparse24-and-quant.md 4.2-4.4).
//
// x: [M, H] f32, f16 or bf16 (read as fp32, exactly), M >= 0, H >= 1. Codes [M, H] i8 or
// f8e4m3; scales f32 [M, 1] per token or [1] per tensor; azp i32 of the same shape as
// the scale. All rounding is round-half-to-even with saturation. Every fp32 operation
// below is one IEEE operation rounded once (no fused multiply-add; the order written
// is the order computed), so the CUDA kernels reproduce every code and scale bit for bit.
//
// Rounding helpers used below:
//   rne(v)   round to the nearest integer, ties to even
//   sat8(v)  clamp to [-128, 127]; sat32(v) clamp to [-2^31, 2^31-1]
//   int conversions of NaN give 0 (what PTX cvt.rni.sat.{s8,s32}.f32 does)
//   e4m3(clamp(v))  clamp to [-448, 448] keeping NaN, then RNE to e4m3 (NaN -> 0x7F)
//
// Static scales must be positive, finite and normal (>= FLT_MIN, so 1/s is finite);
// anything else is a ctk::Error naming `scale` and the value. Bad x (rank, dtype, H = 0)
// is a ctk::Error naming `x`.
//
// NaN/Inf contract (inputs are never rejected for NaN/Inf; the GPU matches bit for bit):
//  - max reductions use fmaxf/fminf semantics: a NaN element is ignored by amax, min
//    and max. amax starts at 0, so a row of NaNs has amax 0. The azp min/max start at
//    +FLT_MAX / -FLT_MAX (vLLM's MinMax), so a row of NaNs gives min FLT_MAX, max -FLT_MAX.
//  - int8 code of a NaN element is 0 (plus azp for the asymmetric variants).
//  - fp8 code of a NaN element is 0x7F (NaN). vLLM's fminf/fmaxf clamp would give 448;
//    we keep the NaN so a bad activation stays visible.
//  - +-Inf elements: in static variants they saturate (int8 +-127/-128, fp8 +-448).
//    In dynamic variants an Inf makes amax Inf, so the scale is Inf (int8 dynamic,
//    fp8 per-token without scale_ub, fp8 per-tensor) and 1/s or x/s becomes 0: finite
//    elements get code 0, Inf elements get NaN/s -> int8 0, fp8 0x7F.
// Deviations from vLLM (documented in docs/quant.md): the azp add is exact (vLLM's int32
// add can wrap when rne32 saturates); fp8 NaN stays NaN; fp8 per-tensor with amax 0
// gives codes 0 (vLLM: 0 * (1/0) = NaN, clamped to 448).
#pragma once
#include "core/tensor.h"

namespace ctk::ref {

struct QuantResult {
    Tensor q;      // [M, H] i8 or f8e4m3
    Tensor scale;  // [M, 1] (per token) or [1] (per tensor), f32
    Tensor azp;    // asymmetric only: same shape as scale, i32; undefined otherwise
};

// int8 static per-tensor: q = sat8(rne(x / s)), a true division. scale [1] = s.
QuantResult quant_int8_static(const Tensor& x, float scale);
// int8 static asymmetric: q = sat8(sat32(rne(x * (1/s))) + azp), the add exact (int64).
QuantResult quant_int8_static_azp(const Tensor& x, float scale, int32_t azp);
// int8 dynamic per token: amax = max|x| of the row, s = amax/127 (no epsilon),
// inv = amax == 0 ? 0 : 127/amax, q = sat8(rne(x * inv)); amax 0 -> s 0, q 0.
QuantResult quant_int8_dynamic_per_token(const Tensor& x);
// int8 dynamic asymmetric per token: s = (max-min)/255, azp = sat32(rne(-128 - min/s))
// (NaN -> 0), q = sat8(sat32(rne(x * (1/s))) + azp); a zero s is stored as +0 (fmin/fmax
// may pick either signed zero). A constant row has s = 0 and then
// follows the IEEE arithmetic as vLLM does (zero row: azp 0, q 0; see docs/quant.md).
QuantResult quant_int8_dynamic_per_token_azp(const Tensor& x);
// fp8 static per-tensor: q = e4m3(clamp(x * (1/s))). scale [1] = s.
QuantResult quant_fp8_static(const Tensor& x, float scale);
// fp8 dynamic per token: s = max(min(amax, ub)/448, 1/(448*512)), q = e4m3(clamp(x / s)),
// a true division. scale_ub <= 0 means no upper bound; otherwise it must be finite.
QuantResult quant_fp8_dynamic_per_token(const Tensor& x, float scale_ub = 0.0f);
// fp8 dynamic per tensor: s = amax/448 over the whole tensor (no floor),
// inv = s == 0 ? 0 : 1/s, q = e4m3(clamp(x * inv)). scale [1].
QuantResult quant_fp8_dynamic_per_tensor(const Tensor& x);

// The 1/(448*512) floor of the fp8 per-token scale (vLLM's min_scaling_factor), in fp32.
constexpr float kFp8MinScale = 1.0f / (448.0f * 512.0f);

}  // namespace ctk::ref
