// cuda/quant.cu: activation quantization, int8 and fp8 e4m3, static and dynamic, per token
// and per tensor. The kernels behind Sparse24Linear.apply's first step.
//
// What it computes (contract and NaN/Inf rules: src/ref/quant.h, docs/quant.md):
//   x: [M, H] f32, f16 or bf16, rows row_stride elements apart, any H >= 1.
//   q: [M, H] i8 or f8e4m3, contiguous. scale: f32 [M] (per token) or [1]. azp: i32, same.
//   int8 static         q = sat8(rne(x / s))
//   int8 static azp     q = sat8(sat32(rne(x * (1/s))) + azp)
//   int8 per token      s = amax/127, q = sat8(rne(x * (amax == 0 ? 0 : 127/amax)))
//   int8 per token azp  s = (max-min)/255, azp = sat32(rne(-128 - min/s)), q as static azp
//   fp8 static          q = e4m3(clamp(x * (1/s)))
//   fp8 per token       s = max(min(amax, ub)/448, 1/(448*512)), q = e4m3(clamp(x / s))
//   fp8 per tensor      s = amax/448 over the tensor, q = e4m3(clamp(x * (s == 0 ? 0 : 1/s)))
// Every code and every scale equals the CPU reference bit for bit. The fp32 operations are
// written with __fdiv_rn / __fmul_rn / __fsub_rn so that nvcc can neither fuse them into an
// FMA nor swap a division for a reciprocal multiply: x / s and x * (1/s) round differently.
//
// The ladder:
//  v1 (quant_v1): one block of 256 threads per row, plain strided loops. Dynamic variants
//     read the row twice (max pass, then quantize pass; the second read mostly hits L2),
//     reduce through a shared-memory tree, and convert fp8 with the same formats/ encoder as
//     the reference. Per-tensor: one block per row does an atomicMax of rowmax/448, then the
//     static-style pass. Easy to check. Measured on an H100 at 16384x8192 bf16:
//     1.0-1.4 TB/s (0.76 per tensor), about 40% of a device copy (docs/quant.md).
//  v2 (quant_v2): the row is loaded once, with 16-byte loads, into registers (VPT vectors
//     per thread); the max is reduced by warp shuffles (plus shared memory when a row spans
//     several warps) and the codes are computed from the registers, so dynamic variants read
//     x exactly once. One row per warp for short rows (several rows per block), one row per
//     block up to 1024 threads for long rows; rows whose start is not 16-byte aligned (any H,
//     any row_stride) get a scalar head and tail. Codes are stored 8 (4 for f32) at a time
//     when the output row is aligned, byte by byte otherwise; fp8 uses the hardware
//     cvt.rn.satfinite.e4m3x2.f32 (two codes per instruction). Per-tensor: a grid-stride
//     max pass (one atomicMax per block) and the register pass: two reads of x, so its
//     ceiling is 3/5 of a copy. Rows longer than 8 vectors x 1024 threads (65536 bf16
//     elements) fall back to v1. Measured at 16384x8192 bf16: 2.46-2.94 TB/s (0.85-1.01x the
//     2.91 TB/s copy), per tensor 1.74 TB/s (99% of its two-read ceiling). The asymmetric
//     codes first took the exact int64 path per element (branches; 2.22 / 1.82 TB/s static /
//     dynamic); AzpClamp, an exact shortcut for |azp| <= 2^23, brought them to 2.94 / 2.71.
//     The two variants that divide (int8 static 2.68, fp8 per token 2.46) are now the
//     slowest: div.rn.f32 expands to a reciprocal, correction steps and a range check, and a
//     reciprocal multiply would change codes.
//
// Test: ctk_tests -ts=gpu -tc='*quant*'   Bench: ctk bench quant
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "check.cuh"
#include "formats/formats.h"
#include "ops.h"

namespace ctk::cuda {
namespace {

// vLLM's min_scaling_factor<fp8>, the same constant as ref::kFp8MinScale (the tests compare
// the scales bit for bit, so a difference would show).
constexpr float kFp8MinScale = 1.0f / (448.0f * 512.0f);

// Everything a kernel needs, passed by value.
struct Params {
    const void* x;       // [M, H] In, rows row_stride elements apart
    int64_t m, h, row_stride;
    uint8_t* q;          // [M, H] codes (i8 or e4m3 bits), contiguous
    float* scale;        // [M] or [1]
    int32_t* azp;        // [M] or [1] for the azp variants, else nullptr
    float static_scale;  // static variants
    int32_t static_azp;  // Int8StaticAzp
    float scale_ub;      // Fp8DynamicPerToken, <= 0: none
};

constexpr bool is_per_token(QuantOp op) {
    return op == QuantOp::Int8DynamicPerToken || op == QuantOp::Int8DynamicPerTokenAzp ||
           op == QuantOp::Fp8DynamicPerToken;
}
constexpr bool is_fp8(QuantOp op) {
    return op == QuantOp::Fp8Static || op == QuantOp::Fp8DynamicPerToken || op == QuantOp::Fp8DynamicPerTensor;
}
constexpr bool has_azp(QuantOp op) { return op == QuantOp::Int8StaticAzp || op == QuantOp::Int8DynamicPerTokenAzp; }

// ---- element conversions ---------------------------------------------------------------

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16_t v) { return __uint_as_float(static_cast<uint32_t>(v.bits) << 16); }
__device__ __forceinline__ float to_f32(fp16_t v) { return __half2float(__ushort_as_half(v.bits)); }

// The 16/sizeof(In) values of one 16-byte load, in memory order (little-endian halves).
template <class In>
__device__ __forceinline__ void unpack(const uint4& v, float* f);
template <>
__device__ __forceinline__ void unpack<float>(const uint4& v, float* f) {
    f[0] = __uint_as_float(v.x), f[1] = __uint_as_float(v.y), f[2] = __uint_as_float(v.z), f[3] = __uint_as_float(v.w);
}
template <>
__device__ __forceinline__ void unpack<bf16_t>(const uint4& v, float* f) {
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) f[2 * i] = __uint_as_float(w[i] << 16), f[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
}
template <>
__device__ __forceinline__ void unpack<fp16_t>(const uint4& v, float* f) {
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        f[2 * i] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] & 0xFFFFu)));
        f[2 * i + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] >> 16)));
    }
}

// sat8(rne(v)), NaN -> 0. Clamping to the integer bounds first gives the same result as
// saturating after rounding, and keeps the conversion in range whatever the hardware does
// with out-of-range values.
__device__ __forceinline__ int32_t int8_code(float v) {
    const int32_t r = __float2int_rn(fminf(fmaxf(v, -128.0f), 127.0f));  // computed for NaN too:
    return v != v ? 0 : r;                                                  // a select, no branch
}
// sat32(rne(v)), NaN -> 0 (2147483520 is the largest fp32 below 2^31).
__device__ __forceinline__ int32_t int32_code(float v) {
    if (v != v) return 0;
    if (v >= 2147483648.0f) return INT32_MAX;
    if (v <= -2147483648.0f) return INT32_MIN;
    return __float2int_rn(v);
}
// sat8 of the exact sum sat32(rne(v)) + azp (int64: no wrap).
__device__ __forceinline__ int32_t azp_code(float v, int32_t azp) {
    const int64_t t = static_cast<int64_t>(int32_code(v)) + azp;
    return static_cast<int32_t>(t > 127 ? 127 : (t < -128 ? -128 : t));
}
// v1: the reference's own encoder from formats/ (clamp keeping NaN, RNE, NaN -> 0x7F).
__device__ __forceinline__ uint32_t fp8_code_v1(float v) { return e4m3_from_float(e4m3_clamp(v)); }
// v2: two codes with one hardware cvt.rn.satfinite.e4m3x2.f32 (lo in the low byte). The
// clamp makes satfinite irrelevant; NaN lanes are forced to 0x7F (the reference's NaN code).
__device__ __forceinline__ uint32_t fp8x2_code(float lo, float hi) {
    const float2 c = make_float2(fminf(fmaxf(lo, -448.0f), 448.0f), fminf(fmaxf(hi, -448.0f), 448.0f));
    uint32_t r = __nv_cvt_float2_to_fp8x2(c, __NV_SATFINITE, __NV_E4M3);
    if (lo != lo) r = (r & 0xFF00u) | 0x007Fu;
    if (hi != hi) r = (r & 0x00FFu) | 0x7F00u;
    return r;
}

// ---- statistics of a row: amax (|x| max) or min/max, NaN ignored (fmaxf/fminf) ----------

struct Stats {
    float amax, mn, mx;
};
__device__ __forceinline__ Stats stats_identity() { return {0.0f, FLT_MAX, -FLT_MAX}; }
template <QuantOp OP>
__device__ __forceinline__ void stats_add(Stats& s, float v) {
    if constexpr (OP == QuantOp::Int8DynamicPerTokenAzp) {
        s.mn = fminf(s.mn, v);
        s.mx = fmaxf(s.mx, v);
    } else {
        s.amax = fmaxf(s.amax, fabsf(v));
    }
}
template <QuantOp OP>
__device__ __forceinline__ Stats stats_merge(Stats a, const Stats& b) {
    if constexpr (OP == QuantOp::Int8DynamicPerTokenAzp) {
        a.mn = fminf(a.mn, b.mn);
        a.mx = fmaxf(a.mx, b.mx);
    } else {
        a.amax = fmaxf(a.amax, b.amax);
    }
    return a;
}
template <QuantOp OP>
__device__ __forceinline__ Stats warp_reduce(Stats s) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        Stats o;
        o.amax = __shfl_xor_sync(0xFFFFFFFFu, s.amax, off);
        o.mn = __shfl_xor_sync(0xFFFFFFFFu, s.mn, off);
        o.mx = __shfl_xor_sync(0xFFFFFFFFu, s.mx, off);
        s = stats_merge<OP>(s, o);
    }
    return s;
}

// ---- per-row coefficients: the scale written out, the multiplier, the zero point -------

struct Coef {
    float s;      // the scale (divisor for Int8Static and Fp8DynamicPerToken)
    float inv;    // the multiplier for the others
    int32_t azp;  // azp variants
};

// tensor_s: the per-tensor scale from the max pass (Fp8DynamicPerTensor only).
template <QuantOp OP>
__device__ __forceinline__ Coef row_coef(const Params& p, const Stats& st, float tensor_s) {
    Coef c{0.0f, 0.0f, 0};
    if constexpr (OP == QuantOp::Int8Static) {
        c.s = p.static_scale;
    } else if constexpr (OP == QuantOp::Int8StaticAzp) {
        c.s = p.static_scale;
        c.inv = __fdiv_rn(1.0f, p.static_scale);
        c.azp = p.static_azp;
    } else if constexpr (OP == QuantOp::Fp8Static) {
        c.s = p.static_scale;
        c.inv = __fdiv_rn(1.0f, p.static_scale);
    } else if constexpr (OP == QuantOp::Int8DynamicPerToken) {
        c.s = __fdiv_rn(st.amax, 127.0f);
        c.inv = st.amax == 0.0f ? 0.0f : __fdiv_rn(127.0f, st.amax);
    } else if constexpr (OP == QuantOp::Int8DynamicPerTokenAzp) {
        float s = __fdiv_rn(__fsub_rn(st.mx, st.mn), 255.0f);
        if (s == 0.0f) s = 0.0f;  // -0 -> +0, as the reference (signed zeros from fmin/fmax)
        c.s = s;
        c.azp = int32_code(__fsub_rn(-128.0f, __fdiv_rn(st.mn, s)));
        c.inv = __fdiv_rn(1.0f, s);
    } else if constexpr (OP == QuantOp::Fp8DynamicPerToken) {
        const float a = p.scale_ub > 0.0f ? fminf(st.amax, p.scale_ub) : st.amax;
        c.s = fmaxf(__fdiv_rn(a, 448.0f), kFp8MinScale);
    } else {  // Fp8DynamicPerTensor
        c.s = tensor_s;
        c.inv = tensor_s == 0.0f ? 0.0f : __fdiv_rn(1.0f, tensor_s);
    }
    return c;
}

// The value that gets rounded to a code (before the int or fp8 conversion).
template <QuantOp OP>
__device__ __forceinline__ float scaled(float v, const Coef& c) {
    if constexpr (OP == QuantOp::Int8Static || OP == QuantOp::Fp8DynamicPerToken)
        return __fdiv_rn(v, c.s);  // vLLM divides here
    else
        return __fmul_rn(v, c.inv);  // and multiplies by the reciprocal everywhere else
}

// One int8 code (as its byte) from a scaled value.
template <QuantOp OP>
__device__ __forceinline__ uint32_t int_code(float t, const Coef& c) {
    if constexpr (has_azp(OP))
        return static_cast<uint8_t>(azp_code(t, c.azp));
    else
        return static_cast<uint8_t>(int8_code(t));
}

// Scale (and azp) outputs: per token one per row; static ones once (row 0). The per-tensor
// scale was written by the max pass.
template <QuantOp OP>
__device__ __forceinline__ void store_scale(const Params& p, int64_t row, const Coef& c) {
    if constexpr (OP == QuantOp::Fp8DynamicPerTensor) return;
    const int64_t i = is_per_token(OP) ? row : 0;
    if (!is_per_token(OP) && row != 0) return;
    p.scale[i] = c.s;
    if constexpr (has_azp(OP)) p.azp[i] = c.azp;
}

// ================================ v1: readable =============================================

constexpr int kV1Threads = 256;

// Tree reduction over the block in shared memory (blockDim.x == kV1Threads, a power of 2).
template <QuantOp OP>
__device__ Stats block_reduce_v1(Stats st) {
    __shared__ Stats sh[kV1Threads];
    sh[threadIdx.x] = st;
    __syncthreads();
    for (int half = kV1Threads / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) sh[threadIdx.x] = stats_merge<OP>(sh[threadIdx.x], sh[threadIdx.x + half]);
        __syncthreads();
    }
    return sh[0];
}

// One block per row: statistics (dynamic per token), coefficients, then the codes.
template <class In, QuantOp OP>
__global__ void __launch_bounds__(kV1Threads) quant_v1(Params p) {
    const int64_t row = blockIdx.x;
    const In* x = static_cast<const In*>(p.x) + row * p.row_stride;
    uint8_t* q = p.q + row * p.h;

    Stats st = stats_identity();
    if constexpr (is_per_token(OP)) {
        for (int64_t j = threadIdx.x; j < p.h; j += blockDim.x) stats_add<OP>(st, to_f32(x[j]));
        st = block_reduce_v1<OP>(st);
    }
    const float tensor_s = OP == QuantOp::Fp8DynamicPerTensor ? p.scale[0] : 0.0f;
    const Coef c = row_coef<OP>(p, st, tensor_s);
    if (threadIdx.x == 0) store_scale<OP>(p, row, c);

    for (int64_t j = threadIdx.x; j < p.h; j += blockDim.x) {
        const float t = scaled<OP>(to_f32(x[j]), c);
        q[j] = static_cast<uint8_t>(is_fp8(OP) ? fp8_code_v1(t) : int_code<OP>(t, c));
    }
}

// Per-tensor max pass: one block per row, atomicMax of rowmax/448 on the scale's bits.
// amax >= 0 and never NaN, so the fp32 bit patterns order like the values; division by
// 448 is monotone, so max(rowmax/448) == (max rowmax)/448 exactly.
template <class In>
__global__ void __launch_bounds__(kV1Threads) tensor_amax_v1(Params p) {
    const int64_t row = blockIdx.x;
    const In* x = static_cast<const In*>(p.x) + row * p.row_stride;
    Stats st = stats_identity();
    for (int64_t j = threadIdx.x; j < p.h; j += blockDim.x) stats_add<QuantOp::Fp8DynamicPerTensor>(st, to_f32(x[j]));
    st = block_reduce_v1<QuantOp::Fp8DynamicPerTensor>(st);
    if (threadIdx.x == 0) atomicMax(reinterpret_cast<unsigned*>(p.scale), __float_as_uint(__fdiv_rn(st.amax, 448.0f)));
}

// ================================ v2: row in registers =====================================

// Row split for 16-byte loads: `head` scalar elements until x is 16-byte aligned, `nvec`
// whole vectors, `tail` scalar elements.
struct RowSplit {
    int head;
    int64_t nvec;
    int tail;
};
template <class In>
__device__ __forceinline__ RowSplit split_row(const In* x, int64_t h) {
    constexpr int V = 16 / sizeof(In);
    const int to_align = static_cast<int>((16 - (reinterpret_cast<uintptr_t>(x) & 15)) & 15) / static_cast<int>(sizeof(In));
    RowSplit s;
    s.head = static_cast<int>(h < to_align ? h : to_align);
    s.nvec = (h - s.head) / V;
    s.tail = static_cast<int>(h - s.head - s.nvec * V);
    return s;
}

// A row's statistics over its `tpr` threads: warp shuffles, then shared memory across the
// row's warps when it spans several. Every thread of the block must call it.
template <QuantOp OP>
__device__ __forceinline__ Stats row_reduce(Stats st, int tpr, int group) {
    st = warp_reduce<OP>(st);
    if (tpr > 32) {  // uniform over the block
        __shared__ Stats part[32];
        const int wpr = tpr / 32;
        if ((threadIdx.x & 31) == 0) part[threadIdx.x / 32] = st;
        __syncthreads();
        st = part[group * wpr];
        for (int w = 1; w < wpr; ++w) st = stats_merge<OP>(st, part[group * wpr + w]);
    }
    return st;
}

// int8 code functors for v2 (fp8 ignores them).
struct Int8Code {
    __device__ __forceinline__ uint32_t operator()(float t) const { return static_cast<uint8_t>(int8_code(t)); }
};
struct AzpExact {  // sat8(sat32(rne(t)) + azp) for any azp
    int32_t azp;
    __device__ __forceinline__ uint32_t operator()(float t) const { return static_cast<uint8_t>(azp_code(t, azp)); }
};
// The same function for |azp| <= 2^23 in fewer instructions: the code is a monotone step
// function of t that saturates below -128 - azp and above 127 - azp. Those bounds are
// integers exactly representable in fp32, so clamping t to them before rounding gives the
// same integer as saturating after, the sum needs no saturation, and sat32 never engages
// (|rne(t)| <= 2^24 after the clamp). NaN gives sat8(0 + azp).
struct AzpClamp {
    float lo, hi;
    int32_t azp;
    uint32_t nan_code;
    __device__ static bool applies(int32_t azp) { return azp >= -(1 << 23) && azp <= (1 << 23); }
    __device__ explicit AzpClamp(int32_t z)
        : lo(static_cast<float>(-128 - z)), hi(static_cast<float>(127 - z)), azp(z),
          nan_code(static_cast<uint8_t>(z > 127 ? 127 : (z < -128 ? -128 : z))) {}
    __device__ __forceinline__ uint32_t operator()(float t) const {
        const uint32_t code = static_cast<uint8_t>(__float2int_rn(fminf(fmaxf(t, lo), hi)) + azp);
        return t != t ? nan_code : code;
    }
};

// v2 step 3: the codes of one row from the registers, V per vector packed into V/4 words
// (8-byte or 4-byte stores when the output row is aligned, bytes otherwise), then the
// scalar head and tail elements.
template <class In, QuantOp OP, int VPT, class IntCode>
__device__ __forceinline__ void write_codes(const Params& p, int64_t row, int lane, int tpr, const RowSplit& rs,
                                            const uint4 (&buf)[VPT], float head_v, float tail_v, bool has_head,
                                            bool has_tail, const Coef& c, const IntCode& int_code_of) {
    constexpr int V = 16 / sizeof(In);
    uint8_t* q = p.q + row * p.h;
    uint8_t* qv = q + rs.head;
    const bool q_aligned = (reinterpret_cast<uintptr_t>(qv) % V) == 0;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
        const int64_t k = lane + static_cast<int64_t>(i) * tpr;
        if (k >= rs.nvec) break;
        float f[V];
        unpack<In>(buf[i], f);
        uint32_t w[V / 4] = {};
#pragma unroll
        for (int e = 0; e < V; e += 2) {
            const float t0 = scaled<OP>(f[e], c), t1 = scaled<OP>(f[e + 1], c);
            const uint32_t two = is_fp8(OP) ? fp8x2_code(t0, t1) : (int_code_of(t0) | int_code_of(t1) << 8);
            w[e / 4] |= two << (8 * (e % 4));
        }
        uint8_t* dst = qv + k * V;
        if (q_aligned) {
            if constexpr (V == 8)
                *reinterpret_cast<uint2*>(dst) = make_uint2(w[0], w[1]);
            else
                *reinterpret_cast<uint32_t*>(dst) = w[0];
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e) dst[e] = static_cast<uint8_t>(w[e / 4] >> (8 * (e % 4)));
        }
    }
    if (has_head || has_tail) {
        auto one = [&](float v) -> uint8_t {
            const float t = scaled<OP>(v, c);
            return static_cast<uint8_t>(is_fp8(OP) ? (fp8x2_code(t, 0.0f) & 0xFFu) : int_code_of(t));
        };
        if (has_head) q[lane] = one(head_v);
        if (has_tail) q[rs.head + rs.nvec * V + lane] = one(tail_v);
    }
}

// Row groups of `tpr` threads (a multiple of 32), blockDim.x / tpr rows per block. Thread
// `lane` of a group holds vectors lane, lane + tpr, ... (VPT of them), the head element
// `lane` and the tail element `lane`.
template <class In, QuantOp OP, int VPT>
__global__ void __launch_bounds__(1024) quant_v2(Params p, int tpr) {
    constexpr int V = 16 / sizeof(In);  // elements per 16-byte load: 8 (f16/bf16) or 4 (f32)
    const int lane = threadIdx.x % tpr;
    const int group = threadIdx.x / tpr;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / tpr) + group;
    const bool live = row < p.m;  // dead groups of the last block still join the reduction
    const In* x = static_cast<const In*>(p.x) + (live ? row : 0) * p.row_stride;
    const RowSplit rs = split_row(x, p.h);
    const uint4* xv = reinterpret_cast<const uint4*>(x + rs.head);

    // 1. The only read of x: VPT 16-byte loads per thread, issued back to back.
    uint4 buf[VPT];
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
        const int64_t k = lane + static_cast<int64_t>(i) * tpr;
        buf[i] = live && k < rs.nvec ? __ldg(xv + k) : make_uint4(0, 0, 0, 0);
    }
    const bool has_head = live && lane < rs.head, has_tail = live && lane < rs.tail;
    const float head_v = has_head ? to_f32(x[lane]) : 0.0f;
    const float tail_v = has_tail ? to_f32(x[rs.head + rs.nvec * V + lane]) : 0.0f;

    // 2. Statistics from the registers (dynamic per token only).
    Stats st = stats_identity();
    if constexpr (is_per_token(OP)) {
#pragma unroll
        for (int i = 0; i < VPT; ++i) {
            if (lane + static_cast<int64_t>(i) * tpr >= rs.nvec) break;
            float f[V];
            unpack<In>(buf[i], f);
#pragma unroll
            for (int e = 0; e < V; ++e) stats_add<OP>(st, f[e]);
        }
        if (has_head) stats_add<OP>(st, head_v);
        if (has_tail) stats_add<OP>(st, tail_v);
        st = row_reduce<OP>(st, tpr, group);
    }
    if (!live) return;  // after the block's last barrier

    const float tensor_s = OP == QuantOp::Fp8DynamicPerTensor ? p.scale[0] : 0.0f;
    const Coef c = row_coef<OP>(p, st, tensor_s);
    if (lane == 0) store_scale<OP>(p, row, c);

    // 3. Codes from the registers. The asymmetric codes take a cheaper exact path when the
    // zero point is small (always, for real data); see AzpClamp.
    if constexpr (has_azp(OP)) {
        if (AzpClamp::applies(c.azp))
            write_codes<In, OP, VPT>(p, row, lane, tpr, rs, buf, head_v, tail_v, has_head, has_tail, c, AzpClamp(c.azp));
        else
            write_codes<In, OP, VPT>(p, row, lane, tpr, rs, buf, head_v, tail_v, has_head, has_tail, c, AzpExact{c.azp});
    } else {
        write_codes<In, OP, VPT>(p, row, lane, tpr, rs, buf, head_v, tail_v, has_head, has_tail, c, Int8Code{});
    }
}

// Per-tensor max pass: warps stride over rows, lanes over the row's vectors (4 loads in
// flight per lane); one atomicMax of blockmax/448 per block (see tensor_amax_v1).
constexpr int kAmaxThreads = 256;
template <class In>
__global__ void __launch_bounds__(kAmaxThreads) tensor_amax_v2(Params p) {
    constexpr int V = 16 / sizeof(In);
    constexpr QuantOp OP = QuantOp::Fp8DynamicPerTensor;
    const int lane = threadIdx.x & 31;
    const int64_t nwarps = static_cast<int64_t>(gridDim.x) * (kAmaxThreads / 32);
    Stats st = stats_identity();
    for (int64_t row = static_cast<int64_t>(blockIdx.x) * (kAmaxThreads / 32) + threadIdx.x / 32; row < p.m;
         row += nwarps) {
        const In* x = static_cast<const In*>(p.x) + row * p.row_stride;
        const RowSplit rs = split_row(x, p.h);
        const uint4* xv = reinterpret_cast<const uint4*>(x + rs.head);
        for (int64_t k0 = lane; k0 < rs.nvec; k0 += 4 * 32) {
            uint4 b[4];
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const int64_t k = k0 + u * 32;
                b[u] = k < rs.nvec ? __ldg(xv + k) : make_uint4(0, 0, 0, 0);  // zeros do not change amax
            }
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                float f[V];
                unpack<In>(b[u], f);
#pragma unroll
                for (int e = 0; e < V; ++e) stats_add<OP>(st, f[e]);
            }
        }
        if (lane < rs.head) stats_add<OP>(st, to_f32(x[lane]));
        if (lane < rs.tail) stats_add<OP>(st, to_f32(x[rs.head + rs.nvec * V + lane]));
    }
    st = warp_reduce<OP>(st);
    __shared__ float part[kAmaxThreads / 32];
    if (lane == 0) part[threadIdx.x / 32] = st.amax;
    __syncthreads();
    if (threadIdx.x == 0) {
        float a = part[0];
        for (int w = 1; w < kAmaxThreads / 32; ++w) a = fmaxf(a, part[w]);
        atomicMax(reinterpret_cast<unsigned*>(p.scale), __float_as_uint(__fdiv_rn(a, 448.0f)));
    }
}

// ================================ launchers ================================================

// The largest row v2 keeps in registers: 8 vectors x 1024 threads.
constexpr int64_t kV2MaxVectors = 8 * 1024;

template <class In, QuantOp OP>
void launch_v1(const Params& p) {
    if (OP == QuantOp::Fp8DynamicPerTensor) {
        CUDA_CHECK(cudaMemsetAsync(p.scale, 0, sizeof(float)));
        tensor_amax_v1<In><<<static_cast<unsigned>(p.m), kV1Threads>>>(p);
        CUDA_CHECK_LAUNCH();
    }
    quant_v1<In, OP><<<static_cast<unsigned>(p.m), kV1Threads>>>(p);
    CUDA_CHECK_LAUNCH();
}

template <class In, QuantOp OP>
void launch_v2(const Params& p) {
    constexpr int V = 16 / sizeof(In);
    const int64_t nvec = (p.h + V - 1) / V;  // upper bound over rows (the head/tail split varies)
    if (nvec > kV2MaxVectors) return launch_v1<In, OP>(p);
    // VPT vectors per thread; tpr threads per row: a power of two up to 256 (so that whole
    // rows pack into 256-thread blocks), then a multiple of 32 up to 1024.
    const int vpt = nvec <= 32 ? 1 : (nvec <= 4 * 1024 ? 4 : 8);
    const int64_t want = (nvec + vpt - 1) / vpt;
    int tpr = 32;
    while (tpr < want && tpr < 256) tpr *= 2;
    if (want > 256) tpr = static_cast<int>((want + 31) / 32 * 32);
    const int rows_per_block = tpr >= 256 ? 1 : 256 / tpr;
    const int64_t blocks = (p.m + rows_per_block - 1) / rows_per_block;
    if (OP == QuantOp::Fp8DynamicPerTensor) {
        CUDA_CHECK(cudaMemsetAsync(p.scale, 0, sizeof(float)));
        const int64_t want_blocks = (p.m + kAmaxThreads / 32 - 1) / (kAmaxThreads / 32);
        const int64_t max_blocks = static_cast<int64_t>(device_sm_count()) * (2048 / kAmaxThreads);
        tensor_amax_v2<In><<<static_cast<unsigned>(want_blocks < max_blocks ? want_blocks : max_blocks), kAmaxThreads>>>(p);
        CUDA_CHECK_LAUNCH();
    }
    const unsigned grid = static_cast<unsigned>(blocks), block = static_cast<unsigned>(tpr * rows_per_block);
    if (vpt == 1)
        quant_v2<In, OP, 1><<<grid, block>>>(p, tpr);
    else if (vpt == 4)
        quant_v2<In, OP, 4><<<grid, block>>>(p, tpr);
    else
        quant_v2<In, OP, 8><<<grid, block>>>(p, tpr);
    CUDA_CHECK_LAUNCH();
}

template <QuantOp OP>
void launch(DType in, const Params& p, int version) {
    if (p.m == 0) return;
    switch (in) {
        case DType::F32: return version == 1 ? launch_v1<float, OP>(p) : launch_v2<float, OP>(p);
        case DType::F16: return version == 1 ? launch_v1<fp16_t, OP>(p) : launch_v2<fp16_t, OP>(p);
        case DType::BF16: return version == 1 ? launch_v1<bf16_t, OP>(p) : launch_v2<bf16_t, OP>(p);
        default: throw Error(cat("x: expected dtype f32, f16 or bf16, found ", dtype_name(in)));
    }
}

void check_static_scale(float scale) {
    CTK_CHECK(std::isfinite(scale) && scale >= FLT_MIN, "scale: expected a positive, finite, normal ",
              "fp32 value (>= ", FLT_MIN, "), found ", scale);
}

bool is_static(QuantOp op) { return op == QuantOp::Int8Static || op == QuantOp::Int8StaticAzp || op == QuantOp::Fp8Static; }

}  // namespace

const char* quant_op_name(QuantOp op) {
    switch (op) {
        case QuantOp::Int8Static: return "quant_int8_static";
        case QuantOp::Int8StaticAzp: return "quant_int8_static_azp";
        case QuantOp::Int8DynamicPerToken: return "quant_int8_dynamic_per_token";
        case QuantOp::Int8DynamicPerTokenAzp: return "quant_int8_dynamic_per_token_azp";
        case QuantOp::Fp8Static: return "quant_fp8_static";
        case QuantOp::Fp8DynamicPerToken: return "quant_fp8_dynamic_per_token";
        case QuantOp::Fp8DynamicPerTensor: return "quant_fp8_dynamic_per_tensor";
    }
    return "?";
}

QuantResult quant_alloc(QuantOp op, int64_t m, int64_t h) {
    QuantResult r;
    r.q = device_empty(is_fp8(op) ? DType::F8E4M3 : DType::I8, {m, h});
    const Shape s = is_per_token(op) ? Shape{m, 1} : Shape{1};
    r.scale = device_empty(DType::F32, s);
    if (has_azp(op)) r.azp = device_empty(DType::I32, s);
    return r;
}

void quant_run(QuantOp op, const Tensor& x, const QuantOptions& opt, QuantResult& out) {
    const char* name = quant_op_name(op);
    // x
    CTK_CHECK(x.device == Device::CUDA, name, ": x: expected a CUDA device tensor, found ", x.describe());
    CTK_CHECK(x.ndim() == 2, name, ": x: expected shape [M, H], found ", shape_str(x.shape));
    CTK_CHECK(x.dtype == DType::F32 || x.dtype == DType::F16 || x.dtype == DType::BF16, name,
              ": x: expected dtype f32, f16 or bf16, found ", dtype_name(x.dtype));
    const int64_t m = x.shape[0], h = x.shape[1];
    CTK_CHECK(h >= 1, name, ": x: expected H >= 1, found shape ", shape_str(x.shape));
    CTK_CHECK(reinterpret_cast<uintptr_t>(x.ptr) % dtype_size(x.dtype) == 0, name,
              ": x: data pointer is not aligned to its element size");
    const int64_t stride = opt.row_stride == 0 ? h : opt.row_stride;
    CTK_CHECK(stride >= h, name, ": row_stride: expected 0 or >= H = ", h, ", found ", opt.row_stride);
    CTK_CHECK(m <= 0x7FFFFFFF, name, ": x: at most 2^31-1 rows, found ", m);
    CTK_CHECK(opt.version >= 0 && opt.version <= 2, name, ": version: expected 0, 1 or 2, found ", opt.version);
    if (is_static(op)) check_static_scale(opt.scale);
    if (op == QuantOp::Fp8DynamicPerToken)
        CTK_CHECK(std::isfinite(opt.scale_ub), name,
                  ": scale_ub: expected a finite value (<= 0 for no upper bound), found ", opt.scale_ub);
    // outputs
    const DType code = is_fp8(op) ? DType::F8E4M3 : DType::I8;
    const Shape s = is_per_token(op) ? Shape{m, 1} : Shape{1};
    const Shape qs{m, h};
    CTK_CHECK(out.q.device == Device::CUDA && out.q.dtype == code && out.q.shape == qs, name,
              ": out.q: expected ", dtype_name(code), shape_str(qs), " cuda, found ", out.q.describe());
    CTK_CHECK(out.scale.device == Device::CUDA && out.scale.dtype == DType::F32 && out.scale.shape == s, name,
              ": out.scale: expected f32", shape_str(s), " cuda, found ", out.scale.describe());
    if (has_azp(op))
        CTK_CHECK(out.azp.device == Device::CUDA && out.azp.dtype == DType::I32 && out.azp.shape == s, name,
                  ": out.azp: expected i32", shape_str(s), " cuda, found ", out.azp.describe());

    Params p{};
    p.x = x.ptr;
    p.m = m;
    p.h = h;
    p.row_stride = stride;
    p.q = static_cast<uint8_t*>(out.q.ptr);
    p.scale = static_cast<float*>(out.scale.ptr);
    p.azp = has_azp(op) ? static_cast<int32_t*>(out.azp.ptr) : nullptr;
    p.static_scale = opt.scale;
    p.static_azp = opt.azp;
    p.scale_ub = opt.scale_ub;
    if (m == 0 && !is_per_token(op)) {
        // No rows, but a per-tensor scale (and zero point) is still an output, as in the
        // reference: the static scale as given, or 0, the absmax of nothing, / 448.
        const float s0 = is_static(op) ? opt.scale : 0.0f;
        CUDA_CHECK(cudaMemcpy(p.scale, &s0, sizeof s0, cudaMemcpyHostToDevice));
        if (has_azp(op)) CUDA_CHECK(cudaMemcpy(p.azp, &opt.azp, sizeof opt.azp, cudaMemcpyHostToDevice));
        return;
    }
    switch (op) {
        case QuantOp::Int8Static: return launch<QuantOp::Int8Static>(x.dtype, p, opt.version);
        case QuantOp::Int8StaticAzp: return launch<QuantOp::Int8StaticAzp>(x.dtype, p, opt.version);
        case QuantOp::Int8DynamicPerToken: return launch<QuantOp::Int8DynamicPerToken>(x.dtype, p, opt.version);
        case QuantOp::Int8DynamicPerTokenAzp: return launch<QuantOp::Int8DynamicPerTokenAzp>(x.dtype, p, opt.version);
        case QuantOp::Fp8Static: return launch<QuantOp::Fp8Static>(x.dtype, p, opt.version);
        case QuantOp::Fp8DynamicPerToken: return launch<QuantOp::Fp8DynamicPerToken>(x.dtype, p, opt.version);
        case QuantOp::Fp8DynamicPerTensor: return launch<QuantOp::Fp8DynamicPerTensor>(x.dtype, p, opt.version);
    }
}

// ---- the named entry points: allocate, then run -----------------------------------------

namespace {
QuantResult alloc_and_run(QuantOp op, const Tensor& x, const QuantOptions& opt) {
    CTK_CHECK(x.ndim() == 2, quant_op_name(op), ": x: expected shape [M, H], found ", shape_str(x.shape));
    QuantResult r = quant_alloc(op, x.shape[0], x.shape[1]);
    quant_run(op, x, opt, r);
    return r;
}
}  // namespace

QuantResult quant_int8_static(const Tensor& x, float scale, int64_t row_stride, int version) {
    QuantOptions o;
    o.scale = scale, o.row_stride = row_stride, o.version = version;
    return alloc_and_run(QuantOp::Int8Static, x, o);
}
QuantResult quant_int8_static_azp(const Tensor& x, float scale, int32_t azp, int64_t row_stride, int version) {
    QuantOptions o;
    o.scale = scale, o.azp = azp, o.row_stride = row_stride, o.version = version;
    return alloc_and_run(QuantOp::Int8StaticAzp, x, o);
}
QuantResult quant_int8_dynamic_per_token(const Tensor& x, int64_t row_stride, int version) {
    QuantOptions o;
    o.row_stride = row_stride, o.version = version;
    return alloc_and_run(QuantOp::Int8DynamicPerToken, x, o);
}
QuantResult quant_int8_dynamic_per_token_azp(const Tensor& x, int64_t row_stride, int version) {
    QuantOptions o;
    o.row_stride = row_stride, o.version = version;
    return alloc_and_run(QuantOp::Int8DynamicPerTokenAzp, x, o);
}
QuantResult quant_fp8_static(const Tensor& x, float scale, int64_t row_stride, int version) {
    QuantOptions o;
    o.scale = scale, o.row_stride = row_stride, o.version = version;
    return alloc_and_run(QuantOp::Fp8Static, x, o);
}
QuantResult quant_fp8_dynamic_per_token(const Tensor& x, float scale_ub, int64_t row_stride, int version) {
    QuantOptions o;
    o.scale_ub = scale_ub, o.row_stride = row_stride, o.version = version;
    return alloc_and_run(QuantOp::Fp8DynamicPerToken, x, o);
}
QuantResult quant_fp8_dynamic_per_tensor(const Tensor& x, int64_t row_stride, int version) {
    QuantOptions o;
    o.row_stride = row_stride, o.version = version;
    return alloc_and_run(QuantOp::Fp8DynamicPerTensor, x, o);
}

}  // namespace ctk::cuda
