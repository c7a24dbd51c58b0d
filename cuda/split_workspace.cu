// Split-K scratch (cuda/split_workspace.cuh).
#include "split_workspace.cuh"

#include <cuda_runtime.h>

#include "check.cuh"

namespace ctk::cuda {

namespace {

struct SplitWorkspace {
    std::mutex mu;
    void* partial = nullptr;
    size_t partial_bytes = 0;
    int* counters = nullptr;
    size_t n_counters = 0;
};

SplitWorkspace& split_workspace() {
    static SplitWorkspace* w = new SplitWorkspace;  // never freed: outlives every launch
    return *w;
}

}  // namespace

SplitScratch split_scratch(size_t partial_bytes, size_t n_counters, std::unique_lock<std::mutex>& lock) {
    SplitWorkspace& ws = split_workspace();
    lock = std::unique_lock<std::mutex>(ws.mu);
    if (ws.partial_bytes < partial_bytes) {
        if (ws.partial) CUDA_CHECK(cudaFree(ws.partial));
        ws.partial = nullptr;
        ws.partial_bytes = 0;
        CUDA_CHECK(cudaMalloc(&ws.partial, partial_bytes));
        ws.partial_bytes = partial_bytes;
    }
    if (ws.n_counters < n_counters) {
        if (ws.counters) CUDA_CHECK(cudaFree(ws.counters));
        ws.counters = nullptr;
        ws.n_counters = 0;
        CUDA_CHECK(cudaMalloc(&ws.counters, n_counters * sizeof(int)));
        CUDA_CHECK(cudaMemset(ws.counters, 0, n_counters * sizeof(int)));
        ws.n_counters = n_counters;
    }
    return SplitScratch{ws.partial, ws.counters};
}

}  // namespace ctk::cuda
