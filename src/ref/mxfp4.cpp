// CPU reference for MXFP4 (see ref/mxfp4.h): plain loops that read like the format.
//
// Every weight value e2m1(code) * 2^(scale-127) is exact in fp32: an E2M1 magnitude
// needs two significant bits and the power of two only moves the exponent, so even the
// smallest (0.5 * 2^-127 = 2^-128) is an exact fp32 subnormal. The only values fp32
// cannot hold are |w| >= 2^128 (scale 253 with |e2m1| >= 4, scale 254 with |e2m1| >= 2);
// they dequantize to +-Inf, which is what "round to fp32" means for them.
#include "ref/mxfp4.h"

#include <cmath>
#include <vector>

#include "formats/fp16.h"

namespace ctk::ref {

namespace {

// Reads element i of a host f32/f16/bf16 tensor as fp32 (exact).
float load_float(const Tensor& t, int64_t i) {
    switch (t.dtype) {
        case DType::F32: return t.data<float>()[i];
        case DType::F16: return fp16_to_float(t.data<fp16_t>()[i].bits);
        case DType::BF16: return bf16_to_float(t.data<bf16_t>()[i].bits);
        default: throw Error(cat("load_float: unsupported dtype ", dtype_name(t.dtype)));
    }
}

void check_host(const Tensor& t, const char* what) {
    CTK_CHECK(t.defined(), what, ": tensor is undefined");
    CTK_CHECK(t.device == Device::CPU, what, ": the CPU reference needs a host tensor, found ", t.describe());
}

// Validates an Mxfp4Weight and returns (N, K).
void weight_dims(const Mxfp4Weight& w, int64_t* N, int64_t* K) {
    check_host(w.packed, "packed");
    check_host(w.scales, "scales");
    expect_dtype(w.packed, DType::U8, "packed");
    expect_dtype(w.scales, DType::U8, "scales");
    CTK_CHECK(w.packed.ndim() == 2, "packed: expected shape [N, K/2], found ", shape_str(w.packed.shape));
    *N = w.packed.size(0);
    *K = w.packed.size(1) * 2;
    CTK_CHECK(*K % kMxBlock == 0, "packed: K = 2 * ", w.packed.size(1), " = ", *K,
              " is not a multiple of the MXFP4 block (32)");
    expect_shape(w.scales, {*N, *K / kMxBlock}, "scales");
}

}  // namespace

Mxfp4Weight mxfp4_quantize(const Tensor& w, MxScaleRule rule) {
    check_host(w, "w");
    CTK_CHECK(w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16,
              "w: expected f32, f16 or bf16, found ", dtype_name(w.dtype));
    CTK_CHECK(w.ndim() == 2, "w: expected shape [N, K], found ", shape_str(w.shape));
    const int64_t N = w.size(0), K = w.size(1);
    CTK_CHECK(K % kMxBlock == 0, "w: K = ", K, " is not a multiple of the MXFP4 block (32)");

    Tensor codes = Tensor::empty(DType::U8, {N, K});
    Mxfp4Weight out;
    out.scales = Tensor::empty(DType::U8, {N, K / kMxBlock});
    uint8_t* c = codes.data<uint8_t>();
    uint8_t* s = out.scales.data<uint8_t>();
    float v[kMxBlock];
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t b = 0; b < K / kMxBlock; ++b) {
            float amax = 0.0f;
            for (int i = 0; i < kMxBlock; ++i) {
                int64_t k = b * kMxBlock + i;
                v[i] = load_float(w, n * K + k);
                CTK_CHECK(std::isfinite(v[i]), "w: element (row ", n, ", column ", k, ") is ", v[i],
                          "; MXFP4 has no code for NaN or Inf");
                amax = std::fmax(amax, std::fabs(v[i]));
            }
            // The largest finite fp32 amax (~2^128) needs code 127 + 128 - 2 = 253 at most,
            // so a finite block always gets a real scale (never the NaN code 255).
            uint8_t code = e8m0_block_scale(amax, rule);
            float scale = e8m0_to_float(code);
            s[n * (K / kMxBlock) + b] = code;
            // v / 2^e is exact in fp32 (the quotient is below 8, far from overflow; it
            // can only lose bits when it is far below the 0.25 rounding threshold).
            for (int i = 0; i < kMxBlock; ++i) {
                const uint8_t e = e2m1_from_float(v[i] / scale);
                c[n * K + b * kMxBlock + i] = e;
                // The even rule gives a block whose max is >= 1.75 * 2^127 the scale 2^126, and
                // its max then rounds to 4 * 2^126 = 2^128: a weight no fp32 holds (compressed-
                // tensors writes it; it dequantizes to Inf). Refused, as the layers refuse it.
                CTK_CHECK(std::isfinite(e2m1_to_float(e) * scale), "w: element (row ", n, ", column ", b * kMxBlock + i,
                          ") is ", v[i], ": its block's scale 2^", int(code) - 127, " rounds it to ",
                          e2m1_to_float(e), " * 2^", int(code) - 127, " >= 2^128, past fp32 (the floor rule's ",
                          "scale holds it)");
            }
        }
    }
    out.packed = mxfp4_pack_codes(codes);
    return out;
}

Tensor mxfp4_pack_codes(const Tensor& codes) {
    check_host(codes, "codes");
    expect_dtype(codes, DType::U8, "codes");
    CTK_CHECK(codes.ndim() == 2 && codes.size(1) % 2 == 0, "codes: expected shape [N, K] with K even, found ",
              shape_str(codes.shape));
    const int64_t N = codes.size(0), K = codes.size(1);
    Tensor packed = Tensor::empty(DType::U8, {N, K / 2});
    const uint8_t* c = codes.data<uint8_t>();
    uint8_t* p = packed.data<uint8_t>();
    for (int64_t i = 0; i < N * K; ++i)
        CTK_CHECK(c[i] < 16, "codes: element (row ", i / K, ", column ", i % K, ") is ", int(c[i]),
                  ", not a 4-bit code");
    for (int64_t i = 0; i < N * K / 2; ++i) p[i] = mxfp4_pack(c[2 * i], c[2 * i + 1]);
    return packed;
}

Tensor mxfp4_unpack_codes(const Tensor& packed) {
    check_host(packed, "packed");
    expect_dtype(packed, DType::U8, "packed");
    CTK_CHECK(packed.ndim() == 2, "packed: expected shape [N, K/2], found ", shape_str(packed.shape));
    const int64_t N = packed.size(0), K = packed.size(1) * 2;
    Tensor codes = Tensor::empty(DType::U8, {N, K});
    const uint8_t* p = packed.data<uint8_t>();
    uint8_t* c = codes.data<uint8_t>();
    for (int64_t i = 0; i < N * K / 2; ++i) {
        c[2 * i] = mxfp4_unpack_even(p[i]);
        c[2 * i + 1] = mxfp4_unpack_odd(p[i]);
    }
    return codes;
}

void mxfp4_check_no_overflow(const Mxfp4Weight& w) {
    int64_t N, K;
    weight_dims(w, &N, &K);
    const uint8_t* p = w.packed.data<uint8_t>();
    const uint8_t* s = w.scales.data<uint8_t>();
    const int64_t blocks = K / kMxBlock;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t b = 0; b < blocks; ++b)
            if (mxfp4_block_overflows(p + n * (K / 2) + b * (kMxBlock / 2), s[n * blocks + b]))
                throw Error(mxfp4_overflow_message(n, b, s[n * blocks + b]));
}

Tensor mxfp4_dequantize(const Mxfp4Weight& w, DType out) {
    int64_t N, K;
    weight_dims(w, &N, &K);
    CTK_CHECK(out == DType::F32 || out == DType::F16 || out == DType::BF16,
              "out: expected f32, f16 or bf16, found ", dtype_name(out));
    Tensor r = Tensor::empty(out, {N, K});
    const uint8_t* p = w.packed.data<uint8_t>();
    const uint8_t* s = w.scales.data<uint8_t>();
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < K; ++k) {
            uint8_t byte = p[n * (K / 2) + k / 2];
            uint8_t code = (k % 2 == 0) ? mxfp4_unpack_even(byte) : mxfp4_unpack_odd(byte);
            // Exact in fp32; NaN for the whole block when the scale code is 255.
            float v = e2m1_to_float(code) * e8m0_to_float(s[n * (K / kMxBlock) + k / kMxBlock]);
            int64_t i = n * K + k;
            if (out == DType::F32) r.data<float>()[i] = v;
            else if (out == DType::F16) r.data<fp16_t>()[i].bits = fp16_from_float(v);
            else r.data<bf16_t>()[i].bits = bf16_from_float(v);
        }
    }
    return r;
}

Tensor mxfp4_gemm(const Tensor& x, const Mxfp4Weight& w, const Tensor& bias) {
    int64_t N, K;
    weight_dims(w, &N, &K);
    check_host(x, "x");
    CTK_CHECK(x.dtype == DType::BF16 || x.dtype == DType::F16, "x: expected bf16 or f16 activations, found ",
              dtype_name(x.dtype));
    CTK_CHECK(x.ndim() == 2 && x.size(1) == K, "x: expected shape [M, ", K, "] (K from packed), found ",
              shape_str(x.shape));
    if (bias.defined()) {
        check_host(bias, "bias");
        expect_dtype(bias, x.dtype, "bias");
        expect_shape(bias, {N}, "bias");
    }
    const int64_t M = x.size(0);
    // Dequantize once (exact fp32), and widen x once, so the loop below is a plain GEMM.
    Tensor wf = mxfp4_dequantize(w, DType::F32);
    const float* W = wf.data<float>();
    std::vector<float> X(static_cast<size_t>(M * K));
    for (int64_t i = 0; i < M * K; ++i) X[i] = load_float(x, i);

    Tensor out = Tensor::empty(x.dtype, {M, N});
    auto store = [&](int64_t m, int64_t n, float acc) {
        if (bias.defined()) acc += load_float(bias, n);  // bias in fp32, then one rounding
        int64_t i = m * N + n;
        if (x.dtype == DType::F16) out.data<fp16_t>()[i].bits = fp16_from_float(acc);
        else out.data<bf16_t>()[i].bits = bf16_from_float(acc);
    };
    // Each output is its own fp32 sum over k ascending (the product of a 16-bit value
    // and an MXFP4 weight is exact in fp32 unless it under- or overflows). Eight outputs
    // are summed side by side only so the CPU has independent additions in flight;
    // that does not change any single sum.
    constexpr int kLanes = 8;
    for (int64_t m = 0; m < M; ++m) {
        const float* xr = &X[m * K];
        int64_t n = 0;
        for (; n + kLanes <= N; n += kLanes) {
            float acc[kLanes] = {};
            for (int64_t k = 0; k < K; ++k)
                for (int j = 0; j < kLanes; ++j) acc[j] += xr[k] * W[(n + j) * K + k];
            for (int j = 0; j < kLanes; ++j) store(m, n + j, acc[j]);
        }
        for (; n < N; ++n) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; ++k) acc += xr[k] * W[n * K + k];
            store(m, n, acc);
        }
    }
    return out;
}

}  // namespace ctk::ref
