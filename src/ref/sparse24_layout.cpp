// CPU reference of the kernel layout (see sparse24_layout.h and formats/sparse24_layout.h).
#include "ref/sparse24_layout.h"

#include <cstdint>
#include <cstring>

#include "formats/sparse24.h"
#include "formats/sparse24_layout.h"

namespace ctk::ref {
namespace {

void expect_host(const Tensor& t, const char* what) {
    expect_defined(t, what);
    CTK_CHECK(t.device == Device::CPU, what, ": expected a host tensor, found ", t.describe());
}

// W [N, K]: N >= 1, K >= 4 with K % 4 == 0, both small enough that rounding up to the
// padded sizes (sparse24_padded_rows / _k) cannot overflow.
void expect_nk(int64_t N, int64_t K, const char* what) {
    CTK_CHECK(N >= 1 && N <= INT64_MAX - (kSparse24RowPad - 1) && K >= 4 && K % 4 == 0 &&
                  K <= INT64_MAX - (kSparse24KPad - 1),
              what, ": expected N >= 1 and K >= 4 with K % 4 == 0 (both at most about 2^63 - 128), found N = ", N,
              ", K = ", K);
}

}  // namespace

bool sparse24_eight_bit(DType t, const char* what) {
    if (t == DType::F16 || t == DType::BF16) return false;
    if (t == DType::I8 || t == DType::F8E4M3) return true;
    throw Error(cat(what, ": expected a 2:4 operand dtype (f16, bf16, i8, f8e4m3), found ", dtype_name(t)));
}

Tensor reorder_meta_for_kernel(const Tensor& codes, DType value_dtype) {
    bool eight_bit = sparse24_eight_bit(value_dtype, "reorder_meta_for_kernel: value_dtype");
    expect_host(codes, "reorder_meta_for_kernel: codes");
    expect_dtype(codes, DType::U8, "reorder_meta_for_kernel: codes");
    CTK_CHECK(codes.ndim() == 2, "reorder_meta_for_kernel: codes: expected [N, K/4], found ", shape_str(codes.shape));
    const int64_t N = codes.size(0), G = codes.size(1), K = 4 * G;
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
    const uint8_t* c = codes.data<uint8_t>();
    for (int64_t i = 0; i < N * G; ++i)
        CTK_CHECK(code24_valid(c[i]), "reorder_meta_for_kernel: codes: row ", i / G, ", group ", i % G,
                  " holds 0x", std::hex, int(c[i]), std::dec, ", not a valid 2:4 code");
    // The code of (row, group), padding included.
    auto code = [&](int64_t row, int64_t group) -> uint32_t {
        return (row < N && group < G) ? c[row * G + group] : kSparse24PadCode;
    };

    Tensor meta = Tensor::empty(DType::I32, {Np / 16, Kp / 64, 32});
    uint32_t* out = reinterpret_cast<uint32_t*>(meta.data<int32_t>());
    for (int64_t r = 0; r < Np / 16; ++r) {
        for (int64_t p = 0; p < Kp / 64; ++p) {
            for (int lane = 0; lane < 32; ++lane) {
                const int g = lane >> 2, t = lane & 3;
                const int64_t row0 = 16 * r + g;  // the lane's rows are row0 and row0 + 8
                uint32_t e = 0;
                if (!eight_bit) {
                    // m16n8k32, PTX Fig. "sparse-mma-metadata-16832-f16bf16": rows g | g+8,
                    // 16 K per lane; lanes 2,3 carry the next k32 step (selector 1).
                    const int64_t group0 = 16 * p + 4 * t;
                    for (int j = 0; j < 4; ++j) {
                        e |= code(row0, group0 + j) << (4 * j);
                        e |= code(row0 + 8, group0 + j) << (16 + 4 * j);
                    }
                } else {
                    // m16n8k64, PTX Figs. "sparse-mma-metadata-16864-u8s8-first32col/last32col":
                    // one row per lane (odd lanes row g+8), 32 K per lane (lanes 2,3: K 32..63).
                    const int64_t row = row0 + 8 * (t & 1);
                    const int64_t group0 = 16 * p + 8 * (t >> 1);
                    for (int j = 0; j < 8; ++j) e |= code(row, group0 + j) << (4 * j);
                }
                out[(r * (Kp / 64) + p) * 32 + lane] = e;
            }
        }
    }
    return meta;
}

Tensor codes_from_kernel_meta(const Tensor& meta, int64_t N, int64_t K, DType value_dtype) {
    bool eight_bit = sparse24_eight_bit(value_dtype, "codes_from_kernel_meta: value_dtype");
    expect_nk(N, K, "codes_from_kernel_meta");
    expect_host(meta, "codes_from_kernel_meta: meta");
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K), G = K / 4;
    expect_dtype(meta, DType::I32, "codes_from_kernel_meta: meta");
    expect_shape(meta, {Np / 16, Kp / 64, 32}, "codes_from_kernel_meta: meta");
    const uint32_t* m = reinterpret_cast<const uint32_t*>(meta.data<int32_t>());
    Tensor codes = Tensor::empty(DType::U8, {N, G});
    uint8_t* c = codes.data<uint8_t>();
    for (int64_t row = 0; row < Np; ++row) {
        for (int64_t group = 0; group < Kp / 4; ++group) {
            Sparse24MetaSlot s = sparse24_meta_slot(row, group, Kp, eight_bit);
            uint8_t code = static_cast<uint8_t>((m[s.word] >> s.shift) & 0xF);
            CTK_CHECK(code24_valid(code), "codes_from_kernel_meta: row ", row, ", group ", group, " holds 0x", std::hex,
                      int(code), std::dec, ", not a valid 2:4 code", (row >= N || group >= G ? " (padding)" : ""));
            if (row < N && group < G) c[row * G + group] = code;
        }
    }
    return codes;
}

Tensor pad_values_for_kernel(const Tensor& values, int64_t N, int64_t K) {
    expect_nk(N, K, "pad_values_for_kernel");
    expect_host(values, "pad_values_for_kernel: values");
    sparse24_eight_bit(values.dtype, "pad_values_for_kernel: values");
    CTK_CHECK(values.ndim() == 2 && values.size(0) == N && values.size(1) == K / 2,
              "pad_values_for_kernel: values: expected [N, K/2] = [", N, ", ", K / 2, "] with K % 4 == 0, found ",
              shape_str(values.shape));
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
    Tensor out = Tensor::zeros(values.dtype, {Np, Kp / 2});
    const size_t es = dtype_size(values.dtype);
    for (int64_t n = 0; n < N; ++n)
        std::memcpy(static_cast<char*>(out.raw()) + n * (Kp / 2) * es,
                    static_cast<const char*>(values.raw()) + n * (K / 2) * es, (K / 2) * es);
    return out;
}

Tensor unpad_values_from_kernel(const Tensor& padded, int64_t N, int64_t K) {
    expect_nk(N, K, "unpad_values_from_kernel");
    expect_host(padded, "unpad_values_from_kernel: padded");
    sparse24_eight_bit(padded.dtype, "unpad_values_from_kernel: padded");
    const int64_t Np = sparse24_padded_rows(N), Kp = sparse24_padded_k(K);
    expect_shape(padded, {Np, Kp / 2}, "unpad_values_from_kernel: padded");
    Tensor out = Tensor::empty(padded.dtype, {N, K / 2});
    const size_t es = dtype_size(padded.dtype);
    for (int64_t n = 0; n < N; ++n)
        std::memcpy(static_cast<char*>(out.raw()) + n * (K / 2) * es,
                    static_cast<const char*>(padded.raw()) + n * (Kp / 2) * es, (K / 2) * es);
    return out;
}

Tensor tile_values_for_v3(const Tensor& values) {
    expect_host(values, "tile_values_for_v3: values");
    sparse24_eight_bit(values.dtype, "tile_values_for_v3: values");
    CTK_CHECK(values.ndim() == 2 && values.shape[0] % kSparse24RowPad == 0 && values.shape[1] % (kSparse24KPad / 2) == 0,
              "tile_values_for_v3: values: expected [Np, Kp/2] with Np % 128 == 0 and Kp % 128 == 0, found ",
              values.describe());
    const int64_t rows = values.shape[0], row_bytes = values.shape[1] * static_cast<int64_t>(dtype_size(values.dtype));
    const int64_t nb = row_bytes / 64;
    Tensor out = Tensor::empty(values.dtype, values.shape);
    const char* src = static_cast<const char*>(values.raw());
    char* dst = static_cast<char*>(out.raw());
    for (int64_t t = 0; t < rows / 128; ++t)        // 128-row tile
        for (int64_t b = 0; b < nb; ++b)            // stage: 64 bytes of every row
            for (int64_t r = 0; r < 128; ++r, dst += 64)
                std::memcpy(dst, src + (t * 128 + r) * row_bytes + b * 64, 64);
    return out;
}

Tensor tile_meta_for_v3(const Tensor& meta, DType value_dtype) {
    const bool eight_bit = sparse24_eight_bit(value_dtype, "tile_meta_for_v3: value_dtype");
    expect_host(meta, "tile_meta_for_v3: meta");
    expect_dtype(meta, DType::I32, "tile_meta_for_v3: meta");
    CTK_CHECK(meta.ndim() == 3 && meta.shape[0] % 8 == 0 && meta.shape[1] % 2 == 0 && meta.shape[2] == 32,
              "tile_meta_for_v3: meta: expected [Np/16, Kp/64, 32] with Np % 128 == 0 and Kp % 128 == 0, found ",
              meta.describe());
    const int64_t blocks = meta.shape[0], P = eight_bit ? 2 : 1, nb = meta.shape[1] / P;
    const size_t piece = 32 * P * sizeof(int32_t);  // one row block's words of one stage
    Tensor out = Tensor::empty(DType::I32, meta.shape);
    const char* src = static_cast<const char*>(meta.raw());
    char* dst = static_cast<char*>(out.raw());
    for (int64_t t = 0; t < blocks / 8; ++t)   // 128-row tile = 8 row blocks
        for (int64_t b = 0; b < nb; ++b)       // stage
            for (int64_t j = 0; j < 8; ++j, dst += piece)
                std::memcpy(dst, src + ((t * 8 + j) * meta.shape[1] + b * P) * 32 * sizeof(int32_t), piece);
    return out;
}

}  // namespace ctk::ref
