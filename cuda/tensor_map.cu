// cuTensorMapEncodeTiled through the runtime's driver entry point (see tensor_map.cuh).
#include "tensor_map.cuh"

#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include "check.cuh"

namespace ctk::cuda {

namespace {
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
    static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void* f = nullptr;
        cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
        CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q));
        CTK_CHECK(q == cudaDriverEntryPointSuccess && f != nullptr,
                  "the driver has no cuTensorMapEncodeTiled (the TMA kernels need a CUDA 12+ driver)");
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
    }();
    return fn;
}
}  // namespace

CUtensorMap make_tensor_map_2d(const void* base, CUtensorMapDataType type, uint64_t inner, uint64_t outer,
                               uint64_t pitch, uint32_t box_inner, uint32_t box_outer, CUtensorMapSwizzle swizzle,
                               const char* op, const char* what, CUtensorMapL2promotion promotion) {
    CUtensorMap map;
    const cuuint64_t dims[2] = {inner, outer};
    const cuuint64_t strides[1] = {pitch};
    const cuuint32_t box[2] = {box_inner, box_outer};
    const cuuint32_t elem_strides[2] = {1, 1};
    CUresult r = tensor_map_encoder()(&map, type, 2, const_cast<void*>(base), dims, strides, box, elem_strides,
                                      CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, promotion,
                                      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    CTK_CHECK(r == CUDA_SUCCESS, op, ": cuTensorMapEncodeTiled failed for ", what, " (CUresult ", int(r), ", ", inner,
              " x ", outer, " elements, pitch ", pitch, " bytes, box ", box_inner, " x ", box_outer, ")");
    return map;
}

}  // namespace ctk::cuda
