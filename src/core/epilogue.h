// The epilogue contract shared by every scaled GEMM, the CPU reference and the kernels:
//
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] )
//
// x_scale: f32 with 1 or M elements ([1], [M] or [M, 1]); w_scale: f32 with 1 or N
// elements ([1], [N] or [N, 1]); bias: [N] in out_dtype. Each may be undefined (scale 1,
// no bias). One check for all implementations, so they accept and reject the same inputs
// with the same messages.
#pragma once
#include <string>

#include "core/tensor.h"

namespace ctk {

// Throws ctk::Error naming `op` and the argument when a defined argument is not on
// `device` or has the wrong dtype or shape.
void check_epilogue_args(const std::string& op, Device device, int64_t M, int64_t N, const Tensor& x_scale,
                         const Tensor& w_scale, const Tensor& bias, DType out_dtype);

}  // namespace ctk
