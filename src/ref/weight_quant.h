// compressed-tensors' round-to-nearest 8-bit weight quantization, operation by
// operation, so `ctk compress` writes the bytes llm-compressor writes for a W8A8
// checkpoint (QuantizationModifier, symmetric static weights, minmax observer).
//
// compressed-tensors computes in the weight's own dtype (bf16 for a bf16 model): each
// torch op works in fp32 and rounds its result to that dtype (round_w below; exact for f32):
//   amax  = max |w| over a row (channel) or the whole tensor      exact
//   scale = round_w(amax / qh), or eps of w's dtype if that is 0     qh = 127.5 (int8: (127 - -128) / 2)
//                                                                       448   (fp8:  (448 - -448) / 2)
//   v     = round_w(w / scale) + 0                                 (+0 turns -0 into +0)
//   q     = int8: rne(clamp(v, -128, 127))    fp8: e4m3(clamp(v, -448, 448))
// The scale is stored in the weight's dtype: [N, 1] per channel, [1] per tensor.
// Note qh = 127.5 for int8 (not vLLM's activation 127): the largest weight maps to
// 127.5 -> 128 -> clamped 127. shared/reference/sparse24-and-quant.md 2.2 gives the
// order: prune first (in high precision), then quantize, then compress.
#pragma once
#include "core/tensor.h"

namespace ctk::ref {

struct QuantizedWeight {
    Tensor q;      // [N, K] i8 or f8e4m3
    Tensor scale;  // [N, 1] (per channel) or [1] (per tensor), in w's dtype
};

// w: [N, K] f32, f16 or bf16 (finite); out: I8 or F8E4M3. Returns q [N, K] and the
// scale in w's dtype. Throws naming row and column on NaN/Inf.
QuantizedWeight quantize_weight_8bit(const Tensor& w, DType out, bool per_channel);

}  // namespace ctk::ref
