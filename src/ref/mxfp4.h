// CPU reference for MXFP4 weights (compressed-tensors "mxfp4-pack-quantized"):
// quantize, pack/unpack, dequantize, and the W4A16 GEMM.
//
// W: [N, K], K % 32 == 0. packed: [N, K/2] u8 (even column in the low nibble);
// scales: [N, K/32] u8 E8M0 codes. A weight element is e2m1(code) * 2^(scale-127),
// exact in fp32; scale code 255 makes its block NaN.
#pragma once
#include "core/tensor.h"
#include "formats/mxfp4.h"

namespace ctk::ref {

struct Mxfp4Weight {
    Tensor packed;  // [N, K/2] u8
    Tensor scales;  // [N, K/32] u8
};

// Round-to-nearest quantization as llm-compressor does it: per 32-block scale by
// `rule` (Even: byte-identical to compressed-tensors), elements ties-to-even,
// saturating at 6. W: f32, f16 or bf16. Throws naming row and column on NaN/Inf, or
// on a block whose max is too large for an E8M0 scale.
Mxfp4Weight mxfp4_quantize(const Tensor& w, MxScaleRule rule = MxScaleRule::Even);

Tensor mxfp4_pack_codes(const Tensor& codes);    // [N, K] u8 (4-bit codes) -> [N, K/2]
Tensor mxfp4_unpack_codes(const Tensor& packed); // [N, K/2] -> [N, K] u8

// Throws mxfp4_overflow_message for the first block (row-major) holding a value of magnitude
// 2^128 or more (formats/mxfp4.h): the layers refuse such a weight, as the GPU repack does,
// where the dequantization below would give it as +-Inf.
void mxfp4_check_no_overflow(const Mxfp4Weight& w);

// Dequantized weight [N, K] in f32 (exact), or rounded once to f16/bf16.
Tensor mxfp4_dequantize(const Mxfp4Weight& w, DType out = DType::F32);

// out[M, N] = round_out(sum_k x[m,k] * w[n,k] + bias[n]), fp32 accumulation over k
// ascending, x: [M, K] bf16 or f16, bias [N] in x's dtype or undefined; out in x's dtype.
Tensor mxfp4_gemm(const Tensor& x, const Mxfp4Weight& w, const Tensor& bias);

}  // namespace ctk::ref
