// CPU reference for 2:4 sparsity (see sparse24.h for the contract and
// src/formats/sparse24.h for the group code and the bitmask bit order).
//
// Every op here only moves elements around, so it works on raw element bits: a
// value is copied with memcpy and "is it zero" is a test on its bits (+0 and -0 are
// zero for the float types). Only prune_24 looks at magnitudes.
#include "ref/sparse24.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "formats/formats.h"

namespace ctk::ref {
namespace {

// The dtypes a 2:4 weight may have.
bool sparse_dtype_ok(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F8E4M3 ||
           t == DType::I8;
}

void expect_sparse_dtype(const Tensor& t, const std::string& what) {
    CTK_CHECK(sparse_dtype_ok(t.dtype), what, ": expected dtype f32, f16, bf16, f8e4m3 or i8, found ",
              dtype_name(t.dtype));
}

void expect_host_2d(const Tensor& t, const std::string& what) {
    expect_defined(t, what);
    CTK_CHECK(t.device == Device::CPU, what, ": expected a host tensor, found ", t.describe());
    CTK_CHECK(t.ndim() == 2, what, ": expected a 2-D tensor, found shape ", shape_str(t.shape));
}

void expect_k_multiple_of_4(int64_t K, const std::string& what) {
    CTK_CHECK(K >= 0 && K % 4 == 0, what, ": K (columns) must be a non-negative multiple of 4 ",
              "for 2:4 groups, found K = ", K);
}

// True when element i of `base` (dtype t) is +0 or -0 (or integer 0): the sign bit
// is masked for the float types.
bool is_zero(const void* base, int64_t i, DType t) {
    const char* p = static_cast<const char*>(base);
    switch (t) {
        case DType::F32: {
            uint32_t u;
            std::memcpy(&u, p + 4 * i, 4);
            return (u & 0x7FFFFFFFu) == 0;
        }
        case DType::F16:
        case DType::BF16: {
            uint16_t u;
            std::memcpy(&u, p + 2 * i, 2);
            return (u & 0x7FFFu) == 0;
        }
        case DType::F8E4M3: return (static_cast<uint8_t>(p[i]) & 0x7Fu) == 0;
        case DType::I8: return p[i] == 0;
        default: throw Error(cat("is_zero: unsupported dtype ", dtype_name(t)));
    }
}

// |element i| as float, for ranking in prune_24 (f32/f16/bf16 only).
float abs_value(const void* base, int64_t i, DType t) {
    switch (t) {
        case DType::F32: return std::fabs(static_cast<const float*>(base)[i]);
        case DType::F16: return std::fabs(fp16_to_float(static_cast<const fp16_t*>(base)[i].bits));
        case DType::BF16: return std::fabs(bf16_to_float(static_cast<const bf16_t*>(base)[i].bits));
        default: throw Error(cat("abs_value: unsupported dtype ", dtype_name(t)));
    }
}

// dst[di] = src[si] for elements of `size` bytes.
void copy_elem(void* dst, int64_t di, const void* src, int64_t si, size_t size) {
    std::memcpy(static_cast<char*>(dst) + di * size, static_cast<const char*>(src) + si * size, size);
}

// 4-bit mask of the nonzero positions of group g of row `row` (row has K elements).
uint8_t nonzero_mask(const void* row, int64_t g, DType t) {
    uint8_t mask = 0;
    for (int p = 0; p < 4; ++p)
        if (!is_zero(row, 4 * g + p, t)) mask |= static_cast<uint8_t>(1u << p);
    return mask;
}

// ceil(K / 8) without overflow for K near INT64_MAX.
int64_t bitmask_bytes(int64_t K) { return K / 8 + (K % 8 != 0 ? 1 : 0); }

// Checks compressed [N, K/2] + bitmask [N, ceil(K/8)] u8 (dtypes, host, shapes); `what`
// prefixes the messages. Runs before any output is allocated.
void check_bitmask_pair(const Tensor& compressed, const Tensor& bitmask, int64_t K, const std::string& what) {
    expect_host_2d(compressed, what + "compressed");
    expect_host_2d(bitmask, what + "bitmask");
    expect_sparse_dtype(compressed, what + "compressed");
    expect_dtype(bitmask, DType::U8, what + "bitmask");
    expect_k_multiple_of_4(K, what.size() >= 2 ? what.substr(0, what.size() - 2) : what);  // drop ": "
    const int64_t N = compressed.shape[0];
    expect_shape(compressed, {N, K / 2}, what + "compressed (for K = " + std::to_string(K) + ")");
    expect_shape(bitmask, {N, bitmask_bytes(K)}, what + "bitmask (ceil(K/8) bytes per row of compressed)");
}

// Validates compressed [N, K/2] + bitmask [N, ceil(K/8)] u8 and writes the dense rows
// into out (row stride out_ld elements, starting at column col0). `what` prefixes the
// messages (e.g. "column shard 1: "). Zero slots get +0 bits (the output is zeroed).
void decode_bitmask_into(const Tensor& compressed, const Tensor& bitmask, int64_t K, Tensor& out,
                         int64_t row0, int64_t col0, const std::string& what) {
    check_bitmask_pair(compressed, bitmask, K, what);
    const int64_t N = compressed.shape[0];
    const int64_t nbytes = bitmask_bytes(K);

    const size_t es = dtype_size(compressed.dtype);
    const uint8_t* mask = bitmask.data<uint8_t>();
    const void* vals = compressed.raw();
    void* dense = out.raw();
    const int64_t out_ld = out.shape[1];
    for (int64_t r = 0; r < N; ++r) {
        const uint8_t* mrow = mask + r * nbytes;
        // Padding bits past K (the high nibble of the last byte when K % 8 == 4) must be 0.
        if (K % 8 != 0) {
            uint8_t pad = static_cast<uint8_t>(mrow[nbytes - 1] >> (K % 8));
            CTK_CHECK(pad == 0, what, "bitmask: row ", r, " has padding bits set past column ", K - 1,
                      " (last byte 0x", std::hex, static_cast<int>(mrow[nbytes - 1]), std::dec,
                      "); padding must be 0");
        }
        int64_t slot = 0;  // next kept value of this row in compressed
        for (int64_t g = 0; g < K / 4; ++g) {
            uint8_t nib = bitmask_group_nibble(mrow, g);
            CTK_CHECK(popcount4(nib) == 2, what, "bitmask: row ", r, ", group ", g, " (columns ", 4 * g,
                      "..", 4 * g + 3, ") has nibble 0x", std::hex, static_cast<int>(nib), std::dec, " with ",
                      popcount4(nib), " bits set; 2:4 needs exactly 2");
            for (int p = 0; p < 4; ++p) {
                if (nib & (1u << p)) {
                    copy_elem(dense, (row0 + r) * out_ld + col0 + 4 * g + p, vals, r * (K / 2) + slot, es);
                    ++slot;
                }
            }
        }
    }
}

// compress_24 with `what` naming the caller's argument in check_24's message.
Sparse24 compress_24_checked(const Tensor& w, const std::string& what) {
    check_24(w, what);
    const int64_t N = w.shape[0], K = w.shape[1];
    const size_t es = dtype_size(w.dtype);
    Sparse24 out;
    out.values = Tensor::zeros(w.dtype, {N, K / 2});  // +0 bits in unused slots
    out.codes = Tensor::empty(DType::U8, {N, K / 4});
    uint8_t* codes = out.codes.data<uint8_t>();
    for (int64_t r = 0; r < N; ++r) {
        const char* row = static_cast<const char*>(w.raw()) + r * K * es;
        for (int64_t g = 0; g < K / 4; ++g) {
            uint8_t code = code24_for_nonzeros(nonzero_mask(row, g, w.dtype));
            codes[r * (K / 4) + g] = code;
            int idx[2] = {code24_idx0(code), code24_idx1(code)};
            for (int s = 0; s < 2; ++s) {
                int64_t src = 4 * g + idx[s];
                if (!is_zero(row, src, w.dtype)) copy_elem(out.values.raw(), r * (K / 2) + 2 * g + s, row, src, es);
            }
        }
    }
    return out;
}

}  // namespace

Tensor prune_24(const Tensor& w) {
    expect_host_2d(w, "prune_24: w");
    CTK_CHECK(w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16,
              "prune_24: w: expected dtype f32, f16 or bf16 (prune in high precision, before quantizing), found ",
              dtype_name(w.dtype));
    const int64_t N = w.shape[0], K = w.shape[1];
    expect_k_multiple_of_4(K, "prune_24: w");
    const size_t es = dtype_size(w.dtype);
    Tensor out = Tensor::zeros(w.dtype, w.shape);  // all +0 bits
    for (int64_t r = 0; r < N; ++r) {
        for (int64_t g = 0; g < K / 4; ++g) {
            float a[4];
            for (int p = 0; p < 4; ++p) {
                a[p] = abs_value(w.raw(), r * K + 4 * g + p, w.dtype);
                // NaN cannot be ranked; an Inf would rank, but a weight that keeps it is no weight.
                CTK_CHECK(!std::isnan(a[p]), "prune_24: w: NaN at row ", r, ", column ", 4 * g + p,
                          "; magnitudes cannot be ranked");
                CTK_CHECK(!std::isinf(a[p]), "prune_24: w: Inf at row ", r, ", column ", 4 * g + p,
                          "; a weight must be finite");
            }
            for (int p = 0; p < 4; ++p) {
                // rank = how many positions beat p: larger |w|, or equal |w| at a lower index.
                int rank = 0;
                for (int q = 0; q < 4; ++q)
                    if (a[q] > a[p] || (a[q] == a[p] && q < p)) ++rank;
                int64_t i = r * K + 4 * g + p;
                // Keep the top 2; a kept zero stays +0 (out is zeroed), so -0 becomes +0.
                if (rank < 2 && !is_zero(w.raw(), i, w.dtype)) copy_elem(out.raw(), i, w.raw(), i, es);
            }
        }
    }
    return out;
}

void check_24(const Tensor& w, const std::string& what) {
    expect_host_2d(w, what);
    expect_sparse_dtype(w, what);
    const int64_t N = w.shape[0], K = w.shape[1];
    expect_k_multiple_of_4(K, what);
    for (int64_t r = 0; r < N; ++r) {
        const char* row = static_cast<const char*>(w.raw()) + r * K * dtype_size(w.dtype);
        for (int64_t g = 0; g < K / 4; ++g) {
            int count = popcount4(nonzero_mask(row, g, w.dtype));
            CTK_CHECK(count <= 2, what, ": row ", r, ", group ", g, " (columns ", 4 * g, "..", 4 * g + 3,
                      ") has ", count, " nonzeros; 2:4 allows at most 2");
        }
    }
}

// The compressed-tensors format holds the same information as values + codes: the
// kept values in slot order, and each code's 2-bit mask as the group's nibble.
Bitmask24 bitmask_encode(const Tensor& w) {
    Sparse24 s = compress_24_checked(w, "bitmask_encode: w");
    const int64_t N = w.shape[0], K = w.shape[1];
    const int64_t nbytes = bitmask_bytes(K);
    Bitmask24 b;
    b.compressed = s.values;
    b.bitmask = Tensor::zeros(DType::U8, {N, nbytes});  // padding bits stay 0
    b.shape = Tensor::empty(DType::I64, {2, 1});
    b.shape.data<int64_t>()[0] = N;
    b.shape.data<int64_t>()[1] = K;
    const uint8_t* codes = s.codes.data<uint8_t>();
    uint8_t* mask = b.bitmask.data<uint8_t>();
    for (int64_t r = 0; r < N; ++r)
        for (int64_t g = 0; g < K / 4; ++g)  // group g: byte g/2, low nibble for even g
            mask[r * nbytes + g / 2] |= static_cast<uint8_t>(code24_to_mask(codes[r * (K / 4) + g]) << (4 * (g % 2)));
    return b;
}

Tensor bitmask_decode(const Tensor& compressed, const Tensor& bitmask, int64_t K) {
    check_bitmask_pair(compressed, bitmask, K, "bitmask_decode: ");
    Tensor out = Tensor::zeros(compressed.dtype, {compressed.shape[0], K});
    decode_bitmask_into(compressed, bitmask, K, out, 0, 0, "bitmask_decode: ");
    return out;
}

Tensor bitmask_decode_row_shards(const Tensor& compressed, const Tensor& bitmask, int64_t K,
                                 const std::vector<int64_t>& logical_widths) {
    check_bitmask_pair(compressed, bitmask, K, "bitmask_decode_row_shards: ");
    int64_t total = 0;
    for (int64_t w : logical_widths) {
        CTK_CHECK(w >= 0, "bitmask_decode_row_shards: logical_widths: negative width ", w);
        // total <= rows, so rows - total cannot overflow; bounds the sum before adding.
        CTK_CHECK(w <= compressed.shape[0] - total, "bitmask_decode_row_shards: logical_widths ",
                  shape_str(logical_widths), " sum to more than the ", compressed.shape[0], " rows of compressed");
        total += w;
    }
    CTK_CHECK(total == compressed.shape[0] && total == bitmask.shape[0],
              "bitmask_decode_row_shards: logical_widths sum to ", total, " rows, but compressed has ",
              compressed.shape[0], " and bitmask ", bitmask.shape[0]);
    Tensor out = Tensor::zeros(compressed.dtype, {total, K});
    int64_t row0 = 0;
    for (size_t i = 0; i < logical_widths.size(); ++i) {
        int64_t end = row0 + logical_widths[i];
        decode_bitmask_into(compressed.rows(row0, end), bitmask.rows(row0, end), K, out, row0, 0,
                            cat("bitmask_decode_row_shards: row shard ", i, " (rows ", row0, "..", end - 1, "): "));
        row0 = end;
    }
    return out;
}

Tensor bitmask_decode_col_shards(const std::vector<Tensor>& compressed_parts,
                                 const std::vector<Tensor>& bitmask_parts,
                                 const std::vector<int64_t>& col_widths) {
    CTK_CHECK(!col_widths.empty(), "bitmask_decode_col_shards: col_widths: expected at least one shard");
    CTK_CHECK(compressed_parts.size() == col_widths.size() && bitmask_parts.size() == col_widths.size(),
              "bitmask_decode_col_shards: expected one compressed and one bitmask part per width (",
              col_widths.size(), " widths), found ", compressed_parts.size(), " compressed and ",
              bitmask_parts.size(), " bitmask parts");
    int64_t K = 0;
    for (size_t i = 0; i < col_widths.size(); ++i) {
        CTK_CHECK(col_widths[i] >= 0 && col_widths[i] % 8 == 0, "bitmask_decode_col_shards: col_widths[", i,
                  "]: column shards must be a non-negative multiple of 8 wide, found ", col_widths[i]);
        expect_host_2d(compressed_parts[i], cat("bitmask_decode_col_shards: compressed_parts[", i, "]"));
        expect_sparse_dtype(compressed_parts[i], cat("bitmask_decode_col_shards: compressed_parts[", i, "]"));
        CTK_CHECK(compressed_parts[i].dtype == compressed_parts[0].dtype &&
                      compressed_parts[i].shape[0] == compressed_parts[0].shape[0],
                  "bitmask_decode_col_shards: compressed_parts[", i, "]: expected ",
                  dtype_name(compressed_parts[0].dtype), " with ", compressed_parts[0].shape[0],
                  " rows (like part 0), found ", compressed_parts[i].describe());
        check_bitmask_pair(compressed_parts[i], bitmask_parts[i], col_widths[i],
                           cat("bitmask_decode_col_shards: column shard ", i, ": "));
        CTK_CHECK(col_widths[i] <= INT64_MAX - K, "bitmask_decode_col_shards: col_widths ", shape_str(col_widths),
                  " sum past INT64_MAX");
        K += col_widths[i];
    }
    Tensor out = Tensor::zeros(compressed_parts[0].dtype, {compressed_parts[0].shape[0], K});
    int64_t col0 = 0;
    for (size_t i = 0; i < col_widths.size(); ++i) {
        decode_bitmask_into(compressed_parts[i], bitmask_parts[i], col_widths[i], out, 0, col0,
                            cat("bitmask_decode_col_shards: column shard ", i, " (columns ", col0, "..",
                                col0 + col_widths[i] - 1, "): "));
        col0 += col_widths[i];
    }
    return out;
}

Sparse24 compress_24(const Tensor& w) { return compress_24_checked(w, "compress_24: w"); }

Tensor decompress_24(const Sparse24& s) {
    expect_host_2d(s.values, "decompress_24: values");
    expect_host_2d(s.codes, "decompress_24: codes");
    expect_sparse_dtype(s.values, "decompress_24: values");
    expect_dtype(s.codes, DType::U8, "decompress_24: codes");
    const int64_t N = s.codes.shape[0], K = 4 * s.codes.shape[1];
    expect_shape(s.values, {N, K / 2}, "decompress_24: values ([N, K/2] for codes [N, K/4])");
    const size_t es = dtype_size(s.values.dtype);
    const uint8_t* codes = s.codes.data<uint8_t>();
    Tensor out = Tensor::zeros(s.values.dtype, {N, K});
    for (int64_t r = 0; r < N; ++r) {
        for (int64_t g = 0; g < K / 4; ++g) {
            uint8_t code = codes[r * (K / 4) + g];
            CTK_CHECK(code24_valid(code), "decompress_24: codes: row ", r, ", group ", g, " has code 0x",
                      std::hex, static_cast<int>(code), std::dec,
                      "; expected idx0 | idx1 << 2 with idx0 < idx1 (0x4, 0x8, 0x9, 0xc, 0xd, 0xe)");
            copy_elem(out.raw(), r * K + 4 * g + code24_idx0(code), s.values.raw(), r * (K / 2) + 2 * g, es);
            copy_elem(out.raw(), r * K + 4 * g + code24_idx1(code), s.values.raw(), r * (K / 2) + 2 * g + 1, es);
        }
    }
    return out;
}

Sparse24 bitmask_to_sparse24(const Tensor& compressed, const Tensor& bitmask, int64_t K) {
    // Validate once through the decoder's checks (shapes, nibbles, padding).
    (void)bitmask_decode(compressed, bitmask, K);
    const int64_t N = compressed.shape[0];
    const int64_t nbytes = bitmask_bytes(K);
    Sparse24 s;
    s.values = compressed.clone();  // already two values per group, in slot order
    s.codes = Tensor::empty(DType::U8, {N, K / 4});
    const uint8_t* mask = bitmask.data<uint8_t>();
    uint8_t* codes = s.codes.data<uint8_t>();
    for (int64_t r = 0; r < N; ++r)
        for (int64_t g = 0; g < K / 4; ++g)
            codes[r * (K / 4) + g] = code24_from_mask(bitmask_group_nibble(mask + r * nbytes, g));
    return s;
}

}  // namespace ctk::ref
