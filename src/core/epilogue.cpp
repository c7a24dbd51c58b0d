#include "core/epilogue.h"

namespace ctk {

static void check_scale(const std::string& op, Device device, const Tensor& s, const char* name, int64_t n,
                        const char* dim) {
    if (!s.defined()) return;
    CTK_CHECK(s.device == device, op, ": ", name, ": expected a ", device == Device::CPU ? "host" : "device",
              " tensor, found ", s.describe());
    CTK_CHECK(s.dtype == DType::F32, op, ": ", name, ": expected dtype f32, found ", dtype_name(s.dtype));
    const bool vector_ok = s.numel() == n && (s.ndim() == 1 || (s.ndim() == 2 && s.shape[1] == 1));
    CTK_CHECK(s.numel() == 1 || vector_ok, op, ": ", name, ": expected 1 or ", dim, " = ", n,
              " elements, found shape ", shape_str(s.shape));
}

void check_epilogue_args(const std::string& op, Device device, int64_t M, int64_t N, const Tensor& x_scale,
                         const Tensor& w_scale, const Tensor& bias, DType out_dtype) {
    check_scale(op, device, x_scale, "x_scale", M, "M");
    check_scale(op, device, w_scale, "w_scale", N, "N");
    if (!bias.defined()) return;
    CTK_CHECK(bias.device == device, op, ": bias: expected a ", device == Device::CPU ? "host" : "device",
              " tensor, found ", bias.describe());
    CTK_CHECK(bias.dtype == out_dtype, op, ": bias: expected dtype ", dtype_name(out_dtype), " (out_dtype), found ",
              dtype_name(bias.dtype));
    CTK_CHECK(bias.shape == Shape{N}, op, ": bias: expected shape [", N, "], found ", shape_str(bias.shape));
}

}  // namespace ctk
