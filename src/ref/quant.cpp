// CPU reference for activation quantization (contract and NaN/Inf rules: ref/quant.h).
// Plain loops in the order of the math; each fp32 operation is rounded once
// (the build uses -ffp-contract=off, so no multiply-add is fused).
#include "ref/quant.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "formats/formats.h"

namespace ctk::ref {
namespace {

// x as [M, H] floats (f16/bf16 -> f32 is exact). Checks rank and dtype.
struct Rows {
    int64_t m = 0, h = 0;
    std::vector<float> v;
    const float* row(int64_t i) const { return v.data() + i * h; }
};

Rows read_rows(const Tensor& x) {
    CTK_CHECK(x.device == Device::CPU, "x: expected a host tensor, found ", x.describe());
    CTK_CHECK(x.ndim() == 2, "x: expected shape [M, H], found ", shape_str(x.shape));
    CTK_CHECK(x.shape[1] >= 1, "x: expected H >= 1, found shape ", shape_str(x.shape));
    Rows r;
    r.m = x.shape[0];
    r.h = x.shape[1];
    const int64_t n = x.numel();
    r.v.resize(static_cast<size_t>(n));
    switch (x.dtype) {
        case DType::F32: {
            const float* p = x.data<float>();
            for (int64_t i = 0; i < n; ++i) r.v[i] = p[i];
            break;
        }
        case DType::F16: {
            const fp16_t* p = x.data<fp16_t>();
            for (int64_t i = 0; i < n; ++i) r.v[i] = fp16_to_float(p[i].bits);
            break;
        }
        case DType::BF16: {
            const bf16_t* p = x.data<bf16_t>();
            for (int64_t i = 0; i < n; ++i) r.v[i] = bf16_to_float(p[i].bits);
            break;
        }
        default:
            throw Error(cat("x: expected dtype f32, f16 or bf16, found ", dtype_name(x.dtype)));
    }
    return r;
}

void check_static_scale(float scale) {
    // Normal (>= FLT_MIN) so that 1/s is finite: a subnormal s would make x * (1/s) Inf.
    CTK_CHECK(std::isfinite(scale) && scale >= FLT_MIN, "scale: expected a positive, finite, normal ",
              "fp32 value (>= ", FLT_MIN, "), found ", scale);
}

// rne then saturate, NaN -> 0: PTX cvt.rni.sat.s8.f32 (std::nearbyint rounds half to even
// in the default rounding mode).
int8_t sat8_rne(float v) {
    if (std::isnan(v)) return 0;
    float r = std::nearbyint(v);
    if (r > 127.0f) return 127;
    if (r < -128.0f) return -128;
    return static_cast<int8_t>(r);
}

// The same to int32: PTX cvt.rni.sat.s32.f32.
int32_t sat32_rne(float v) {
    if (std::isnan(v)) return 0;
    float r = std::nearbyint(v);
    if (r >= 2147483648.0f) return INT32_MAX;
    if (r <= -2147483648.0f) return INT32_MIN;
    return static_cast<int32_t>(r);
}

// sat8 of an exact sum (the asymmetric code).
int8_t sat8(int64_t v) { return static_cast<int8_t>(v > 127 ? 127 : (v < -128 ? -128 : v)); }

uint8_t fp8_code(float v) { return e4m3_from_float(e4m3_clamp(v)); }

// max |x| of n values, fmaxf semantics (NaN ignored), starting at 0.
float absmax(const float* p, int64_t n) {
    float a = 0.0f;
    for (int64_t i = 0; i < n; ++i) a = std::fmax(a, std::fabs(p[i]));
    return a;
}

QuantResult make_result(DType code_type, int64_t m, int64_t h, bool per_token, bool with_azp) {
    QuantResult r;
    r.q = Tensor::empty(code_type, {m, h});
    Shape s = per_token ? Shape{m, 1} : Shape{1};
    r.scale = Tensor::empty(DType::F32, s);
    if (with_azp) r.azp = Tensor::empty(DType::I32, s);
    return r;
}

}  // namespace

QuantResult quant_int8_static(const Tensor& x, float scale) {
    check_static_scale(scale);
    Rows xr = read_rows(x);
    QuantResult r = make_result(DType::I8, xr.m, xr.h, false, false);
    int8_t* q = r.q.data<int8_t>();
    for (size_t i = 0; i < xr.v.size(); ++i) q[i] = sat8_rne(xr.v[i] / scale);
    r.scale.data<float>()[0] = scale;
    return r;
}

QuantResult quant_int8_static_azp(const Tensor& x, float scale, int32_t azp) {
    check_static_scale(scale);
    Rows xr = read_rows(x);
    QuantResult r = make_result(DType::I8, xr.m, xr.h, false, true);
    const float inv = 1.0f / scale;
    int8_t* q = r.q.data<int8_t>();
    for (size_t i = 0; i < xr.v.size(); ++i)
        q[i] = sat8(static_cast<int64_t>(sat32_rne(xr.v[i] * inv)) + azp);
    r.scale.data<float>()[0] = scale;
    r.azp.data<int32_t>()[0] = azp;
    return r;
}

QuantResult quant_int8_dynamic_per_token(const Tensor& x) {
    Rows xr = read_rows(x);
    QuantResult r = make_result(DType::I8, xr.m, xr.h, true, false);
    for (int64_t i = 0; i < xr.m; ++i) {
        const float* row = xr.row(i);
        const float amax = absmax(row, xr.h);
        const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
        int8_t* q = r.q.data<int8_t>() + i * xr.h;
        for (int64_t j = 0; j < xr.h; ++j) q[j] = sat8_rne(row[j] * inv);
        r.scale.data<float>()[i] = amax / 127.0f;
    }
    return r;
}

QuantResult quant_int8_dynamic_per_token_azp(const Tensor& x) {
    Rows xr = read_rows(x);
    QuantResult r = make_result(DType::I8, xr.m, xr.h, true, true);
    for (int64_t i = 0; i < xr.m; ++i) {
        const float* row = xr.row(i);
        float mn = FLT_MAX, mx = -FLT_MAX;  // vLLM's MinMax starting values
        for (int64_t j = 0; j < xr.h; ++j) {
            mn = std::fmin(mn, row[j]);
            mx = std::fmax(mx, row[j]);
        }
        float s = (mx - mn) / 255.0f;
        // A row of zeros of both signs: fmin/fmax may pick either zero, so max - min can be
        // -0. Normalise the scale to +0 so the result does not depend on reduction order.
        if (s == 0.0f) s = 0.0f;
        const int32_t azp = sat32_rne(-128.0f - mn / s);
        const float inv = 1.0f / s;
        int8_t* q = r.q.data<int8_t>() + i * xr.h;
        for (int64_t j = 0; j < xr.h; ++j)
            q[j] = sat8(static_cast<int64_t>(sat32_rne(row[j] * inv)) + azp);
        r.scale.data<float>()[i] = s;
        r.azp.data<int32_t>()[i] = azp;
    }
    return r;
}

QuantResult quant_fp8_static(const Tensor& x, float scale) {
    check_static_scale(scale);
    Rows xr = read_rows(x);
    QuantResult r = make_result(DType::F8E4M3, xr.m, xr.h, false, false);
    const float inv = 1.0f / scale;
    fp8e4m3_t* q = r.q.data<fp8e4m3_t>();
    for (size_t i = 0; i < xr.v.size(); ++i) q[i].bits = fp8_code(xr.v[i] * inv);
    r.scale.data<float>()[0] = scale;
    return r;
}

QuantResult quant_fp8_dynamic_per_token(const Tensor& x, float scale_ub) {
    CTK_CHECK(std::isfinite(scale_ub), "scale_ub: expected a finite value (<= 0 for no upper bound), found ",
              scale_ub);
    Rows xr = read_rows(x);
    QuantResult r = make_result(DType::F8E4M3, xr.m, xr.h, true, false);
    for (int64_t i = 0; i < xr.m; ++i) {
        const float* row = xr.row(i);
        float a = absmax(row, xr.h);
        if (scale_ub > 0.0f) a = std::fmin(a, scale_ub);
        const float s = std::fmax(a / 448.0f, kFp8MinScale);
        fp8e4m3_t* q = r.q.data<fp8e4m3_t>() + i * xr.h;
        for (int64_t j = 0; j < xr.h; ++j) q[j].bits = fp8_code(row[j] / s);
        r.scale.data<float>()[i] = s;
    }
    return r;
}

QuantResult quant_fp8_dynamic_per_tensor(const Tensor& x) {
    Rows xr = read_rows(x);
    QuantResult r = make_result(DType::F8E4M3, xr.m, xr.h, false, false);
    const float s = absmax(xr.v.data(), static_cast<int64_t>(xr.v.size())) / 448.0f;
    const float inv = s == 0.0f ? 0.0f : 1.0f / s;
    fp8e4m3_t* q = r.q.data<fp8e4m3_t>();
    for (size_t i = 0; i < xr.v.size(); ++i) q[i].bits = fp8_code(xr.v[i] * inv);
    r.scale.data<float>()[0] = s;
    return r;
}

}  // namespace ctk::ref
