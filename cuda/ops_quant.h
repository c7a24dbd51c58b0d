// Launchers of the activation quantization kernels (cuda/quant.cu; part of cuda/ops.h:
// include that instead). Each function has the same name and semantics as its CPU twin
// in src/ref/quant.h and is tested to equal it bit for bit (every code, every scale).
//
// x: [M, H] f32, f16 or bf16 device tensor, M >= 0, H >= 1. row_stride: elements between
// the starts of consecutive rows of x (0 means H, otherwise >= H); with row_stride > H, x
// is a strided view: shape [M, H] is the logical size and the caller guarantees that
// x.ptr + r * row_stride + [0, H) is valid device memory for every row r.
// Outputs (new device tensors): q [M, H] i8 or f8e4m3, contiguous; scale f32 [M, 1] per
// token or [1] per tensor; azp i32 of the scale's shape for the asymmetric variants.
// version: 1 = readable kernel (one block per row), 2 = fast kernel (row in registers),
// 0 = the best (2). Bad arguments throw ctk::Error naming them, before any launch.
#pragma once
#include "core/tensor.h"

namespace ctk::cuda {

struct QuantResult {
    Tensor q;      // [M, H] i8 or f8e4m3
    Tensor scale;  // [M, 1] or [1], f32
    Tensor azp;    // asymmetric variants: i32, the scale's shape; undefined otherwise
};

QuantResult quant_int8_static(const Tensor& x, float scale, int64_t row_stride = 0, int version = 0);
QuantResult quant_int8_static_azp(const Tensor& x, float scale, int32_t azp, int64_t row_stride = 0,
                                  int version = 0);
QuantResult quant_int8_dynamic_per_token(const Tensor& x, int64_t row_stride = 0, int version = 0);
QuantResult quant_int8_dynamic_per_token_azp(const Tensor& x, int64_t row_stride = 0, int version = 0);
QuantResult quant_fp8_static(const Tensor& x, float scale, int64_t row_stride = 0, int version = 0);
// scale_ub <= 0: no upper bound.
QuantResult quant_fp8_dynamic_per_token(const Tensor& x, float scale_ub = 0.0f, int64_t row_stride = 0,
                                        int version = 0);
QuantResult quant_fp8_dynamic_per_tensor(const Tensor& x, int64_t row_stride = 0, int version = 0);

// ---- the same, into preallocated outputs (benchmarks; callers that reuse buffers) ----
enum class QuantOp {
    Int8Static,
    Int8StaticAzp,
    Int8DynamicPerToken,
    Int8DynamicPerTokenAzp,
    Fp8Static,
    Fp8DynamicPerToken,
    Fp8DynamicPerTensor,
};
const char* quant_op_name(QuantOp op);  // "quant_int8_static", ... (the function names above)

struct QuantOptions {
    float scale = 0.0f;     // static variants
    int32_t azp = 0;        // Int8StaticAzp
    float scale_ub = 0.0f;  // Fp8DynamicPerToken
    int64_t row_stride = 0;
    int version = 0;
};

// Outputs of the right dtypes and shapes for op on an [M, H] input.
QuantResult quant_alloc(QuantOp op, int64_t m, int64_t h);
// Validates x, the options and out (dtypes, shapes, device), then launches on the default
// stream without synchronising.
void quant_run(QuantOp op, const Tensor& x, const QuantOptions& opt, QuantResult& out);

}  // namespace ctk::cuda
