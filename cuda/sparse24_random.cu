// Seeded random device tensors for the sparse24 tests and benchmarks (see ops_sparse24.h).
// A counter-based hash (splitmix64 of seed and element index) makes every element
// independent of the launch shape, so results are reproducible bit for bit.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "check.cuh"
#include "formats/fp16.h"
#include "formats/fp8_e4m3.h"
#include "ops.h"

namespace ctk::cuda {
namespace {

__device__ __forceinline__ uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
// Uniform in [0, 1) from 24 bits.
__device__ __forceinline__ float unit(uint64_t h) { return static_cast<float>(h >> 40) * (1.0f / 16777216.0f); }

// Stores v (already in range) as element i of a tensor of dtype t.
__device__ void store(void* p, int64_t i, DType t, float v) {
    switch (t) {
        case DType::F16: static_cast<uint16_t*>(p)[i] = fp16_from_float(v); break;
        case DType::BF16: static_cast<uint16_t*>(p)[i] = bf16_from_float(v); break;
        case DType::F8E4M3: static_cast<uint8_t*>(p)[i] = e4m3_from_float(v); break;
        case DType::I8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(__float2int_rn(fminf(fmaxf(v, -128.f), 127.f))); break;
        default: static_cast<float*>(p)[i] = v; break;
    }
}
// A negative zero of dtype t (integers have none).
__device__ void store_neg_zero(void* p, int64_t i, DType t) {
    switch (t) {
        case DType::F16:
        case DType::BF16: static_cast<uint16_t*>(p)[i] = 0x8000u; break;
        case DType::F8E4M3: static_cast<uint8_t*>(p)[i] = 0x80u; break;
        case DType::I8: static_cast<int8_t*>(p)[i] = 0; break;
        default: static_cast<float*>(p)[i] = -0.0f; break;
    }
}

__global__ void fill_dense_kernel(void* p, int64_t n, DType t, uint64_t seed, float scale, bool integer) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float u = 2.0f * unit(mix(seed ^ mix(static_cast<uint64_t>(i)))) - 1.0f;  // [-1, 1)
        store(p, i, t, integer ? rintf(u * scale) : u * scale);
    }
}

// One thread per group of 4 along K.
__global__ void fill_24_kernel(void* p, int64_t groups, DType t, uint64_t seed, float scale, bool integer) {
    // The six pairs of kept positions.
    const uint8_t pairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups;
         g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const uint64_t h = mix(seed ^ mix(0x5151ull + static_cast<uint64_t>(g)));
        const int pair = static_cast<int>((h & 0xFFFF) % 6);
        const int sel = static_cast<int>((h >> 16) & 63);
        const int kept = sel == 0 ? 0 : (sel < 5 ? 1 : 2);  // 1/64 none, 4/64 one, else two
        bool keep[4] = {false, false, false, false};
        if (kept >= 1) keep[pairs[pair][(h >> 24) & 1]] = true;
        if (kept == 2) keep[pairs[pair][0]] = keep[pairs[pair][1]] = true;
        for (int q = 0; q < 4; ++q) {
            const int64_t i = 4 * g + q;
            const uint64_t hv = mix(h ^ (0x1000ull + q));
            if (!keep[q]) {
                if ((hv & 7) == 0) store_neg_zero(p, i, t);  // 1 zero in 8 is -0.0
                else store(p, i, t, 0.0f);
                continue;
            }
            const float sign = (hv >> 63) ? -1.0f : 1.0f;
            const float mag = integer ? 1.0f + floorf(unit(hv) * scale) : (0.25f + 0.75f * unit(hv)) * scale;
            store(p, i, t, sign * fminf(mag, scale));
        }
    }
}

int grid_for(int64_t n) { return static_cast<int>(std::min<int64_t>((n + 255) / 256, 4096)); }

void expect_fillable(const Tensor& dev, const char* what) {
    CTK_CHECK(dev.defined() && dev.device == Device::CUDA, what, ": expected a device tensor, found ",
              dev.defined() ? dev.describe() : std::string("undefined"));
    CTK_CHECK(dev.dtype == DType::F16 || dev.dtype == DType::BF16 || dev.dtype == DType::I8 ||
                  dev.dtype == DType::F8E4M3 || dev.dtype == DType::F32,
              what, ": expected dtype f16, bf16, i8, f8e4m3 or f32, found ", dtype_name(dev.dtype));
}

}  // namespace

void fill_random(Tensor& dev, uint64_t seed, float scale, bool integer) {
    expect_fillable(dev, "fill_random");
    if (dev.numel() == 0) return;
    fill_dense_kernel<<<grid_for(dev.numel()), 256>>>(dev.raw(), dev.numel(), dev.dtype, seed, scale, integer);
    CUDA_CHECK_LAUNCH();
}

void fill_random_24(Tensor& dev, uint64_t seed, float scale, bool integer) {
    expect_fillable(dev, "fill_random_24");
    CTK_CHECK(dev.ndim() >= 1 && dev.shape.back() % 4 == 0, "fill_random_24: the last dimension must be a multiple of 4, found ",
              shape_str(dev.shape));
    if (dev.numel() == 0) return;
    const int64_t groups = dev.numel() / 4;
    fill_24_kernel<<<grid_for(groups), 256>>>(dev.raw(), groups, dev.dtype, seed, scale, integer);
    CUDA_CHECK_LAUNCH();
}

}  // namespace ctk::cuda
