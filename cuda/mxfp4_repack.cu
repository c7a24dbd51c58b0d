// mxfp4_repack: vLLM's process_weights_after_loading for MXFP4, on the GPU.
//
// In:  packed [N, K/2] u8 (compressed-tensors: even column in the low nibble),
//      scales [N, K/32] u8 (E8M0 codes), both device tensors, K % 32 == 0.
// Out: Mxfp4KernelWeight (cuda/ops_mxfp4.h): words [n_tiles, k_chunks, 32, 4] i32 and
//      scale_words [n_tiles, k_chunks, 8] i32 in the tile layout of ref/mxfp4_repack.h
//      (its CPU twin; tests/test_gpu_mxfp4.cpp compares them bit for bit), plus the
//      range of scale codes the layer uses and the fold plan derived from it.
//
// Three small kernels, each a direct gather (one thread per output word): the layout
// is the whole point and speed does not matter here (it runs once per layer at load).
#include <cuda_runtime.h>

#include "check.cuh"
#include "formats/mxfp4.h"
#include "mxfp4_dequant.cuh"
#include "ops.h"

namespace ctk::cuda {

namespace {

constexpr int kTileN = 16, kChunkK = 64;

// One thread per word: (tile t, chunk c, lane, step s) -> 8 nibbles, nibble i taken
// from W[16t + row_i][64c + 16s + col_i] (row/col tables in ref/mxfp4_repack.h); for a
// bf16 layer the word's bits are then sliced (formats/mxfp4_bits.h).
__global__ void repack_words_kernel(const uint8_t* __restrict__ packed, uint32_t* __restrict__ words, int N, int K,
                                    int n_tiles, int k_chunks, bool slice_bf16) {
    int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    int64_t total = static_cast<int64_t>(k_chunks) * n_tiles * 32 * 4;
    if (idx >= total) return;
    const int s = idx % 4;
    const int lane = (idx / 4) % 32;
    const int64_t c = (idx / 128) % k_chunks;
    const int64_t t = idx / (128 * static_cast<int64_t>(k_chunks));
    const int g = lane / 4, q = lane % 4;
    const int64_t n0 = t * kTileN, k0 = c * kChunkK + s * 16;
    const int rows[8] = {g, g + 8, g, g + 8, g, g + 8, g, g + 8};
    const int cols[8] = {2 * q, 2 * q, 2 * q + 8, 2 * q + 8, 2 * q + 1, 2 * q + 1, 2 * q + 9, 2 * q + 9};
    uint32_t word = 0;
    for (int i = 0; i < 8; ++i) {
        int64_t n = n0 + rows[i], k = k0 + cols[i];
        uint32_t code = 0;  // padding: +0.0
        if (n < N && k < K) {
            uint8_t byte = packed[n * (K / 2) + k / 2];
            code = (k % 2 == 0) ? mxfp4_unpack_even(byte) : mxfp4_unpack_odd(byte);
        }
        word |= code << (4 * i);
    }
    words[idx] = slice_bf16 ? e2m1_word_slice_bf16(word) : word;
}

// One thread per scale word: (tile t, chunk c, g) -> codes of rows 16t+g, 16t+g+8 for
// the chunk's two 32-blocks.
__global__ void repack_scales_kernel(const uint8_t* __restrict__ packed, const uint8_t* __restrict__ scales,
                                     uint32_t* __restrict__ swords, int N, int K, int n_tiles, int k_chunks,
                                     uint32_t pad_scale) {
    int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    int64_t total = static_cast<int64_t>(k_chunks) * n_tiles * 8;
    if (idx >= total) return;
    const int g = idx % 8;
    const int64_t c = (idx / 8) % k_chunks;
    const int64_t t = idx / (8 * static_cast<int64_t>(k_chunks));
    const int blocks = K / kMxBlock;
    auto code = [&](int64_t n, int64_t b) -> uint32_t {
        if (n >= N || b >= blocks) return pad_scale;
        const uint32_t code = scales[n * blocks + b];
        const bool zero = mxfp4_block_is_zero(packed + n * (K / 2) + b * (kMxBlock / 2));
        return (code != kE8M0Nan && zero) ? pad_scale : code;  // a block of zeros: as padding
    };
    const int64_t n = t * kTileN + g;
    swords[idx] = code(n, 2 * c) | code(n + 8, 2 * c) << 8 | code(n, 2 * c + 1) << 16 | code(n + 8, 2 * c + 1) << 24;
}

// Scan of the scale codes: min and max over the finite codes of blocks that hold a nonzero
// weight (mxfp4_block_is_zero: such a block is repacked as padding), the number of NaN blocks
// (code 255), and the first block (row-major index) holding a weight that no 32- or
// 16-bit float can hold: |e2m1| * 2^(code-127) >= 2^128.
struct ScanResult {
    int min_code, max_code;
    unsigned long long nan_blocks;
    long long first_overflow;  // LLONG_MAX when none
};

__global__ void scan_scales_kernel(const uint8_t* __restrict__ packed, const uint8_t* __restrict__ scales, int N,
                                   int K, ScanResult* out) {
    int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int blocks = K / kMxBlock;
    if (idx >= static_cast<int64_t>(N) * blocks) return;
    const int code = scales[idx];
    if (code == kE8M0Nan) {
        atomicAdd(&out->nan_blocks, 1ull);
        return;
    }
    const int64_t n = idx / blocks, b = idx % blocks;
    if (mxfp4_block_is_zero(packed + n * (K / 2) + b * (kMxBlock / 2))) return;  // its code does not matter
    atomicMin(&out->min_code, code);
    atomicMax(&out->max_code, code);
    if (mxfp4_block_overflows(packed + n * (K / 2) + b * (kMxBlock / 2), static_cast<uint8_t>(code)))
        atomicMin(&out->first_overflow, static_cast<long long>(idx));
}

int blocks_for(int64_t total, int threads) { return static_cast<int>((total + threads - 1) / threads); }

}  // namespace

Mxfp4FoldPlan mxfp4_fold_plan(int min_code, int max_code, DType act_dtype) {
    Mxfp4FoldPlan plan;
    if (min_code > max_code) return plan;  // no finite block: nothing to fold
    // Window of the folded exponent e = code - 127 - shift (see ops_mxfp4.h).
    const bool f16 = act_dtype == DType::F16;
    const int e_lo = f16 ? -23 : -100, e_hi = 1;
    const int shift_lo = max_code - 127 - e_hi;  // shift >= this keeps the largest code inside
    const int shift_hi = min_code - 127 - e_lo;  // shift <= this keeps the smallest code inside
    if (shift_lo > shift_hi) {
        plan.foldable = false;
        plan.error = cat("scale codes ", min_code, "..", max_code, " span ", max_code - min_code,
                         " binades; a folded ", dtype_name(act_dtype), " weight holds at most ", e_hi - e_lo,
                         " (exponents ", e_lo, "..", e_hi, ")");
        return plan;
    }
    plan.shift = shift_lo > 0 ? shift_lo : (shift_hi < 0 ? shift_hi : 0);
    return plan;
}

Mxfp4KernelWeight mxfp4_repack(const Tensor& packed, const Tensor& scales, DType act_dtype) {
    CTK_CHECK(packed.device == Device::CUDA, "packed: expected a device tensor, found ", packed.describe());
    CTK_CHECK(scales.device == Device::CUDA, "scales: expected a device tensor, found ", scales.describe());
    expect_dtype(packed, DType::U8, "packed");
    expect_dtype(scales, DType::U8, "scales");
    CTK_CHECK(packed.ndim() == 2 && packed.size(0) > 0 && packed.size(1) > 0,
              "packed: expected shape [N, K/2] with N, K > 0, found ", shape_str(packed.shape));
    const int64_t N = packed.size(0), K = packed.size(1) * 2;
    CTK_CHECK(K % kMxBlock == 0, "packed: K = 2 * ", packed.size(1), " = ", K,
              " is not a multiple of the MXFP4 block (32)");
    expect_shape(scales, {N, K / kMxBlock}, "scales");
    CTK_CHECK(act_dtype == DType::BF16 || act_dtype == DType::F16,
              "act_dtype: expected bf16 or f16 activations, found ", dtype_name(act_dtype));
    CTK_CHECK(N < (1 << 30) && K < (1 << 30), "packed: N = ", N, ", K = ", K, " too large for 32-bit indexing");

    Mxfp4KernelWeight w;
    w.N = N;
    w.K = K;
    w.n_tiles = (N + kTileN - 1) / kTileN;
    w.k_chunks = (K + kChunkK - 1) / kChunkK;
    w.act_dtype = act_dtype;

    // Scan first: a layer that cannot be represented is rejected before any work.
    ScanResult init{255, -1, 0, 0x7FFFFFFFFFFFFFFFll};
    Tensor scan = device_empty(DType::U8, {static_cast<int64_t>(sizeof(ScanResult))});
    CUDA_CHECK(cudaMemcpy(scan.raw(), &init, sizeof(init), cudaMemcpyHostToDevice));
    const int threads = 256;
    scan_scales_kernel<<<blocks_for(N * (K / kMxBlock), threads), threads>>>(
        static_cast<const uint8_t*>(packed.raw()), static_cast<const uint8_t*>(scales.raw()), static_cast<int>(N),
        static_cast<int>(K), static_cast<ScanResult*>(scan.raw()));
    CUDA_CHECK_LAUNCH();
    ScanResult res;
    CUDA_CHECK(cudaMemcpy(&res, scan.raw(), sizeof(res), cudaMemcpyDeviceToHost));
    if (res.first_overflow != 0x7FFFFFFFFFFFFFFFll) {
        const int64_t blocks = K / kMxBlock;
        const int64_t n = res.first_overflow / blocks, b = res.first_overflow % blocks;
        uint8_t code = 0;
        CUDA_CHECK(cudaMemcpy(&code, static_cast<const uint8_t*>(scales.raw()) + res.first_overflow, 1,
                              cudaMemcpyDeviceToHost));
        throw Error(mxfp4_overflow_message(n, b, code));
    }
    w.min_code = res.min_code;
    w.max_code = res.max_code;
    w.nan_blocks = static_cast<int64_t>(res.nan_blocks);
    Mxfp4FoldPlan plan = mxfp4_fold_plan(w.min_code, w.max_code, act_dtype);
    w.foldable = plan.foldable;
    w.fold_shift = plan.shift;
    w.fold_error = plan.error;

    w.words = device_empty(DType::I32, {w.n_tiles, w.k_chunks, 32, 4});
    w.scale_words = device_empty(DType::I32, {w.n_tiles, w.k_chunks, 8});
    repack_words_kernel<<<blocks_for(w.words.numel(), threads), threads>>>(
        static_cast<const uint8_t*>(packed.raw()), static_cast<uint32_t*>(w.words.raw()), static_cast<int>(N),
        static_cast<int>(K), static_cast<int>(w.n_tiles), static_cast<int>(w.k_chunks),
        act_dtype == DType::BF16 && kBf16SlicedWords);
    CUDA_CHECK_LAUNCH();
    repack_scales_kernel<<<blocks_for(w.scale_words.numel(), threads), threads>>>(
        static_cast<const uint8_t*>(packed.raw()), static_cast<const uint8_t*>(scales.raw()),
        static_cast<uint32_t*>(w.scale_words.raw()), static_cast<int>(N),
        static_cast<int>(K), static_cast<int>(w.n_tiles), static_cast<int>(w.k_chunks),
        mxfp4_pad_scale_code(w.min_code, w.max_code));
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaDeviceSynchronize());
    return w;
}

}  // namespace ctk::cuda
