// Launchers of the quant kernels (part of cuda/ops.h; include that instead).
#pragma once
#include "core/tensor.h"

namespace ctk::cuda {

}  // namespace ctk::cuda
