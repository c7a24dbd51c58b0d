// Internal: the v5 launcher (cuda/mxfp4_gemv.cu), called by mxfp4_gemm_out
// (cuda/mxfp4_gemm.cu), which has checked the arguments. Users call mxfp4_gemm.
#pragma once
#include <cstdint>

#include "ops.h"

namespace ctk::cuda {

// x [M, K], out [M, N], bias [N] or null: device pointers of w.act_dtype. Throws if the
// layer does not fold (v5 folds the scale into the 16-bit weight).
void run_mxfp4_v5(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M);

}  // namespace ctk::cuda
