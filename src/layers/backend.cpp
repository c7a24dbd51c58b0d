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

void require_capability(Backend b, int min_capability, const std::string& what) {
    if (b == Backend::CPU) return;
    require_backend(b);
#if CTK_HAVE_CUDA
    CTK_CHECK(cuda::device_capability() >= min_capability, what, ": the kernels need sm_", min_capability,
              ", this device is sm_", cuda::device_capability());
#endif
}

}  // namespace ctk
