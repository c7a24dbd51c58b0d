// CPU reference for the scaled GEMM of the 2:4 layers (see gemm.h for the contract):
//
//   out[m, n] = round_out( ws[n] * (xs[m] * acc[m, n]) + bias[n] )
//
// Both forms share one loop: row n of W is turned once into a list of terms
// (column k, value w[n, k]) and every output of that row is a dot product over the
// list, k ascending. The dense form lists all K columns; the sparse form lists the 2
// kept slots of every group, so it skips only exact zeros (see scaled_sparse_gemm).
// Accumulation: fp32 for f16/bf16/f8e4m3 (each product is exact in fp32), int32 for i8.
#include "ref/gemm.h"

#include "core/epilogue.h"

#include <vector>

#include "formats/formats.h"

namespace ctk::ref {
namespace {

bool gemm_dtype_ok(DType t) {
    return t == DType::F16 || t == DType::BF16 || t == DType::F8E4M3 || t == DType::I8;
}

// Element i of an f16/bf16/f8e4m3 tensor as float (exact).
float to_float(const Tensor& t, int64_t i) {
    switch (t.dtype) {
        case DType::F16: return fp16_to_float(t.data<fp16_t>()[i].bits);
        case DType::BF16: return bf16_to_float(t.data<bf16_t>()[i].bits);
        case DType::F8E4M3: return e4m3_to_float(t.data<fp8e4m3_t>()[i].bits);
        default: throw Error(cat("to_float: unsupported dtype ", dtype_name(t.dtype)));
    }
}

// Checks x, the weight's dtype and [N, K], the scales, the bias and out_dtype.
// `op` prefixes every message.
void validate(const std::string& op, const Tensor& x, DType w_dtype, int64_t N, int64_t K_w,
              const Tensor& x_scale, const Tensor& w_scale, const Tensor& bias, DType out_dtype) {
    CTK_CHECK(x.defined() && x.device == Device::CPU, op, ": x: expected a host tensor, found ",
              x.defined() ? x.describe() : std::string("an undefined tensor"));
    CTK_CHECK(x.ndim() == 2, op, ": x: expected shape [M, K], found ", shape_str(x.shape));
    CTK_CHECK(gemm_dtype_ok(x.dtype), op, ": x: expected dtype f16, bf16, f8e4m3 or i8, found ",
              dtype_name(x.dtype));
    CTK_CHECK(w_dtype == x.dtype, op, ": w: expected dtype ", dtype_name(x.dtype), " (the dtype of x), found ",
              dtype_name(w_dtype));
    const int64_t M = x.shape[0], K = x.shape[1];
    CTK_CHECK(K_w == K, op, ": w: expected K = ", K, " (columns of x), found K = ", K_w);
    // |x * w| <= 128 * 128 = 2^14 for i8, so K < 2^17 keeps the int32 sum from overflowing.
    CTK_CHECK(x.dtype != DType::I8 || K < (int64_t{1} << 17), op, ": x: K = ", K,
              " is too large for int32 accumulation of i8 products (K < 131072)");
    CTK_CHECK(out_dtype == DType::F16 || out_dtype == DType::BF16, op, ": out_dtype: expected f16 or bf16, found ",
              dtype_name(out_dtype));
    check_epilogue_args(op, Device::CPU, M, N, x_scale, w_scale, bias, out_dtype);
}

// s[i], s[0] for a scalar scale, 1 for an undefined one.
float scale_at(const Tensor& s, int64_t i) {
    if (!s.defined()) return 1.0f;
    return s.data<float>()[s.numel() == 1 ? 0 : i];
}

// The nonzero-capable terms of one weight row: w[n, col[j]] = val[j] (float) or ival[j] (i8).
struct RowTerms {
    std::vector<int64_t> col;
    std::vector<float> val;
    std::vector<int32_t> ival;
    void clear() { col.clear(); val.clear(); ival.clear(); }
};

// Appends element i of w (column k) to the terms.
void add_term(RowTerms& t, const Tensor& w, int64_t i, int64_t k) {
    t.col.push_back(k);
    if (w.dtype == DType::I8) t.ival.push_back(w.data<int8_t>()[i]);
    else t.val.push_back(to_float(w, i));
}

// out[m, n] for every m and n, given a function filling the terms of row n.
// x: [M, K]; returns [M, N] out_dtype.
template <class FillRow>
Tensor gemm_rows(const Tensor& x, int64_t N, const Tensor& x_scale, const Tensor& w_scale, const Tensor& bias,
                 DType out_dtype, FillRow fill_row) {
    const int64_t M = x.shape[0], K = x.shape[1];
    const bool is_i8 = x.dtype == DType::I8;
    // x once as float (or int32 for i8), row-major [M, K].
    std::vector<float> xf(is_i8 ? 0 : M * K);
    std::vector<int32_t> xi(is_i8 ? M * K : 0);
    for (int64_t i = 0; i < M * K; ++i) {
        if (is_i8) xi[i] = x.data<int8_t>()[i];
        else xf[i] = to_float(x, i);
    }
    Tensor out = Tensor::empty(out_dtype, {M, N});
    RowTerms terms;
    for (int64_t n = 0; n < N; ++n) {
        terms.clear();
        fill_row(n, terms);
        const int64_t nt = static_cast<int64_t>(terms.col.size());
        const float ws = scale_at(w_scale, n);
        const bool has_bias = bias.defined();
        const float b = !has_bias ? 0.0f
                        : out_dtype == DType::F16 ? fp16_to_float(bias.data<fp16_t>()[n].bits)
                                                  : bf16_to_float(bias.data<bf16_t>()[n].bits);
        for (int64_t m = 0; m < M; ++m) {
            float acc_f;
            if (is_i8) {
                int32_t acc = 0;
                for (int64_t j = 0; j < nt; ++j) acc += xi[m * K + terms.col[j]] * terms.ival[j];
                acc_f = static_cast<float>(acc);
            } else {
                float acc = 0.0f;
                for (int64_t j = 0; j < nt; ++j) acc += xf[m * K + terms.col[j]] * terms.val[j];
                acc_f = acc;
            }
            // The epilogue of CUTLASS's ScaledEpilogue(+ColumnBias), in fp32, one rounding.
            float v = ws * (scale_at(x_scale, m) * acc_f);
            if (has_bias) v = v + b;
            if (out_dtype == DType::F16) out.data<fp16_t>()[m * N + n].bits = fp16_from_float(v);
            else out.data<bf16_t>()[m * N + n].bits = bf16_from_float(v);
        }
    }
    return out;
}

}  // namespace

Tensor scaled_gemm(const Tensor& x, const Tensor& w, const Tensor& x_scale, const Tensor& w_scale,
                   const Tensor& bias, DType out_dtype) {
    CTK_CHECK(w.defined() && w.device == Device::CPU && w.ndim() == 2,
              "scaled_gemm: w: expected a host tensor of shape [N, K], found ",
              w.defined() ? w.describe() : std::string("an undefined tensor"));
    const int64_t N = w.shape[0], K = w.shape[1];
    validate("scaled_gemm", x, w.dtype, N, K, x_scale, w_scale, bias, out_dtype);
    // Dense: every column of row n is a term.
    return gemm_rows(x, N, x_scale, w_scale, bias, out_dtype, [&](int64_t n, RowTerms& t) {
        for (int64_t k = 0; k < K; ++k) add_term(t, w, n * K + k, k);
    });
}

// Equal to scaled_gemm(decompress_24(w)) for finite x: the skipped terms are x * (+-0) =
// +-0, and adding +-0 never changes an fp32 sum that starts at +0 (it cannot become -0:
// a sum is -0 only when both addends are -0) nor an int32 one.
Tensor scaled_sparse_gemm(const Tensor& x, const Sparse24& w, const Tensor& x_scale, const Tensor& w_scale,
                          const Tensor& bias, DType out_dtype) {
    const char* op = "scaled_sparse_gemm";
    CTK_CHECK(w.values.defined() && w.values.device == Device::CPU && w.values.ndim() == 2, op,
              ": w.values: expected a host tensor of shape [N, K/2], found ",
              w.values.defined() ? w.values.describe() : std::string("an undefined tensor"));
    CTK_CHECK(w.codes.defined() && w.codes.device == Device::CPU && w.codes.ndim() == 2 &&
                  w.codes.dtype == DType::U8,
              op, ": w.codes: expected a host u8 tensor of shape [N, K/4], found ",
              w.codes.defined() ? w.codes.describe() : std::string("an undefined tensor"));
    const int64_t N = w.codes.shape[0], G = w.codes.shape[1], K = 4 * G;
    CTK_CHECK(w.values.shape == (Shape{N, K / 2}), op, ": w.values: expected shape [", N, ", ", K / 2,
              "] ([N, K/2] for codes [N, K/4] = ", shape_str(w.codes.shape), "), found ", shape_str(w.values.shape));
    validate(op, x, w.values.dtype, N, K, x_scale, w_scale, bias, out_dtype);
    const uint8_t* codes = w.codes.data<uint8_t>();
    for (int64_t i = 0; i < N * G; ++i)
        CTK_CHECK(code24_valid(codes[i]), op, ": w.codes: row ", i / G, ", group ", i % G, " has code 0x", std::hex,
                  static_cast<int>(codes[i]), std::dec, "; expected idx0 | idx1 << 2 with idx0 < idx1");
    // Sparse: the 2 kept slots of every group, lower position first (k ascending).
    return gemm_rows(x, N, x_scale, w_scale, bias, out_dtype, [&](int64_t n, RowTerms& t) {
        for (int64_t g = 0; g < G; ++g) {
            uint8_t code = codes[n * G + g];
            add_term(t, w.values, n * (K / 2) + 2 * g, 4 * g + code24_idx0(code));
            add_term(t, w.values, n * (K / 2) + 2 * g + 1, 4 * g + code24_idx1(code));
        }
    });
}

}  // namespace ctk::ref
