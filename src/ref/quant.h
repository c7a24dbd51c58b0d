// CPU reference for activation quantization: the bit-exact semantics of vLLM's CUDA
// kernels (docs/quant.md; shared/reference/sparse24-and-quant.md 4.2-4.4).
//
// x: [M, H] f32, f16 or bf16 (read as fp32). Codes [M, H] i8 or f8e4m3; scales f32
// [M, 1] per token or [1] per tensor; azp i32 of the same shape as the scale.
// All rounding is round-half-to-even with saturation.
#pragma once
#include "core/tensor.h"

namespace ctk::ref {

struct QuantResult {
    Tensor q;      // [M, H] i8 or f8e4m3
    Tensor scale;  // [M, 1] (per token) or [1] (per tensor), f32
    Tensor azp;    // asymmetric only: same shape as scale, i32; undefined otherwise
};

// int8 static per-tensor: q = sat8(rne(x / s)). s must be positive and finite.
QuantResult quant_int8_static(const Tensor& x, float scale);
// int8 static asymmetric: q = sat8(sat32(rne(x * (1/s))) + azp).
QuantResult quant_int8_static_azp(const Tensor& x, float scale, int32_t azp);
// int8 dynamic per token: s = amax/127, q = sat8(rne(x * (127/amax))); amax 0 -> s 0, q 0.
QuantResult quant_int8_dynamic_per_token(const Tensor& x);
// int8 dynamic asymmetric per token: s = (max-min)/255, azp = rne(-128 - min/s),
// q = sat8(sat32(rne(x * (1/s))) + azp).
QuantResult quant_int8_dynamic_per_token_azp(const Tensor& x);
// fp8 static per-tensor: q = e4m3(clamp(x * (1/s))).
QuantResult quant_fp8_static(const Tensor& x, float scale);
// fp8 dynamic per token: s = max(min(amax, ub)/448, 1/(448*512)), q = e4m3(clamp(x / s)).
// scale_ub <= 0 means no upper bound.
QuantResult quant_fp8_dynamic_per_token(const Tensor& x, float scale_ub = 0.0f);
// fp8 dynamic per tensor: s = amax/448 over the whole tensor (no floor), q = e4m3(clamp(x * (1/s))).
QuantResult quant_fp8_dynamic_per_tensor(const Tensor& x);

}  // namespace ctk::ref
