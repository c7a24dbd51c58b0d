// CPU reference for the scaled GEMM of the 2:4 layers (dense and sparse forms):
//
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] )
//   acc[m, n] = sum_k x[m, k] * w[n, k]      int32 for i8, fp32 (k ascending) otherwise
//
// x: [M, K], w: [N, K] (same dtype: f16, bf16, i8 or f8e4m3). x_scale: f32 with 1 or M
// elements ([1], [M] or [M, 1]); w_scale: f32 with 1 or N elements; an undefined scale
// tensor means 1. bias: [N] in the output dtype, or undefined. out_dtype f16 or bf16.
// The products of two f16/bf16/fp8 values are exact in fp32, so only the summation
// order can make another implementation differ; the epilogue is fp32 and rounds once.
#pragma once
#include "core/tensor.h"
#include "ref/sparse24.h"

namespace ctk::ref {

Tensor scaled_gemm(const Tensor& x, const Tensor& w, const Tensor& x_scale, const Tensor& w_scale,
                   const Tensor& bias, DType out_dtype);

// The same product with W given as values + codes (compress_24). For finite inputs it
// equals scaled_gemm on decompress_24(w) exactly (the skipped terms are exact zeros).
Tensor scaled_sparse_gemm(const Tensor& x, const Sparse24& w, const Tensor& x_scale,
                          const Tensor& w_scale, const Tensor& bias, DType out_dtype);

}  // namespace ctk::ref
