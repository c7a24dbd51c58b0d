#include "layers/backend.h"

#include "core/error.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk {

const char* backend_name(Backend b) { return b == Backend::CPU ? "cpu" : "cuda"; }

void require_backend(Backend b) {
    if (b == Backend::CPU) return;
#if CTK_HAVE_CUDA
    CTK_CHECK(cuda::device_count() > 0, "backend cuda: no CUDA device found");
#else
    throw Error("backend cuda: this build has no GPU kernels (nvcc was not found at build time)");
#endif
}

}  // namespace ctk
