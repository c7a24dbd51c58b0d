#include "ref/tensor_math.h"

#include <cmath>

namespace ctk::ref {

Tensor to_f32(const Tensor& t) {
    expect_defined(t, "to_f32");
    CTK_CHECK(t.device == Device::CPU, "to_f32: ", t.describe(), " is not on the host");
    Tensor out = Tensor::empty(DType::F32, t.shape);
    float* o = out.data<float>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) o[i] = load_f32(t, i);
    return out;
}

Tensor from_f32(const Tensor& t, DType out_dtype) {
    expect_defined(t, "from_f32");
    Tensor out = Tensor::empty(out_dtype, t.shape);
    const float* x = t.data<float>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) store_f32(out, i, x[i]);
    return out;
}

void check_finite(const Tensor& t, const std::string& what) {
    expect_defined(t, what);
    CTK_CHECK(t.device == Device::CPU, what, ": ", t.describe(), " is not on the host");
    if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F8E4M3) return;
    const int64_t n = t.numel(), cols = t.ndim() == 2 ? t.size(1) : 0;
    for (int64_t i = 0; i < n; ++i) {
        const float v = load_f32(t, i);
        if (std::isfinite(v)) continue;
        if (cols > 0) throw Error(cat(what, ": element (row ", i / cols, ", column ", i % cols, ") is ", v));
        throw Error(cat(what, ": element ", i, " is ", v));
    }
}

}  // namespace ctk::ref
