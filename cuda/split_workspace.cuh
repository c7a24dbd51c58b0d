// Split-K scratch shared by the GEMMs that add partial tiles through global memory (the
// 2:4 Hopper kernel, cuda/sparse24_gemm_sm90.cu, and MXFP4 v4/v6, cuda/mxfp4_gemm_sm90.cu):
// one buffer of partial tiles and one of per-tile arrival counters, grown on demand and kept
// for the process. The counters start at zero and every launch leaves them at zero (the
// split that adds a tile's partials resets its counter), so launches that use them must not
// overlap: split_scratch locks `lock` and the caller holds it until its launch is queued
// (one launch at a time per process, on the default stream).
#pragma once
#include <cstddef>
#include <mutex>

namespace ctk::cuda {

struct SplitScratch {
    void* partial = nullptr;  // at least partial_bytes
    int* counters = nullptr;  // at least n_counters, all zero
};

SplitScratch split_scratch(size_t partial_bytes, size_t n_counters, std::unique_lock<std::mutex>& lock);

}  // namespace ctk::cuda
