// compressed-tensors' 8-bit RTN weight quantization (weight_quant.h).
#include "ref/weight_quant.h"

#include <cmath>

#include "formats/formats.h"
#include "ref/tensor_math.h"

namespace ctk::ref {

namespace {

// fp32 -> the weight dtype -> fp32 (torch rounds every bf16/f16 op result like this).
float round_to(float v, DType t) {
    if (t == DType::BF16) return bf16_to_float(bf16_from_float(v));
    if (t == DType::F16) return fp16_to_float(fp16_from_float(v));
    return v;
}

}  // namespace

QuantizedWeight quantize_weight_8bit(const Tensor& w, DType out, bool per_channel) {
    CTK_CHECK(w.defined() && w.device == Device::CPU, "weight: expected a host tensor");
    CTK_CHECK(w.ndim() == 2, "weight: expected a 2-D [N, K] tensor, found ", w.describe());
    CTK_CHECK(w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16,
              "weight: expected f32, f16 or bf16 to quantize, found ", dtype_name(w.dtype));
    CTK_CHECK(out == DType::I8 || out == DType::F8E4M3, "quantize_weight_8bit: output must be i8 or f8e4m3, found ",
              dtype_name(out));
    const int64_t N = w.size(0), K = w.size(1);
    const DType wt = w.dtype;
    const float qh = out == DType::I8 ? 127.5f : kE4M3Max;
    // A zero scale (an all-zero row or tensor, or amax / qh underflowing in the weight
    // dtype) becomes torch.finfo(weight dtype).eps, as calculate_qparams does; any other
    // scale, however small, is kept (checked against compressed-tensors 0.14.0.1).
    const float eps = std::ldexp(1.0f, wt == DType::BF16 ? -7 : (wt == DType::F16 ? -10 : -23));
    for (int64_t i = 0; i < N * K; ++i) {
        float v = load_f32(w, i);
        CTK_CHECK(std::isfinite(v), "weight: non-finite value ", v, " at row ", i / K, ", column ", i % K);
    }

    QuantizedWeight qw;
    qw.q = Tensor::empty(out, {N, K});
    qw.scale = per_channel ? Tensor::empty(wt, {N, 1}) : Tensor::empty(wt, {1});
    auto amax_of = [&](int64_t begin, int64_t end) {
        float m = 0.0f;
        for (int64_t i = begin; i < end; ++i) m = std::fmax(m, std::fabs(load_f32(w, i)));
        return m;
    };
    auto scale_of = [&](float amax) {
        const float s = round_to(amax / qh, wt);
        return s == 0.0f ? eps : s;
    };
    float tensor_scale = per_channel ? 0.0f : scale_of(amax_of(0, N * K));
    if (!per_channel) store_f32(qw.scale, 0, tensor_scale);
    uint8_t* Q = static_cast<uint8_t*>(qw.q.raw());
    for (int64_t n = 0; n < N; ++n) {
        float s = tensor_scale;
        if (per_channel) {
            s = scale_of(amax_of(n * K, (n + 1) * K));
            store_f32(qw.scale, n, s);
        }
        for (int64_t k = 0; k < K; ++k) {
            float v = round_to(load_f32(w, n * K + k) / s, wt) + 0.0f;
            if (out == DType::I8) {
                v = std::fmin(std::fmax(v, -128.0f), 127.0f);
                Q[n * K + k] = static_cast<uint8_t>(static_cast<int8_t>(std::nearbyint(v)));  // ties to even
            } else {
                Q[n * K + k] = e4m3_from_float(std::fmin(std::fmax(v, -kE4M3Max), kE4M3Max));
            }
        }
    }
    return qw;
}

}  // namespace ctk::ref
