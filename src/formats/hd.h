// CTK_HD marks functions usable on both host and device (formats are shared by
// the CPU references and the kernels, so both round exactly the same way).
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define CTK_HD __host__ __device__ __forceinline__
#else
#define CTK_HD inline
#endif

namespace ctk {

CTK_HD uint32_t f32_bits(float x) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(x);
#else
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
#endif
}

CTK_HD float f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float x;
    std::memcpy(&x, &u, 4);
    return x;
#endif
}

CTK_HD bool f32_is_nan(float x) { return (f32_bits(x) & 0x7FFFFFFFu) > 0x7F800000u; }
CTK_HD bool f32_is_inf(float x) { return (f32_bits(x) & 0x7FFFFFFFu) == 0x7F800000u; }

}  // namespace ctk
