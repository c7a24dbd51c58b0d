// The tiled kernel layout of the Hopper rung (formats/sparse24_layout.h, end;
// docs/sparse24_v3.md 4i): the row-major kernel layout regrouped so that each (128-row
// weight tile, pipeline stage) block is contiguous. A pure permutation of 16-byte
// chunks: one thread per chunk, the index functions of the formats header say where it
// goes. CPU twin: ref::tile_values_for_v3 / ref::tile_meta_for_v3 (block-by-block copies).
#include <cuda_runtime.h>

#include <cstdint>

#include "check.cuh"
#include "formats/sparse24_layout.h"
#include "ops.h"
#include "sparse24_gemm_sm90.cuh"

namespace ctk::cuda {
namespace {

// values: rows x row_bytes bytes, 16-byte chunks (a 64-byte stage piece holds four).
__global__ void tile_values_kernel(const int4* __restrict__ src, int4* __restrict__ dst, int64_t rows,
                                   int64_t row_bytes) {
    const int64_t chunks_per_row = row_bytes / 16;
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * chunks_per_row) return;
    const int64_t row = i / chunks_per_row, byte = (i % chunks_per_row) * 16;
    dst[sparse24_tiled_value_byte(row, byte, row_bytes) / 16] = src[i];
}

// metadata: blocks x words_per_block 32-bit words, 4-word chunks (a stage's 32 P words of
// one row block hold 8 or 16).
__global__ void tile_meta_kernel(const int4* __restrict__ src, int4* __restrict__ dst, int64_t blocks, int64_t Kp,
                                 bool eight_bit) {
    const int64_t words = (Kp / 64) * 32, chunks_per_block = words / 4;
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= blocks * chunks_per_block) return;
    const int64_t block = i / chunks_per_block, word = (i % chunks_per_block) * 4;
    dst[sparse24_tiled_meta_word(block, word, Kp, eight_bit) / 4] = src[i];
}

int grid_for(int64_t n, int threads) { return static_cast<int>((n + threads - 1) / threads); }

}  // namespace

void sparse24_v3_tile_weight(const Tensor& values, const Tensor& meta, Tensor& values_tiled, Tensor& meta_tiled) {
    const char* op = "sparse24_v3_tile_weight";
    CTK_CHECK(values.defined() && values.device == Device::CUDA && values.ndim() == 2, op,
              ": values: expected a device tensor [Np, Kp/2]");
    const DType dt = values.dtype;
    CTK_CHECK(dt == DType::F16 || dt == DType::BF16 || dt == DType::F8E4M3 || dt == DType::I8, op,
              ": values: expected dtype f16, bf16, f8e4m3 or i8, found ", dtype_name(dt));
    const int64_t Np = values.shape[0], Kp = values.shape[1] * 2;
    CTK_CHECK(Np % kSparse24RowPad == 0 && Kp % kSparse24KPad == 0 && Np > 0 && Kp > 0, op,
              ": values: expected [Np, Kp/2] with Np and Kp positive multiples of 128, found ", values.describe());
    CTK_CHECK(meta.defined() && meta.device == Device::CUDA, op, ": meta: expected a device tensor");
    expect_dtype(meta, DType::I32, cat(op, ": meta"));
    expect_shape(meta, {Np / 16, Kp / 64, 32}, cat(op, ": meta"));
    const bool eight_bit = dt == DType::F8E4M3 || dt == DType::I8;
    const int64_t row_bytes = (Kp / 2) * static_cast<int64_t>(dtype_size(dt));
    values_tiled = device_empty(dt, values.shape);
    meta_tiled = device_empty(DType::I32, meta.shape);
    const int threads = 256;
    tile_values_kernel<<<grid_for(Np * row_bytes / 16, threads), threads>>>(
        static_cast<const int4*>(values.raw()), static_cast<int4*>(values_tiled.raw()), Np, row_bytes);
    CUDA_CHECK_LAUNCH();
    tile_meta_kernel<<<grid_for(meta.numel() / 4, threads), threads>>>(
        static_cast<const int4*>(meta.raw()), static_cast<int4*>(meta_tiled.raw()), Np / 16, Kp, eight_bit);
    CUDA_CHECK_LAUNCH();
}

bool sparse24_tile_for_v3(Sparse24KernelWeight& w) {
    CTK_CHECK(!w.v3_tiled, "sparse24_tile_for_v3: w is already tiled");
    if (!sparse24_v3_available() || (w.K * static_cast<int64_t>(dtype_size(w.dtype))) % 16 != 0) return false;
    Tensor values_t, meta_t;
    sparse24_v3_tile_weight(w.values, w.meta, values_t, meta_t);
    w.values = values_t, w.meta = meta_t;  // the row-major copies are freed
    w.v3_tiled = true;
    return true;
}

}  // namespace ctk::cuda
