// Launchers of the sparse24 kernels (part of cuda/ops.h; include that instead).
#pragma once
#include "core/tensor.h"

namespace ctk::cuda {

}  // namespace ctk::cuda
