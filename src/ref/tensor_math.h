// Small element helpers shared by the CPU references: read any float-like element
// as fp32, write fp32 into f32/f16/bf16, and test "is zero" (-0 counts as zero).
#pragma once
#include "core/tensor.h"
#include "formats/formats.h"

namespace ctk::ref {

// Element i of a host tensor as fp32 (f32, f16, bf16, f8e4m3, i8, u8, i32).
inline float load_f32(const Tensor& t, int64_t i) {
    const void* p = t.raw();
    switch (t.dtype) {
        case DType::F32: return static_cast<const float*>(p)[i];
        case DType::F16: return fp16_to_float(static_cast<const uint16_t*>(p)[i]);
        case DType::BF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
        case DType::F8E4M3: return e4m3_to_float(static_cast<const uint8_t*>(p)[i]);
        case DType::I8: return static_cast<float>(static_cast<const int8_t*>(p)[i]);
        case DType::U8: return static_cast<float>(static_cast<const uint8_t*>(p)[i]);
        case DType::I32: return static_cast<float>(static_cast<const int32_t*>(p)[i]);
        case DType::I64: break;
    }
    throw Error(cat("tensor ", t.describe(), ": cannot be read as float"));
}

// Round v once into element i of an f32, f16 or bf16 host tensor.
inline void store_f32(Tensor& t, int64_t i, float v) {
    void* p = t.raw();
    switch (t.dtype) {
        case DType::F32: static_cast<float*>(p)[i] = v; return;
        case DType::F16: static_cast<uint16_t*>(p)[i] = fp16_from_float(v); return;
        case DType::BF16: static_cast<uint16_t*>(p)[i] = bf16_from_float(v); return;
        default: break;
    }
    throw Error(cat("tensor ", t.describe(), ": cannot store a float result"));
}

// Throws naming `what` and the first element that is NaN or +-Inf ("row r, column c" for a
// 2-D tensor, else its index). Float dtypes only (f32, f16, bf16, f8e4m3, whose NaN codes are
// 0x7F and 0xFF); integer tensors are always finite and pass.
void check_finite(const Tensor& t, const std::string& what);

// A whole host tensor converted to f32 (a copy).
Tensor to_f32(const Tensor& t);
// A host f32 tensor rounded once to `out` (f32, f16 or bf16).
Tensor from_f32(const Tensor& t, DType out);

}  // namespace ctk::ref
