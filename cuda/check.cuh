// CUDA_CHECK(expr): throw ctk::Error with file:line and the CUDA error string.
// CUDA_CHECK_LAUNCH(): check the last launch (call right after every <<<>>>).
#pragma once
#include <cuda_runtime.h>

#include "core/error.h"

#define CUDA_CHECK(expr)                                                                     \
    do {                                                                                     \
        cudaError_t err_ = (expr);                                                           \
        if (err_ != cudaSuccess)                                                             \
            throw ::ctk::Error(::ctk::cat(__FILE__, ":", __LINE__, ": ", #expr, ": ",        \
                                          cudaGetErrorString(err_)));                        \
    } while (0)

#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
