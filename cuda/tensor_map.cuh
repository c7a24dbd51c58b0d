// Host side of the TMA unit (cuda/ptx_sm90.cuh has the device side): building the
// CUtensorMap descriptors that cp.async.bulk.tensor reads. Shared by the Hopper rungs
// (sparse24_gemm_sm90.cu, mxfp4_gemm_sm90.cu). Needs <cuda.h> types, so only .cu files
// include it; the driver entry point is fetched at run time (no -lcuda).
#pragma once
#include <cuda.h>

#include <cstdint>

namespace ctk::cuda {

// A 2-D tensor map: `inner` x `outer` elements, rows `pitch` bytes apart, box
// box_inner x box_outer; out-of-range elements read as zeros (and still count towards
// the barrier's transaction bytes). `op` and `what` name the caller and the operand in
// the error message when the driver refuses the map. `promotion`: how many bytes the L2
// fetches per TMA miss (256 B unless an experiment asks otherwise).
CUtensorMap make_tensor_map_2d(const void* base, CUtensorMapDataType type, uint64_t inner, uint64_t outer,
                               uint64_t pitch, uint32_t box_inner, uint32_t box_outer, CUtensorMapSwizzle swizzle,
                               const char* op, const char* what,
                               CUtensorMapL2promotion promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B);

}  // namespace ctk::cuda
