// Rungs v4 and v6 of the MXFP4 GEMM (cuda/mxfp4_gemm_sm90.cu), called by the dispatcher in
// cuda/mxfp4_gemm.cu after it has checked the arguments, the fold plan and the device.
#pragma once
#include <cstdint>

#include "ops_mxfp4.h"

namespace ctk::cuda {

// x [M, K], out [M, N], bias [N] or null: device pointers of w.act_dtype.
void mxfp4_gemm_v4(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M);
// v6: v4 with the dequantization in the consumers' A registers (same arguments).
void mxfp4_gemm_v6(const uint16_t* x, const Mxfp4KernelWeight& w, const uint16_t* bias, uint16_t* out, int64_t M);

// The x tile (wgmma N) v4 and v6 use for M rows of x: 64, 128 or 256.
int mxfp4_v4_bx(int64_t M);

}  // namespace ctk::cuda
