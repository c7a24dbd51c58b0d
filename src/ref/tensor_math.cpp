#include "ref/tensor_math.h"

namespace ctk::ref {

Tensor to_f32(const Tensor& t) {
    CTK_CHECK(t.device == Device::CPU, "to_f32: ", t.describe(), " is not on the host");
    Tensor out = Tensor::empty(DType::F32, t.shape);
    float* o = out.data<float>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) o[i] = load_f32(t, i);
    return out;
}

Tensor from_f32(const Tensor& t, DType out_dtype) {
    Tensor out = Tensor::empty(out_dtype, t.shape);
    const float* x = t.data<float>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) store_f32(out, i, x[i]);
    return out;
}

}  // namespace ctk::ref
