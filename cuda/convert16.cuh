// fp32 <-> 16-bit float (bf16 / f16) on the device for every kernel's epilogue (the 2:4
// rungs v1-v3 and every MXFP4 rung), the same bits as the CPU reference (formats/fp16.h)
// for every value (act_from_float; act_from_float_hw, below, for every value GPU
// arithmetic can produce):
//
//  - 16 bit -> fp32 is exact: formats/fp16.h's own code (a shift for bf16, a few integer
//    operations for f16).
//  - fp32 -> 16 bit: the hardware conversion (cvt.rn.bf16.f32 / cvt.rn.f16.f32: round to
//    nearest even, subnormals kept, overflow to Inf, as IEEE and the reference say), and
//    the reference's own code only for NaN, whose payload the hardware would replace with
//    its canonical NaN. The software fp16_from_float alone is ~30 branchy instructions per
//    value: in MXFP4 v6's epilogue (128 outputs per thread per tile, not overlapped with any
//    MMA) it made f16 prefill 1.37x slower than bf16 (H200, 2026-12-07).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "formats/fp16.h"

namespace ctk::cuda {

template <bool BF16>
__device__ __forceinline__ float act_to_float(uint16_t h) {
    return BF16 ? bf16_to_float(h) : fp16_to_float(h);
}

// The hardware conversion alone, for epilogues whose values are GPU arithmetic results
// and whose conversion is unrolled many times per thread. The same bits as the reference
// for every number and for the one NaN that GPU arithmetic produces (0x7FFFFFFF: both
// give 0x7FFF in bf16 and in f16); only a NaN with another payload, which no multiply or
// add on the GPU returns, would come out as that canonical NaN. Why not the guarded form:
// in the 2:4 v3 epilogue (128 values per thread per tile at bn = 256, every one with its
// own NaN branch and software path inlined) it made 8192^3 f16 1.39x slower (H100,
// 2026-12-07: 1.44 against 1.04 ms, the code growth costing the main loop as well).
__device__ __forceinline__ uint16_t act_from_float_hw(float v, bool bf16) {
    return bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(v)) : __half_as_ushort(__float2half_rn(v));
}

template <bool BF16>
__device__ __forceinline__ uint16_t act_from_float(float v) {
    if (f32_is_nan(v)) return BF16 ? bf16_from_float(v) : fp16_from_float(v);
    return act_from_float_hw(v, BF16);
}

// The same with the 16-bit type chosen at run time (the 2:4 kernels take it as a flag).
__device__ __forceinline__ float act_to_float(uint16_t h, bool bf16) {
    return bf16 ? act_to_float<true>(h) : act_to_float<false>(h);
}
__device__ __forceinline__ uint16_t act_from_float(float v, bool bf16) {
    return bf16 ? act_from_float<true>(v) : act_from_float<false>(v);
}

}  // namespace ctk::cuda
