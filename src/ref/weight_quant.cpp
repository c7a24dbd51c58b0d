#include "ref/weight_quant.h"

#include <cmath>

#include "ref/tensor_math.h"

namespace ctk::ref {

static uint8_t quantize_one(float v, float scale, DType out) {
    if (out == DType::I8) {
        float r = std::nearbyint(v / scale);  // default rounding mode: ties to even
        r = r > 127.0f ? 127.0f : (r < -128.0f ? -128.0f : r);
        return static_cast<uint8_t>(static_cast<int8_t>(r));
    }
    return e4m3_from_float(e4m3_clamp(v / scale));
}

QuantizedWeight quantize_weight_8bit(const Tensor& w, DType out, bool per_channel) {
    CTK_CHECK(w.ndim() == 2, "weight: expected a 2-D [N, K] tensor, found ", w.describe());
    CTK_CHECK(w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16,
              "weight: expected f32, f16 or bf16 to quantize, found ", dtype_name(w.dtype));
    CTK_CHECK(out == DType::I8 || out == DType::F8E4M3, "quantize_weight_8bit: output must be i8 or f8e4m3, found ",
              dtype_name(out));
    const int64_t N = w.size(0), K = w.size(1);
    const float qmax = out == DType::I8 ? 127.0f : kE4M3Max;
    Tensor wf = to_f32(w);
    const float* W = wf.data<float>();
    for (int64_t i = 0; i < N * K; ++i)
        CTK_CHECK(std::isfinite(W[i]), "weight: non-finite value ", W[i], " at row ", i / K, ", column ", i % K);

    QuantizedWeight qw;
    qw.q = Tensor::empty(out, {N, K});
    qw.scale = per_channel ? Tensor::empty(DType::F32, {N, 1}) : Tensor::empty(DType::F32, {1});
    float* S = qw.scale.data<float>();
    uint8_t* Q = static_cast<uint8_t*>(qw.q.raw());
    auto amax_of = [&](int64_t begin, int64_t end) {
        float m = 0.0f;
        for (int64_t i = begin; i < end; ++i) m = std::fmax(m, std::fabs(W[i]));
        return m;
    };
    if (!per_channel) {
        float amax = amax_of(0, N * K);
        S[0] = amax > 0.0f ? amax / qmax : 1.0f;
    }
    for (int64_t n = 0; n < N; ++n) {
        if (per_channel) {
            float amax = amax_of(n * K, (n + 1) * K);
            S[n] = amax > 0.0f ? amax / qmax : 1.0f;
        }
        float s = S[per_channel ? n : 0];
        for (int64_t k = 0; k < K; ++k) Q[n * K + k] = quantize_one(W[n * K + k], s, out);
    }
    return qw;
}

Tensor dequantize_weight_8bit(const QuantizedWeight& qw) {
    const int64_t N = qw.q.size(0), K = qw.q.size(1);
    Tensor out = Tensor::empty(DType::F32, {N, K});
    float* O = out.data<float>();
    const float* S = qw.scale.data<float>();
    const bool per_channel = qw.scale.numel() != 1;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) O[n * K + k] = load_f32(qw.q, n * K + k) * S[per_channel ? n : 0];
    return out;
}

}  // namespace ctk::ref
