// Storing a wgmma D fragment of out^T as row-major out[M, N], shared by the Hopper rungs
// that compute out^T = W x^T with W rows as the wgmma M dimension (sparse24_gemm_sm90.cu,
// mxfp4_gemm_sm90.cu).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ctk::cuda {

// One n8 block of the fragment, already rounded to 16 bits: r[h][e] = out[m_even + e,
// n_row0 + 8h], m_even = this lane's first x row of the block (m0 + 8j + 2t), g = lane / 4.
// A lane's two values of one W row land in two different rows of out, so with N even
// (pair_ok) lanes g and g ^ 1 swap one value through a shuffle and each stores a 4-byte
// pair of adjacent W rows; otherwise each value is one 2-byte store. Rows past M or N are
// skipped. Every lane of the warp must call it (the shuffle).
__device__ __forceinline__ void store_d_block(uint16_t* out, int M, int N, const uint16_t (&r)[2][2], int n_row0,
                                              int m_even, int g, bool pair_ok) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int n = n_row0 + 8 * h;  // this lane's W row; g even: n even
        if (pair_ok) {
            // g even keeps x row 2t and takes its neighbour's W row n + 1 of that x row;
            // g odd keeps x row 2t + 1 and takes W row n - 1.
            const uint16_t send = (g & 1) ? r[h][0] : r[h][1];
            const uint16_t recv = static_cast<uint16_t>(__shfl_xor_sync(0xffffffffu, send, 4));
            const int m = (g & 1) ? m_even + 1 : m_even;
            const int n_lo = (g & 1) ? n - 1 : n;
            const uint32_t word = (g & 1) ? (uint32_t(recv) | uint32_t(r[h][1]) << 16)
                                          : (uint32_t(r[h][0]) | uint32_t(recv) << 16);
            if (m < M && n_lo < N) *reinterpret_cast<uint32_t*>(out + static_cast<size_t>(m) * N + n_lo) = word;
        } else {
#pragma unroll
            for (int e = 0; e < 2; ++e)
                if (m_even + e < M && n < N) out[static_cast<size_t>(m_even + e) * N + n] = r[h][e];
        }
    }
}

}  // namespace ctk::cuda
