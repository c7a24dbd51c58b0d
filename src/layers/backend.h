// Backend: where a layer keeps its processed weights and runs apply().
#pragma once
#include <cstdint>
#include <string>

namespace ctk {

enum class Backend : uint8_t {
    CPU,   // the CPU references (src/ref/): the oracle, and the path without a GPU
    CUDA,  // the kernels (cuda/ops.h); inputs and outputs of apply() are device tensors
};

const char* backend_name(Backend b);  // "cpu" / "cuda"

// Throws ctk::Error when `b` cannot run here (CUDA requested but this build has no
// kernels, or no device is present).
void require_backend(Backend b);

// Throws ctk::Error, naming both capabilities, when `b` is CUDA and the device is older than
// `min_capability` (a layer's min_capability, e.g. 90 for fp8 2:4). `what` names the layer.
void require_capability(Backend b, int min_capability, const std::string& what);

}  // namespace ctk
