// CPU reference for 8-bit weight quantization (round-to-nearest, symmetric), the way
// llm-compressor's RTN observer writes W8A8 checkpoints:
//   scale = amax / qmax   (qmax 127 for int8, 448 for fp8 e4m3), per output channel or per tensor
//   q     = int8: sat8(rne(w / scale));  fp8: e4m3(clamp(w / scale))
// A row (or tensor) of zeros gets scale 1 so the stored scale stays positive and finite.
// Used by the demo, the examples and `ctk compress`.
#pragma once
#include "core/tensor.h"

namespace ctk::ref {

struct QuantizedWeight {
    Tensor q;      // [N, K] i8 or f8e4m3
    Tensor scale;  // [N, 1] f32 (per channel) or [1] f32 (per tensor)
};

// w: [N, K] f32, f16 or bf16; out: I8 or F8E4M3. Throws naming row and column on NaN/Inf.
QuantizedWeight quantize_weight_8bit(const Tensor& w, DType out, bool per_channel);

// Back to f32: q * scale (exact in fp32 for both formats).
Tensor dequantize_weight_8bit(const QuantizedWeight& qw);

}  // namespace ctk::ref
