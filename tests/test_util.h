// Small helpers shared by the tests: read any host tensor element as a double, make
// seeded random tensors of any dtype, and compare two tensors (bit for bit, or within
// atol + rtol * |ref|) with a report that names the first mismatches as (row, col, ref, got).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "core/random.h"
#include "core/tensor.h"
#include "formats/formats.h"

namespace ctk::test {

// The message of the ctk::Error that fn throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Element i (flat, row-major) of a host tensor, as a double.
inline double elem(const Tensor& t, int64_t i) {
    switch (t.dtype) {
        case DType::F32: return t.data<float>()[i];
        case DType::F16: return fp16_to_float(t.data<fp16_t>()[i].bits);
        case DType::BF16: return bf16_to_float(t.data<bf16_t>()[i].bits);
        case DType::F8E4M3: return e4m3_to_float(t.data<fp8e4m3_t>()[i].bits);
        case DType::I8: return t.data<int8_t>()[i];
        case DType::U8: return t.data<uint8_t>()[i];
        case DType::I32: return t.data<int32_t>()[i];
        case DType::I64: return static_cast<double>(t.data<int64_t>()[i]);
    }
    return 0;
}

// Stores v (rounded RNE to the dtype; i8 rounds to nearest and saturates) at flat index i.
inline void set_elem(Tensor& t, int64_t i, float v) {
    switch (t.dtype) {
        case DType::F32: t.data<float>()[i] = v; break;
        case DType::F16: t.data<fp16_t>()[i].bits = fp16_from_float(v); break;
        case DType::BF16: t.data<bf16_t>()[i].bits = bf16_from_float(v); break;
        case DType::F8E4M3: t.data<fp8e4m3_t>()[i].bits = e4m3_from_float(v); break;
        case DType::I8: t.data<int8_t>()[i] = static_cast<int8_t>(std::max(-128.0f, std::min(127.0f, std::nearbyint(v)))); break;
        default: throw Error(cat("set_elem: unsupported dtype ", dtype_name(t.dtype)));
    }
}

// A host tensor of normal(0, 1) * scale values, rounded to dtype.
inline Tensor random_tensor(DType t, const Shape& shape, Rng& rng, float scale = 1.0f) {
    Tensor x = Tensor::empty(t, shape);
    for (int64_t i = 0; i < x.numel(); ++i) set_elem(x, i, rng.normal() * scale);
    return x;
}

// One ulp of an f16 or bf16 output at |v| (the subnormal spacing below the normal range):
// the last rounding of a GEMM output may land on either side of a 16-bit boundary.
inline double out_ulp(DType out, double v) {
    const int mant = out == DType::F16 ? 10 : 7;
    const int min_exp = out == DType::F16 ? -14 : -126;
    const int e = v == 0 ? min_exp : std::max(min_exp, static_cast<int>(std::floor(std::log2(std::fabs(v)))));
    return std::ldexp(1.0, e - mant);
}

// "(r, c)" for a 2-D tensor, "[i]" otherwise.
inline std::string elem_pos(const Tensor& t, int64_t i) {
    if (t.ndim() == 2 && t.shape[1] > 0) return cat("(", i / t.shape[1], ", ", i % t.shape[1], ")");
    return cat("[", i, "]");
}

struct TensorDiff {
    int64_t mismatches = 0;
    double max_abs_err = 0;
    std::string report;  // empty when the tensors match
    bool ok() const { return report.empty(); }
};

namespace detail {
template <class Mismatch>
TensorDiff diff_tensors(const Tensor& ref, const Tensor& got, const std::string& what, Mismatch mismatch) {
    TensorDiff d;
    if (ref.dtype != got.dtype || ref.shape != got.shape) {
        d.mismatches = 1;
        d.report = cat(what, ": expected ", ref.describe(), ", found ", got.describe());
        return d;
    }
    std::string first;
    for (int64_t i = 0; i < ref.numel(); ++i) {
        double r = elem(ref, i), g = elem(got, i);
        double err = std::fabs(r - g);
        if (!std::isnan(err)) d.max_abs_err = std::max(d.max_abs_err, err);
        if (mismatch(i, r, g)) {
            if (++d.mismatches <= 5) first += cat("\n  at ", elem_pos(ref, i), ": ref ", r, ", got ", g);
        }
    }
    if (d.mismatches)
        d.report = cat(what, " ", ref.describe(), ": ", d.mismatches, " mismatches, max abs err ",
                       d.max_abs_err, "; first:", first);
    return d;
}
}  // namespace detail

// Bit-for-bit comparison (exact math: codes, int32 accumulators, repacks, sparse == dense).
inline TensorDiff compare_bits(const Tensor& ref, const Tensor& got, const std::string& what) {
    size_t es = dtype_size(ref.dtype);
    return detail::diff_tensors(ref, got, what, [&](int64_t i, double, double) {
        return std::memcmp(static_cast<const char*>(ref.raw()) + i * es,
                           static_cast<const char*>(got.raw()) + i * es, es) != 0;
    });
}

// |got - ref| <= atol + rtol * |ref| elementwise (NaN in either is a mismatch unless both are NaN).
inline TensorDiff compare_close(const Tensor& ref, const Tensor& got, double atol, double rtol,
                                const std::string& what) {
    return detail::diff_tensors(ref, got, what, [&](int64_t, double r, double g) {
        if (r == g) return false;  // also equal infinities
        if (std::isnan(r) || std::isnan(g)) return !(std::isnan(r) && std::isnan(g));
        return !(std::fabs(g - r) <= atol + rtol * std::fabs(r));
    });
}

}  // namespace ctk::test
