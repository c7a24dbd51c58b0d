#include "core/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace ctk {

size_t dtype_size(DType t) {
    switch (t) {
        case DType::F32: return 4;
        case DType::F16: return 2;
        case DType::BF16: return 2;
        case DType::F8E4M3: return 1;
        case DType::I8: return 1;
        case DType::U8: return 1;
        case DType::I32: return 4;
        case DType::I64: return 8;
    }
    return 0;
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "f32";
        case DType::F16: return "f16";
        case DType::BF16: return "bf16";
        case DType::F8E4M3: return "f8e4m3";
        case DType::I8: return "i8";
        case DType::U8: return "u8";
        case DType::I32: return "i32";
        case DType::I64: return "i64";
    }
    return "?";
}

bool dtype_from_name(const std::string& name, DType* out) {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::I8, DType::U8,
                    DType::I32, DType::I64}) {
        if (name == dtype_name(t)) {
            *out = t;
            return true;
        }
    }
    return false;
}

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

std::string shape_str(const Shape& s) {
    std::ostringstream os;
    os << "[";
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << "]";
    return os.str();
}

// A checkpoint header may claim any shape: [2^62, 0] holds no bytes, yet a layer built on it
// would allocate [M, 2^62] outputs. So a count past int64 is an error, not a wrapped number.
int64_t shape_numel(const Shape& s) {
    for (int64_t d : s) {
        CTK_CHECK(d >= 0, "negative dimension in shape ", shape_str(s));
        if (d == 0) return 0;
    }
    int64_t n = 1;
    for (int64_t d : s) {
        CTK_CHECK(n <= INT64_MAX / d, "shape ", shape_str(s), " has more elements than int64 can count");
        n *= d;
    }
    return n;
}

int64_t Tensor::size(int d) const {
    int nd = ndim();
    int i = d < 0 ? d + nd : d;
    CTK_CHECK(i >= 0 && i < nd, "tensor ", describe(), ": no dimension ", d);
    return shape[i];
}

std::string Tensor::describe() const {
    return cat(dtype_name(dtype), shape_str(shape), " ", device_name(device));
}

void Tensor::check_access(DType want) const {
    CTK_CHECK(dtype == want, "tensor ", describe(), ": accessed as ", dtype_name(want));
    CTK_CHECK(device == Device::CPU, "tensor ", describe(), ": host access to device memory");
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
    CTK_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= shape[0], "tensor ", describe(),
              ": bad row range [", begin, ", ", end, ")");
    Tensor t = *this;
    t.shape[0] = end - begin;
    size_t row_bytes = shape[0] ? nbytes() / static_cast<size_t>(shape[0]) : 0;
    t.ptr = static_cast<char*>(ptr) + static_cast<size_t>(begin) * row_bytes;
    return t;
}

Tensor Tensor::reshape(const Shape& s) const {
    CTK_CHECK(shape_numel(s) == numel(), "reshape of ", describe(), " to ", shape_str(s),
              ": element counts differ");
    Tensor t = *this;
    t.shape = s;
    return t;
}

Tensor Tensor::clone() const {
    expect_defined(*this, "clone");
    CTK_CHECK(device == Device::CPU, "clone of device tensor ", describe());
    Tensor t = empty(dtype, shape);
    if (nbytes()) std::memcpy(t.ptr, ptr, nbytes());
    return t;
}

Tensor Tensor::empty(DType t, const Shape& s) {
    // 2^56 bytes is far past any machine's memory and keeps every byte count below in range.
    CTK_CHECK(static_cast<uint64_t>(shape_numel(s)) <= (uint64_t{1} << 56) / dtype_size(t), "cannot allocate ",
              dtype_name(t), shape_str(s), ": more than 2^56 bytes");
    Tensor x;
    x.dtype = t;
    x.shape = s;
    size_t bytes = x.nbytes();
    // 64-byte alignment keeps vector loads on the host (and copies to the GPU) simple.
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    CTK_CHECK(p != nullptr, "out of host memory allocating ", x.describe());
    x.storage = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    x.ptr = p;
    return x;
}

Tensor Tensor::zeros(DType t, const Shape& s) {
    Tensor x = empty(t, s);
    std::memset(x.ptr, 0, x.nbytes());
    return x;
}

Tensor concat_rows(const std::vector<Tensor>& parts) {
    CTK_CHECK(!parts.empty(), "concat_rows: no tensors");
    Shape s = parts[0].shape;
    CTK_CHECK(!s.empty(), "concat_rows: tensors need at least one dimension");
    s[0] = 0;
    for (const Tensor& p : parts) {
        Shape want = parts[0].shape;
        want[0] = p.ndim() ? p.shape[0] : -1;
        CTK_CHECK(p.device == Device::CPU && p.dtype == parts[0].dtype && p.shape == want, "concat_rows: ",
                  p.describe(), " does not stack under ", parts[0].describe());
        s[0] += p.shape[0];
    }
    Tensor out = Tensor::empty(parts[0].dtype, s);
    size_t off = 0;
    for (const Tensor& p : parts) {
        if (p.nbytes()) std::memcpy(static_cast<char*>(out.raw()) + off, p.raw(), p.nbytes());
        off += p.nbytes();
    }
    return out;
}

void expect_defined(const Tensor& t, const std::string& what) {
    CTK_CHECK(t.defined(), what, ": expected a tensor, found an undefined one");
}

void expect_dtype(const Tensor& t, DType want, const std::string& what) {
    CTK_CHECK(t.dtype == want, what, ": expected dtype ", dtype_name(want), ", found ",
              dtype_name(t.dtype));
}

void expect_shape(const Tensor& t, const Shape& want, const std::string& what) {
    CTK_CHECK(t.shape == want, what, ": expected shape ", shape_str(want), ", found ",
              shape_str(t.shape));
}

}  // namespace ctk
