// 2:4 compression into the kernel layout (formats/sparse24_layout.h, docs/sparse24.md 1.2).
//
// What it computes:
//   sparse24_compress:      dense W [N, K] (f16, bf16, i8, f8e4m3, 2:4 along K)
//                           -> values [Np, Kp/2] + metadata [Np/16, Kp/64, 32] i32
//   sparse24_from_bitmask:  compressed-tensors compressed [N, K/2] + bitmask [N, ceil(K/8)]
//                           -> the same, with no dense intermediate
//   sparse24_bitmask_to_dense: compressed + bitmask -> dense [N, K]
//
// One thread builds one metadata word: that word's codes come from 32 bytes of one
// or two weight rows (16-bit: rows g and g+8, 16 K each; 8-bit: one row, 32 K), and
// the same thread writes the 16 bytes of kept values of each of those rows. So a
// thread reads 32-byte segments (two 16-byte loads when rows are 16-byte aligned),
// writes one 16-byte store per row and one 4-byte word; a warp covers a 16 x 64
// block and writes its 128 bytes of metadata contiguously. Padding (rows >= N,
// groups >= K/4) is read as zeros, which gives code 0x4 and two +0 values.
//
// Errors (a group with > 2 nonzeros, a bitmask nibble with a bit count other than 2,
// bitmask padding bits set) are reduced on the device with atomicMin of a row-major
// key, so the launcher reports the FIRST bad row and group, as the CPU reference does.
//
// Ladder: one kernel per path (memory bound: the goal is the copy bandwidth), plus two
// 8-bit kernels with two words per thread: compress_dense8_x2_kernel (SWAR codes, prmt
// gathers; 16-byte aligned rows with K % 16 == 0) and compress_bitmask8_x2_kernel (a
// straight copy of 32 value bytes and one table lookup per bitmask nibble; K % 32 == 0).
// Measured on an H100 (bytes read + written): f16 dense -> kernel layout 1.67 TB/s,
// bitmask -> kernel layout 2.06-2.18 TB/s; i8 dense 2.63-2.71 TB/s with the two-word
// kernel (1.05 with one word per thread: instruction bound); i8 / f8 bitmask 2.33-2.36
// TB/s with the two-word kernel (1.38 with one word per thread; predicted 2.5-2.7).
// Library compressors manage 70-80 GB/s.
//
// Test: ctk_tests -ts=gpu -tc='*sparse24*compress*'   Bench: ctk bench sparse24
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "check.cuh"
#include "formats/sparse24.h"
#include "formats/sparse24_layout.h"
#include "ops.h"

namespace ctk::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned long long kNoError = ~0ull;

// Bits of an element that must be nonzero for it to count as a nonzero weight: the
// sign bit is masked for the float types, so -0.0 is zero.
uint32_t nonzero_bits(DType t) {
    switch (t) {
        case DType::F16:
        case DType::BF16: return 0x7FFFu;
        case DType::F8E4M3: return 0x7Fu;
        default: return 0xFFu;  // i8
    }
}

void expect_value_dtype(DType t, const char* what) {
    CTK_CHECK(t == DType::F16 || t == DType::BF16 || t == DType::I8 || t == DType::F8E4M3, what,
              ": expected dtype f16, bf16, i8 or f8e4m3, found ", dtype_name(t));
}

void expect_device_2d(const Tensor& t, const char* what) {
    CTK_CHECK(t.defined() && t.device == Device::CUDA && t.ndim() == 2, what,
              ": expected a 2-D device tensor, found ", t.defined() ? t.describe() : std::string("undefined"));
}

// The device error slot (one per process; compression is a load-time op).
unsigned long long* error_slot() {
    static unsigned long long* p = nullptr;
    if (!p) CUDA_CHECK(cudaMalloc(&p, sizeof(unsigned long long)));
    return p;
}
void reset_error() { CUDA_CHECK(cudaMemsetAsync(error_slot(), 0xFF, sizeof(unsigned long long))); }
unsigned long long read_error() {
    unsigned long long key = 0;
    CUDA_CHECK(cudaMemcpy(&key, error_slot(), sizeof(key), cudaMemcpyDeviceToHost));
    return key;
}

// ---- shared pieces ---------------------------------------------------------------

// The word a thread builds: block (r, p), lane (g, t). ES = element size (1 or 2).
// Its rows: 16-bit: rows[0] = 16r+g, rows[1] = 16r+g+8; 8-bit: rows[0] = 16r+g+8(t&1).
// Its groups in each row: [group0, group0 + GS) with GS = 4 (16-bit) or 8 (8-bit).
template <int ES>
struct WordSite {
    static constexpr int kRows = ES == 2 ? 2 : 1;
    static constexpr int kGroups = 32 / (4 * ES);  // a 32-byte segment of one row
    int64_t row[kRows];
    int64_t group0;
    __device__ WordSite(int64_t word, int64_t Kp) {
        const int64_t nb = Kp / 64;
        const int64_t r = word / (32 * nb), p = (word / 32) % nb;
        const int lane = static_cast<int>(word % 32), g = lane >> 2, t = lane & 3;
        if (ES == 2) {
            row[0] = 16 * r + g;
            row[kRows - 1] = 16 * r + g + 8;
            group0 = 16 * p + 4 * t;
        } else {
            row[0] = 16 * r + g + 8 * (t & 1);
            group0 = 16 * p + 8 * (t >> 1);
        }
    }
};

// Element e (0..31/ES) of a 32-byte segment held as 8 words.
template <int ES>
__device__ __forceinline__ uint32_t seg_elem(const uint32_t (&seg)[8], int e) {
    return ES == 2 ? (seg[e >> 1] >> (16 * (e & 1))) & 0xFFFFu : (seg[e >> 2] >> (8 * (e & 3))) & 0xFFu;
}

// The site of an 8-bit thread that builds TWO words (compress_dense8_x2_kernel,
// compress_bitmask8_x2_kernel): thread q = (p, g, t) of row tile r = blockIdx.y, t in
// {0, 1}, owns row 16r + g + 8t over K [64p, 64p + 64) and the words of lanes 4g + t
// (K 64p..+31) and 4g + t + 2 (K 64p+32..+63) of block (r, p). `valid`: q names a block.
struct X2Site {
    int64_t r, p, row;
    int g, t;
    bool valid;
    __device__ X2Site(int64_t Kp) {
        const int64_t nb = Kp / 64;
        const int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // over nb * 16
        valid = q < nb * 16;
        r = blockIdx.y, p = q >> 4;
        const int sub = static_cast<int>(q & 15);
        g = sub >> 1, t = sub & 1;
        row = 16 * r + g + 8 * t;
    }
    // The 32 kept bytes of the row's 64-K block and its two metadata words.
    __device__ void store(uint8_t* values, uint32_t* meta, int64_t Kp, uint4 kept0, uint4 kept1, uint32_t e0,
                          uint32_t e1) const {
        uint4* dst = reinterpret_cast<uint4*>(values + row * (Kp / 2) + 32 * p);
        dst[0] = kept0;
        dst[1] = kept1;
        uint32_t* m = meta + (r * (Kp / 64) + p) * 32 + 4 * g + t;
        m[0] = e0;
        m[2] = e1;
    }
};

// ---- dense -> kernel layout -------------------------------------------------------

// w: [N, K] dtype of ES bytes. values: [Np, Kp/2]. meta: Np*Kp/64/... words.
// vec16: rows of w are 16-byte aligned (K * ES % 16 == 0), so a segment inside
// [0, K) is two 16-byte loads; otherwise it is read group by group.
template <int ES>
__global__ void compress_dense_kernel(const uint8_t* __restrict__ w, uint8_t* __restrict__ values,
                                      uint32_t* __restrict__ meta, int64_t N, int64_t K, int64_t Kp,
                                      int64_t nwords, uint32_t nz_bits, bool vec16,
                                      unsigned long long* __restrict__ error) {
    const int64_t word = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (word >= nwords) return;
    using Site = WordSite<ES>;
    const Site site(word, Kp);
    const int64_t G = K / 4;
    uint32_t e = 0;
#pragma unroll
    for (int ri = 0; ri < Site::kRows; ++ri) {
        const int64_t row = site.row[ri];
        // Load the row's 32-byte segment (zeros past N or K).
        uint32_t seg[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        const uint8_t* src = w + (row * K + 4 * site.group0) * ES;
        if (row < N) {
            if (vec16 && site.group0 + Site::kGroups <= G) {
                uint4 lo = reinterpret_cast<const uint4*>(src)[0], hi = reinterpret_cast<const uint4*>(src)[1];
                seg[0] = lo.x, seg[1] = lo.y, seg[2] = lo.z, seg[3] = lo.w;
                seg[4] = hi.x, seg[5] = hi.y, seg[6] = hi.z, seg[7] = hi.w;
            } else {
#pragma unroll
                for (int j = 0; j < Site::kGroups; ++j) {  // one group = 4 * ES bytes, aligned since K % 4 == 0
                    if (site.group0 + j >= G) break;
                    if (ES == 2) {
                        uint2 v = reinterpret_cast<const uint2*>(src)[j];
                        seg[2 * j] = v.x, seg[2 * j + 1] = v.y;
                    } else {
                        seg[j] = reinterpret_cast<const uint32_t*>(src)[j];
                    }
                }
            }
        }
        // Codes and kept values of each group.
        uint32_t kept[4] = {0, 0, 0, 0};  // 16 bytes of output values
#pragma unroll
        for (int j = 0; j < Site::kGroups; ++j) {
            uint32_t v[4];
            uint8_t mask = 0;
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                v[q] = seg_elem<ES>(seg, 4 * j + q);
                if (v[q] & nz_bits) mask |= static_cast<uint8_t>(1u << q);
            }
            uint8_t code = code24_for_nonzeros(mask);
            if (code == 0xFF) {  // > 2 nonzeros: remember the first, keep going with a valid code
                atomicMin(error, static_cast<unsigned long long>(row * (G + 1) + 1 + site.group0 + j));
                code = kSparse24PadCode;
            }
            const int i0 = code24_idx0(code), i1 = code24_idx1(code);
            // A kept slot that holds a zero (fewer than 2 nonzeros) stores +0.
            const uint32_t k0 = (v[i0] & nz_bits) ? v[i0] : 0u, k1 = (v[i1] & nz_bits) ? v[i1] : 0u;
            if (ES == 2) {
                kept[j] = k0 | (k1 << 16);
            } else {
                kept[j >> 1] |= (k0 | (k1 << 8)) << (16 * (j & 1));
            }
            e |= static_cast<uint32_t>(code) << (ES == 2 ? 16 * ri + 4 * j : 4 * j);
        }
        // 16 bytes of values: row `row`, compressed columns [2 * group0, +16 / ES).
        *reinterpret_cast<uint4*>(values + (row * (Kp / 2) + 2 * site.group0) * ES) =
            make_uint4(kept[0], kept[1], kept[2], kept[3]);
    }
    meta[word] = e;
}

// 8-bit dense -> kernel layout, TWO metadata words per thread (the fast path: rows of
// w are 16-byte aligned, K % 16 == 0, so every 16-byte chunk is wholly inside or past
// K). Thread (r = blockIdx.y, p, g, t) with t in {0, 1} owns row 16r + g + 8t over K
// [64p, 64p + 64): 64 contiguous bytes in (four 16-byte loads), 32 contiguous bytes of
// kept values out (two 16-byte stores), and the words of lanes 4g + t (K 64p..+31) and
// 4g + t + 2 (K 64p+32..+63) of block (r, p). One group is one 32-bit word of w, so
// the codes come from SWAR byte tests and a 16-entry nibble table, and the kept bytes
// of two groups from one byte permute (prmt) - a handful of integer instructions per
// group instead of the per-element loop of the generic kernel, and no 64-bit division
// (the row tile is blockIdx.y).
// w: [N, K] i8/f8e4m3. values: [Np, Kp/2]. meta: [Np/16, Kp/64, 32]. nz4: the
// nonzero bits of 4 packed elements (0xFFFFFFFF i8, 0x7F7F7F7F fp8: -0.0 is zero).
__global__ void compress_dense8_x2_kernel(const uint8_t* __restrict__ w, uint8_t* __restrict__ values,
                                          uint32_t* __restrict__ meta, int64_t N, int64_t K, int64_t Kp,
                                          uint32_t nz4, unsigned long long* __restrict__ error) {
    const X2Site site(Kp);
    if (!site.valid) return;
    const int64_t p = site.p, row = site.row, G = K / 4;
    uint32_t v[16];  // group j of the 16 = one word
    const uint8_t* src = w + row * K + 64 * p;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
        uint4 x = make_uint4(0, 0, 0, 0);
        if (row < N && 64 * p + 16 * c < K) x = reinterpret_cast<const uint4*>(src)[c];
        v[4 * c] = x.x, v[4 * c + 1] = x.y, v[4 * c + 2] = x.z, v[4 * c + 3] = x.w;
    }
    uint32_t e[2] = {0, 0}, kept[8], sel = 0;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
        const uint32_t x = v[j] & nz4;
        // 0x80 in every byte that is nonzero (no carries cross bytes: 0x7F + 0x7F < 0x100).
        const uint32_t hi = (((x & 0x7F7F7F7Fu) + 0x7F7F7F7Fu) | x) & 0x80808080u;
        const uint32_t ones = hi >> 7;                         // 1 in every nonzero byte
        const uint32_t mask = (ones * 0x10204080u) >> 28;      // bytes 0..3 -> bits 0..3
        if ((kCode24TooManyNonzeros >> mask) & 1u)
            atomicMin(error, static_cast<unsigned long long>(row * (G + 1) + 1 + 16 * p + j));
        const uint32_t code = static_cast<uint32_t>(kCode24ForNonzerosLut >> (4 * mask)) & 0xFu;
        v[j] &= ones * 0xFFu;  // zero bytes (and fp8 -0.0) become +0
        // prmt selector nibbles: byte i0 then i1 of this group (+4: the second operand).
        sel |= ((code & 3u) | ((code >> 2) << 4)) << (8 * (j & 1));
        if (j & 1) {
            kept[j >> 1] = __byte_perm(v[j - 1], v[j], sel + 0x4400u);
            sel = 0;
        }
        e[j >> 3] |= code << (4 * (j & 7));
    }
    site.store(values, meta, Kp, make_uint4(kept[0], kept[1], kept[2], kept[3]),
               make_uint4(kept[4], kept[5], kept[6], kept[7]), e[0], e[1]);
}

// ---- bitmask -> kernel layout ------------------------------------------------------

// compressed: [N, K/2] (ES bytes), bitmask: [N, ceil(K/8)] u8. vec16: compressed rows
// are 16-byte aligned (K/2 * ES % 16 == 0).
template <int ES>
__global__ void compress_bitmask_kernel(const uint8_t* __restrict__ compressed, const uint8_t* __restrict__ bitmask,
                                        uint8_t* __restrict__ values, uint32_t* __restrict__ meta, int64_t N,
                                        int64_t K, int64_t Kp, int64_t nwords, bool vec16,
                                        unsigned long long* __restrict__ error) {
    const int64_t word = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (word >= nwords) return;
    using Site = WordSite<ES>;
    const Site site(word, Kp);
    const int64_t G = K / 4, nbytes = (K + 7) / 8;
    uint32_t e = 0;
#pragma unroll
    for (int ri = 0; ri < Site::kRows; ++ri) {
        const int64_t row = site.row[ri];
        uint4 kept = make_uint4(0, 0, 0, 0);
        if (row < N) {
            const uint8_t* mrow = bitmask + row * nbytes;
            const uint8_t* src = compressed + (row * (K / 2) + 2 * site.group0) * ES;
            if (vec16 && site.group0 + Site::kGroups <= G) {
                kept = *reinterpret_cast<const uint4*>(src);
            } else {
                uint8_t bytes[16] = {};
                for (int b = 0; b < 16 && site.group0 * 2 * ES + b < (K / 2) * ES; ++b) bytes[b] = src[b];
                std::memcpy(&kept, bytes, 16);
            }
#pragma unroll
            for (int j = 0; j < Site::kGroups; ++j) {
                const int64_t grp = site.group0 + j;
                uint32_t code = kSparse24PadCode;
                if (grp < G) {
                    uint8_t c = code24_from_mask(bitmask_group_nibble(mrow, grp));
                    if (c == 0xFF) atomicMin(error, static_cast<unsigned long long>(row * (G + 1) + 1 + grp));
                    else code = c;
                } else if (grp == G && (K % 8) != 0 && (mrow[nbytes - 1] >> (K % 8)) != 0) {
                    atomicMin(error, static_cast<unsigned long long>(row * (G + 1)));  // padding bits set
                }
                e |= code << (ES == 2 ? 16 * ri + 4 * j : 4 * j);
            }
        } else {
#pragma unroll
            for (int j = 0; j < Site::kGroups; ++j) e |= uint32_t(kSparse24PadCode) << (ES == 2 ? 16 * ri + 4 * j : 4 * j);
        }
        *reinterpret_cast<uint4*>(values + (row * (Kp / 2) + 2 * site.group0) * ES) = kept;
    }
    meta[word] = e;
}

// 8-bit bitmask -> kernel layout, TWO metadata words per thread (the fast path, as
// compress_dense8_x2_kernel for the dense input: compressed rows 16-byte aligned and
// K % 32 == 0, so every 32-K half of a 64-K block is wholly inside or past K). Thread
// (r = blockIdx.y, p, g, t), t in {0, 1}, owns row 16r + g + 8t over K [64p, 64p + 64):
// 32 contiguous bytes of compressed values in (two 16-byte loads; kept values are
// already in the kernel's order, so they are copied), 8 bytes of bitmask in (two 4-byte
// loads: 16 nibbles = 16 group codes), 32 bytes out (two 16-byte stores) and the words of
// lanes 4g + t and 4g + t + 2 of block (r, p). A nibble's code comes from the 16-entry
// table kCode24ForNonzerosLut (for a nibble with two bits set it is exactly those two
// positions) and its validity from one 16-bit constant, so a group costs a few shifts;
// the generic kernel paid a 64-bit division per word and a byte load per group.
// compressed: [N, K/2] u8, bitmask: [N, K/8] u8 (K % 8 == 0: no padding bits).
__global__ void compress_bitmask8_x2_kernel(const uint8_t* __restrict__ compressed, const uint8_t* __restrict__ bitmask,
                                            uint8_t* __restrict__ values, uint32_t* __restrict__ meta, int64_t N,
                                            int64_t K, int64_t Kp, unsigned long long* __restrict__ error) {
    const X2Site site(Kp);
    if (!site.valid) return;
    const int64_t p = site.p, row = site.row, G = K / 4;
    uint4 kept[2] = {make_uint4(0, 0, 0, 0), make_uint4(0, 0, 0, 0)};
    uint32_t nib[2] = {0, 0};  // 8 nibbles each: groups 16p + 8h .. + 7
    if (row < N) {
        const uint4* src = reinterpret_cast<const uint4*>(compressed + row * (K / 2) + 32 * p);
        const uint32_t* msrc = reinterpret_cast<const uint32_t*>(bitmask + row * (K / 8) + 8 * p);
#pragma unroll
        for (int h = 0; h < 2; ++h)
            if (64 * p + 32 * h < K) kept[h] = src[h], nib[h] = msrc[h];
    }
    // Bit n of kTwoBits: nibble n has exactly two bits set (3, 5, 6, 9, 10, 12).
    constexpr uint32_t kTwoBits = 0x1668u;
    uint32_t e[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        if (row >= N || 64 * p + 32 * h >= K) {
            e[h] = 0x44444444u;  // padding groups: code 0x4, values +0
            continue;
        }
        uint32_t word = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const uint32_t m = (nib[h] >> (4 * j)) & 0xFu;
            if (!((kTwoBits >> m) & 1u))
                atomicMin(error, static_cast<unsigned long long>(row * (G + 1) + 1 + 16 * p + 8 * h + j));
            word |= (static_cast<uint32_t>(kCode24ForNonzerosLut >> (4 * m)) & 0xFu) << (4 * j);
        }
        e[h] = word;
    }
    site.store(values, meta, Kp, kept[0], kept[1], e[0], e[1]);
}

// ---- bitmask -> dense -------------------------------------------------------------

// One thread per bitmask byte (row, b): dense columns [8b, 8b + 8) from compressed
// slots [4b, 4b + 4). out: [N, K]. vec: dense rows 16-byte aligned (K * ES % 16 == 0).
template <int ES>
__global__ void bitmask_to_dense_kernel(const uint8_t* __restrict__ compressed, const uint8_t* __restrict__ bitmask,
                                        uint8_t* __restrict__ out, int64_t N, int64_t K, bool vec,
                                        unsigned long long* __restrict__ error) {
    const int64_t nbytes = (K + 7) / 8, G = K / 4;
    const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= N * nbytes) return;
    const int64_t row = idx / nbytes, b = idx % nbytes;
    const uint8_t m = bitmask[idx];
    const int ngroups = (2 * b + 1 < G) ? 2 : 1;
    uint8_t dense[8 * ES] = {};
    const uint8_t* src = compressed + (row * (K / 2) + 4 * b) * ES;
    if (ngroups == 1 && (m >> 4) != 0) atomicMin(error, static_cast<unsigned long long>(row * (G + 1)));
    for (int j = 0; j < ngroups; ++j) {
        const uint8_t nib = (m >> (4 * j)) & 0xF;
        const uint8_t code = code24_from_mask(nib);
        if (code == 0xFF) {
            atomicMin(error, static_cast<unsigned long long>(row * (G + 1) + 1 + 2 * b + j));
            continue;
        }
        const int pos[2] = {code24_idx0(code), code24_idx1(code)};
        for (int s = 0; s < 2; ++s)
            for (int q = 0; q < ES; ++q) dense[(4 * j + pos[s]) * ES + q] = src[(2 * j + s) * ES + q];
    }
    uint8_t* dst = out + (row * K + 8 * b) * ES;
    if (vec && ngroups == 2) {
        if (ES == 2) {
            uint4 v;
            std::memcpy(&v, dense, 16);
            *reinterpret_cast<uint4*>(dst) = v;
        } else {
            uint2 v;
            std::memcpy(&v, dense, 8);
            *reinterpret_cast<uint2*>(dst) = v;
        }
    } else {
        for (int q = 0; q < 4 * ngroups * ES; ++q) dst[q] = dense[q];
    }
}

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// Throws the message of the first dense-weight error (key = row * (G+1) + 1 + group).
void raise_dense_error(const Tensor& w, unsigned long long key, const char* what) {
    const int64_t K = w.shape[1], G = K / 4, row = key / (G + 1), group = key % (G + 1) - 1;
    const size_t es = dtype_size(w.dtype);
    uint8_t bytes[8];
    CUDA_CHECK(cudaMemcpy(bytes, static_cast<const char*>(w.raw()) + (row * K + 4 * group) * es, 4 * es,
                          cudaMemcpyDeviceToHost));
    int count = 0;
    for (int q = 0; q < 4; ++q) {
        uint32_t v = es == 2 ? bytes[2 * q] | (bytes[2 * q + 1] << 8) : bytes[q];
        count += (v & nonzero_bits(w.dtype)) != 0;
    }
    throw Error(cat(what, ": row ", row, ", group ", group, " (columns ", 4 * group, "..", 4 * group + 3, ") has ",
                    count, " nonzeros; 2:4 allows at most 2"));
}

// Throws the message of the first bitmask error (key = row * (G+1) [+ 1 + group]).
void raise_bitmask_error(const Tensor& bitmask, int64_t K, unsigned long long key, const char* what) {
    const int64_t G = K / 4, nbytes = (K + 7) / 8, row = key / (G + 1), slot = key % (G + 1);
    if (slot == 0) {
        uint8_t last = 0;
        CUDA_CHECK(cudaMemcpy(&last, static_cast<const uint8_t*>(bitmask.raw()) + row * nbytes + nbytes - 1, 1,
                              cudaMemcpyDeviceToHost));
        throw Error(cat(what, ": bitmask: row ", row, " has padding bits set past column ", K - 1, " (last byte 0x",
                        std::hex, int(last), std::dec, "); padding must be 0"));
    }
    const int64_t group = slot - 1;
    uint8_t byte = 0;
    CUDA_CHECK(cudaMemcpy(&byte, static_cast<const uint8_t*>(bitmask.raw()) + row * nbytes + group / 2, 1,
                          cudaMemcpyDeviceToHost));
    const uint8_t nib = (byte >> (4 * (group & 1))) & 0xF;
    throw Error(cat(what, ": bitmask: row ", row, ", group ", group, " (columns ", 4 * group, "..", 4 * group + 3,
                    ") has nibble 0x", std::hex, int(nib), std::dec, " with ", popcount4(nib),
                    " bits set; 2:4 needs exactly 2"));
}

void expect_bitmask_inputs(const Tensor& compressed, const Tensor& bitmask, int64_t K, const char* what) {
    expect_device_2d(compressed, cat(what, ": compressed").c_str());
    expect_device_2d(bitmask, cat(what, ": bitmask").c_str());
    expect_value_dtype(compressed.dtype, cat(what, ": compressed").c_str());
    expect_dtype(bitmask, DType::U8, cat(what, ": bitmask"));
    CTK_CHECK(K >= 4 && K % 4 == 0, what, ": K must be a positive multiple of 4 for 2:4 groups, found K = ", K);
    const int64_t N = compressed.shape[0];
    CTK_CHECK(N >= 1, what, ": compressed: expected at least one row, found ", shape_str(compressed.shape));
    expect_shape(compressed, {N, K / 2}, cat(what, ": compressed (for K = ", K, ")"));
    expect_shape(bitmask, {N, (K + 7) / 8}, cat(what, ": bitmask (ceil(K/8) bytes per row of compressed)"));
}

void expect_kernel_weight(const Sparse24KernelWeight& out, int64_t N, int64_t K, DType dtype, const char* what) {
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
    CTK_CHECK(out.N == N && out.K == K && out.dtype == dtype, what, ": out: expected a ", dtype_name(dtype),
              " weight of N = ", N, ", K = ", K, " (from sparse24_alloc), found ", dtype_name(out.dtype), " N = ",
              out.N, ", K = ", out.K);
    CTK_CHECK(out.values.device == Device::CUDA && out.meta.device == Device::CUDA, what,
              ": out: tensors must be on the device");
    expect_shape(out.values, {Np, Kp / 2}, cat(what, ": out.values"));
    expect_dtype(out.values, dtype, cat(what, ": out.values"));
    expect_shape(out.meta, {Np / 16, Kp / 64, 32}, cat(what, ": out.meta"));
    expect_dtype(out.meta, DType::I32, cat(what, ": out.meta"));
}

}  // namespace

Sparse24KernelWeight sparse24_alloc(int64_t N, int64_t K, DType dtype) {
    expect_value_dtype(dtype, "sparse24_alloc: dtype");
    CTK_CHECK(N >= 1 && K >= 4 && K % 4 == 0, "sparse24_alloc: expected N >= 1 and K a positive multiple of 4, found N = ",
              N, ", K = ", K);
    Sparse24KernelWeight w;
    w.N = N;
    w.K = K;
    w.dtype = dtype;
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
    w.values = device_empty(dtype, {Np, Kp / 2});
    w.meta = device_empty(DType::I32, {Np / 16, Kp / 64, 32});
    return w;
}

void sparse24_compress_into(const Tensor& w_dev, Sparse24KernelWeight& out, bool check) {
    const char* what = "sparse24_compress: w";
    expect_device_2d(w_dev, what);
    expect_value_dtype(w_dev.dtype, what);
    const int64_t N = w_dev.shape[0], K = w_dev.shape[1];
    CTK_CHECK(N >= 1 && K >= 4 && K % 4 == 0, what, ": expected [N, K] with N >= 1 and K a positive multiple of 4, found ",
              shape_str(w_dev.shape));
    expect_kernel_weight(out, N, K, w_dev.dtype, "sparse24_compress_into");
    const int64_t Kp = sparse24_padded_k(K), nwords = out.meta.numel();
    const size_t es = dtype_size(w_dev.dtype);
    CTK_CHECK(reinterpret_cast<uintptr_t>(w_dev.raw()) % (4 * es) == 0, what, ": expected rows aligned to a group (",
              4 * es, " bytes); found a misaligned view");
    const bool vec16 = (K * es) % 16 == 0 && reinterpret_cast<uintptr_t>(w_dev.raw()) % 16 == 0;
    reset_error();
    auto* wp = static_cast<const uint8_t*>(w_dev.raw());
    auto* vp = static_cast<uint8_t*>(out.values.raw());
    auto* mp = reinterpret_cast<uint32_t*>(out.meta.raw());
    const int64_t Np = sparse24_padded_rows(N);
    if (es == 2) {
        compress_dense_kernel<2><<<blocks_for(nwords), kThreads>>>(wp, vp, mp, N, K, Kp, nwords,
                                                                    nonzero_bits(w_dev.dtype), vec16, error_slot());
    } else if (vec16 && Np / 16 <= 65535) {  // the row tile is blockIdx.y
        const uint32_t nz4 = nonzero_bits(w_dev.dtype) * 0x01010101u;
        const dim3 grid(static_cast<unsigned>(blocks_for(Kp / 64 * 16)), static_cast<unsigned>(Np / 16));
        compress_dense8_x2_kernel<<<grid, kThreads>>>(wp, vp, mp, N, K, Kp, nz4, error_slot());
    } else
        compress_dense_kernel<1><<<blocks_for(nwords), kThreads>>>(wp, vp, mp, N, K, Kp, nwords,
                                                                    nonzero_bits(w_dev.dtype), vec16, error_slot());
    CUDA_CHECK_LAUNCH();
    if (check) sparse24_compress_check(w_dev);
}

void sparse24_compress_check(const Tensor& w_dev) {
    unsigned long long key = read_error();
    if (key != kNoError) raise_dense_error(w_dev, key, "sparse24_compress: w");
}

Sparse24KernelWeight sparse24_compress(const Tensor& w_dev) {
    expect_device_2d(w_dev, "sparse24_compress: w");
    expect_value_dtype(w_dev.dtype, "sparse24_compress: w");
    CTK_CHECK(w_dev.shape[0] >= 1 && w_dev.shape[1] >= 4 && w_dev.shape[1] % 4 == 0,
              "sparse24_compress: w: expected [N, K] with N >= 1 and K a positive multiple of 4, found ",
              shape_str(w_dev.shape));
    Sparse24KernelWeight out = sparse24_alloc(w_dev.shape[0], w_dev.shape[1], w_dev.dtype);
    sparse24_compress_into(w_dev, out, true);
    return out;
}

void sparse24_from_bitmask_into(const Tensor& compressed, const Tensor& bitmask, int64_t K, Sparse24KernelWeight& out,
                                bool check) {
    const char* what = "sparse24_from_bitmask";
    expect_bitmask_inputs(compressed, bitmask, K, what);
    const int64_t N = compressed.shape[0];
    expect_kernel_weight(out, N, K, compressed.dtype, "sparse24_from_bitmask_into");
    const int64_t Kp = sparse24_padded_k(K), nwords = out.meta.numel();
    const size_t es = dtype_size(compressed.dtype);
    const bool vec16 = ((K / 2) * es) % 16 == 0 && reinterpret_cast<uintptr_t>(compressed.raw()) % 16 == 0;
    reset_error();
    auto* cp = static_cast<const uint8_t*>(compressed.raw());
    auto* bp = static_cast<const uint8_t*>(bitmask.raw());
    auto* vp = static_cast<uint8_t*>(out.values.raw());
    auto* mp = reinterpret_cast<uint32_t*>(out.meta.raw());
    const int64_t Np = sparse24_padded_rows(N);
    if (es == 2) {
        compress_bitmask_kernel<2><<<blocks_for(nwords), kThreads>>>(cp, bp, vp, mp, N, K, Kp, nwords, vec16,
                                                                      error_slot());
    } else if (vec16 && K % 32 == 0 && reinterpret_cast<uintptr_t>(bp) % 4 == 0 && Np / 16 <= 65535) {
        // K % 32 == 0: compressed rows are 16-byte multiples, bitmask rows 4-byte multiples.
        const dim3 grid(static_cast<unsigned>(blocks_for(Kp / 64 * 16)), static_cast<unsigned>(Np / 16));
        compress_bitmask8_x2_kernel<<<grid, kThreads>>>(cp, bp, vp, mp, N, K, Kp, error_slot());
    } else
        compress_bitmask_kernel<1><<<blocks_for(nwords), kThreads>>>(cp, bp, vp, mp, N, K, Kp, nwords, vec16,
                                                                      error_slot());
    CUDA_CHECK_LAUNCH();
    if (check) {
        unsigned long long key = read_error();
        if (key != kNoError) raise_bitmask_error(bitmask, K, key, what);
    }
}

Sparse24KernelWeight sparse24_from_bitmask(const Tensor& compressed, const Tensor& bitmask, int64_t K) {
    expect_bitmask_inputs(compressed, bitmask, K, "sparse24_from_bitmask");
    Sparse24KernelWeight out = sparse24_alloc(compressed.shape[0], K, compressed.dtype);
    sparse24_from_bitmask_into(compressed, bitmask, K, out, true);
    return out;
}

Tensor sparse24_bitmask_to_dense(const Tensor& compressed, const Tensor& bitmask, int64_t K) {
    const char* what = "sparse24_bitmask_to_dense";
    expect_bitmask_inputs(compressed, bitmask, K, what);
    const int64_t N = compressed.shape[0];
    const size_t es = dtype_size(compressed.dtype);
    Tensor out = device_empty(compressed.dtype, {N, K});
    const bool vec = (K * es) % 16 == 0;
    reset_error();
    auto* cp = static_cast<const uint8_t*>(compressed.raw());
    auto* bp = static_cast<const uint8_t*>(bitmask.raw());
    auto* op = static_cast<uint8_t*>(out.raw());
    const int64_t n = N * ((K + 7) / 8);
    if (es == 2) bitmask_to_dense_kernel<2><<<blocks_for(n), kThreads>>>(cp, bp, op, N, K, vec, error_slot());
    else bitmask_to_dense_kernel<1><<<blocks_for(n), kThreads>>>(cp, bp, op, N, K, vec, error_slot());
    CUDA_CHECK_LAUNCH();
    unsigned long long key = read_error();
    if (key != kNoError) raise_bitmask_error(bitmask, K, key, what);
    return out;
}

}  // namespace ctk::cuda
