// Internal: the v7 launcher (cuda/mxfp4_decode_bulk.cu), called by mxfp4_gemm_out
// (cuda/mxfp4_gemm.cu), which has checked the arguments and the device (sm_90, an sm_90a
// build). Users call mxfp4_gemm.
#pragma once
#include <cstdint>

#include "ops.h"

namespace ctk::cuda {

// x [M, K], out [M, N], bias [N] or null: device pointers of w.act_dtype. Throws if the
// layer does not fold (v7 folds the scale into the 16-bit weight, as v5).
void run_mxfp4_v7(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M);

}  // namespace ctk::cuda
