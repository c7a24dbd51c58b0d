// Kernel launches that may overlap the kernel ahead of them on the stream (programmatic
// dependent launch, CUDA 12 / sm_90; the device side is ptx::griddep_* in ptx.cuh).
//
// Why: a decode step runs its layers back to back, each a 10-30 us kernel. Between two
// plain launches the GPU drains the first grid completely (its slowest CTA, then the
// memory flush) before the second grid's first CTA starts and issues its first load: a
// microsecond or two per layer with most SMs idle. With the attribute set, the second
// grid is scheduled as soon as every CTA of the first has executed
// griddepcontrol.launch_dependents; its CTAs take SMs as the first grid's CTAs retire,
// start streaming their (constant) weights, and only wait (griddepcontrol.wait) before
// touching what the first grid may still write: the activations, their scales, the output.
//
// The switch is process-wide and off by default (cuda::set_overlapped_launch, ops.h),
// because the early weight loads rely on a promise only the caller can make: no kernel
// still running on the stream writes this call's weight (true in a decode loop once the
// weights are loaded; false right after a repack on the same stream without a sync).
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "check.cuh"
#include "ops.h"

namespace ctk::cuda {

// The attribute that lets a launch overlap the previous kernel on its stream, when on.
// Returns the number of attributes written to attr (0 or 1).
inline int overlap_attribute(cudaLaunchAttribute* attr, bool on) {
    if (!on) return 0;
    attr->id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr->val.programmaticStreamSerializationAllowed = 1;
    return 1;
}

// kernel<<<grid, block, smem>>>(args...), with the overlap attribute when overlapped_launch().
template <class... Params, class... Args>
void launch_overlappable(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, Args&&... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cudaLaunchAttribute attr[1];
    cfg.attrs = attr;
    cfg.numAttrs = overlap_attribute(&attr[0], overlapped_launch());
    CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace ctk::cuda
