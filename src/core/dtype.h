// DType: the element types a Tensor can hold, and the bit containers for the
// 16- and 8-bit float formats. The containers only carry bits; the conversions
// (rounding, saturation, NaN) live in src/formats/, which is usable on the GPU too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ctk {

enum class DType : uint8_t { F32, F16, BF16, F8E4M3, I8, U8, I32, I64 };

// Bits of an IEEE half, a bfloat16 and an fp8 e4m3fn value. Same size and layout
// as __half / __nv_bfloat16 / __nv_fp8_e4m3, so device code can reinterpret them.
struct fp16_t { uint16_t bits; };
struct bf16_t { uint16_t bits; };
struct fp8e4m3_t { uint8_t bits; };

size_t dtype_size(DType t);            // bytes per element
const char* dtype_name(DType t);       // "f32", "f16", "bf16", "f8e4m3", "i8", "u8", "i32", "i64"
bool dtype_from_name(const std::string& name, DType* out);  // inverse of dtype_name

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<fp16_t> { static constexpr DType value = DType::F16; };
template <> struct dtype_of<bf16_t> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<fp8e4m3_t> { static constexpr DType value = DType::F8E4M3; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::I8; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };

}  // namespace ctk
