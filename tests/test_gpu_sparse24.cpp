// GPU 2:4 kernels against the CPU references (suite "gpu"):
//   compression (dense and bitmask) bit for bit against
//     reorder_meta_for_kernel(ref::compress_24(w).codes) + pad_values_for_kernel(values);
//   bitmask -> dense bit for bit against ref::bitmask_decode;
//   the GEMM rungs against ref::scaled_sparse_gemm:
//     - integer-valued data (every product and partial sum exact in fp32/int32, so the
//       summation order cannot matter): bit for bit, every dtype and rung;
//     - real-valued data: v1 bit for bit (it sums in the reference's order, without
//       contraction); v2 within the summation-order bound kSumOrderUlps (below);
//   the compress -> decompress invariance (identity activation returns the weight);
//   error paths. Weights and activations are generated on the device from fixed seeds
//   (cuda::fill_random*), and the reference runs on sampled rows of x and W (each output
//   depends only on its row of x and its row of W, so sampling loses nothing).
#if CTK_HAVE_CUDA
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "core/random.h"
#include "formats/formats.h"
#include "ops.h"
#include "sparse24_gemm_sm90.cuh"
#include "ref/gemm.h"
#include "ref/sparse24.h"
#include "ref/sparse24_layout.h"
#include "test_util.h"

using namespace ctk;
using ctk::test::out_ulp;
using ctk::test::compare_bits;
using ctk::test::elem;

namespace {

const DType kDtypes[] = {DType::F16, DType::BF16, DType::I8, DType::F8E4M3};

// Magnitude of generated data: small integers keep f16/bf16/fp8 values exact (e4m3 holds
// integers up to 16) and every fp32 partial sum exact (|acc| <= 16 * K/2 << 2^24); i8 uses
// its whole range (|acc| <= 2^14 * K/2 < 2^31 for K < 2^17).
float data_scale(DType t, bool integer) {
    if (t == DType::I8) return 127.0f;
    if (integer) return 4.0f;
    return t == DType::F8E4M3 ? 16.0f : 1.0f;
}

// v2 on real-valued data: both sides sum the K/2 exact products of a row in fp32 in
// different orders. The reference rounds each of its K/2 - 1 additions to nearest
// (error <= 2^-24 * sum|p| each); the tensor cores align and may truncate (<= 2^-23 *
// sum|p| each). So |acc_gpu - acc_ref| <= (K/2) * 3 * 2^-24 * sum|p| <= K * 2^-23 * sum|p|;
// the two fp32 scale multiplies add at most 2 ulp of fp32 relative, and the final
// rounding to the output dtype can differ by one output ulp.
constexpr double kSumOrderUlps = 1.0;  // factor on K * 2^-23 * sum|x*w| (derivation above)

// Host copy of the listed rows of a 2-D device tensor.
Tensor rows_to_host(const Tensor& dev, const std::vector<int64_t>& rows) {
    Tensor out = Tensor::empty(dev.dtype, {static_cast<int64_t>(rows.size()), dev.shape[1]});
    const size_t row_bytes = dev.shape[1] * dtype_size(dev.dtype);
    for (size_t i = 0; i < rows.size(); ++i) {
        Tensor r = cuda::to_host(dev.rows(rows[i], rows[i] + 1));
        std::memcpy(static_cast<char*>(out.raw()) + i * row_bytes, r.raw(), row_bytes);
    }
    return out;
}

// Up to `count` indices of [0, n): the first and last few (tile edges) and random ones.
std::vector<int64_t> sample(int64_t n, int count, Rng& rng) {
    std::set<int64_t> s;
    if (n <= count) {
        for (int64_t i = 0; i < n; ++i) s.insert(i);
    } else {
        for (int i = 0; i < count / 4; ++i) s.insert(i), s.insert(n - 1 - i);
        while (static_cast<int>(s.size()) < count) s.insert(rng.below(static_cast<uint32_t>(n)));
    }
    return {s.begin(), s.end()};
}

Tensor random_scale_host(int64_t n, float lo, float hi, Rng& rng) {
    Tensor s = Tensor::empty(DType::F32, {n});
    for (int64_t i = 0; i < n; ++i) s.data<float>()[i] = rng.uniform(lo, hi);
    return s;
}

Tensor pick(const Tensor& v, const std::vector<int64_t>& idx) {  // v: host [n] f32 or 16-bit
    if (!v.defined() || v.numel() == 1) return v;
    Tensor out = Tensor::empty(v.dtype, {static_cast<int64_t>(idx.size())});
    const size_t es = dtype_size(v.dtype);
    for (size_t i = 0; i < idx.size(); ++i)
        std::memcpy(static_cast<char*>(out.raw()) + i * es, static_cast<const char*>(v.raw()) + idx[i] * es, es);
    return out;
}

// Counts outputs still holding the 0xFFFF poison (a NaN no finite input can produce here).
int64_t poisoned(const Tensor& out_host) {
    const uint16_t* p = static_cast<const uint16_t*>(out_host.raw());
    int64_t n = 0;
    for (int64_t i = 0; i < out_host.numel(); ++i) n += p[i] == 0xFFFFu;
    return n;
}

struct GemmCase {
    int64_t M, N, K;
    DType dtype;
    bool integer;     // integer-valued data (exact sums)
    bool bias;
    int scales;       // 0: none, 1: scalar, 2: vectors ([M] and [N])
    uint64_t seed;
};

// Runs one case on the listed rungs and checks it against the reference.
void check_gemm(const GemmCase& c, const std::vector<int>& versions) {
    const DType out_dtype = c.dtype == DType::F16 ? DType::F16 : DType::BF16;
    CAPTURE(dtype_name(c.dtype));
    CAPTURE(c.M);
    CAPTURE(c.N);
    CAPTURE(c.K);
    CAPTURE(c.integer);
    CAPTURE(c.bias);
    CAPTURE(c.scales);
    CAPTURE(c.seed);
    Rng rng(c.seed);
    const float sc = data_scale(c.dtype, c.integer);
    Tensor w = cuda::device_empty(c.dtype, {c.N, c.K});
    Tensor x = cuda::device_empty(c.dtype, {c.M, c.K});
    cuda::fill_random_24(w, c.seed, sc, c.integer);
    cuda::fill_random(x, c.seed + 1, sc, c.integer);
    cuda::Sparse24KernelWeight wk = cuda::sparse24_compress(w);

    // Scales keep outputs well inside the f16 range (i8 products are up to 2^14).
    const bool i8 = c.dtype == DType::I8;
    const int scales = i8 && c.scales == 0 ? 1 : c.scales;
    Tensor xs_h, ws_h, bias_h;
    if (scales == 1) {
        xs_h = random_scale_host(1, 0.5f, 2.0f, rng), ws_h = random_scale_host(1, 0.5f, 2.0f, rng);
    } else if (scales == 2) {
        xs_h = random_scale_host(c.M, 0.5f, 2.0f, rng), ws_h = random_scale_host(c.N, 0.5f, 2.0f, rng);
    }
    if (i8) {
        for (int64_t i = 0; i < xs_h.numel(); ++i) xs_h.data<float>()[i] *= 1e-3f;
        for (int64_t i = 0; i < ws_h.numel(); ++i) ws_h.data<float>()[i] *= 1e-2f;
    }
    if (c.bias) bias_h = ctk::test::random_tensor(out_dtype, {c.N}, rng, 2.0f);
    Tensor xs_d = xs_h.defined() ? cuda::to_device(xs_h) : Tensor();
    Tensor ws_d = ws_h.defined() ? cuda::to_device(ws_h) : Tensor();
    Tensor bias_d = bias_h.defined() ? cuda::to_device(bias_h) : Tensor();

    // Reference on sampled rows of x (tokens) and of W (output features).
    const std::vector<int64_t> ms = sample(c.M, 24, rng), ns = sample(c.N, 64, rng);
    Tensor x_sub = rows_to_host(x, ms), w_sub = rows_to_host(w, ns);
    Tensor xs_sub = pick(xs_h, ms), ws_sub = pick(ws_h, ns), bias_sub = pick(bias_h, ns);
    Tensor ref = ref::scaled_sparse_gemm(x_sub, ref::compress_24(w_sub), xs_sub, ws_sub, bias_sub, out_dtype);

    for (int version : versions) {
        CAPTURE(version);
        Tensor out = cuda::device_empty(out_dtype, {c.M, c.N});
        cuda::fill_bytes(out, 0xFF);
        cuda::sparse24_gemm_into(out, x, wk, xs_d, ws_d, bias_d, version);
        Tensor out_h = cuda::to_host(out);
        CHECK(poisoned(out_h) == 0);
        Tensor got = Tensor::empty(out_dtype, ref.shape);
        const uint16_t* all = static_cast<const uint16_t*>(out_h.raw());
        uint16_t* sub = static_cast<uint16_t*>(got.raw());
        for (size_t i = 0; i < ms.size(); ++i)
            for (size_t j = 0; j < ns.size(); ++j) sub[i * ns.size() + j] = all[ms[i] * c.N + ns[j]];
        // Exact whenever the accumulators are exact (integers, i8) or the order is the
        // reference's (v1).
        const bool exact = c.integer || i8 || version == 1;
        if (exact) {
            auto d = compare_bits(ref, got, cat("sparse24_gemm v", version, " ", dtype_name(c.dtype), " ", c.M, "x", c.N, "x", c.K));
            CHECK_MESSAGE(d.ok(), d.report);
        } else {
            // Per-output bound from the derivation at kSumOrderUlps.
            int64_t bad = 0;
            std::string first;
            double max_err = 0;
            for (size_t i = 0; i < ms.size(); ++i)
                for (size_t j = 0; j < ns.size(); ++j) {
                    double sum_abs = 0;
                    for (int64_t k = 0; k < c.K; ++k)
                        sum_abs += std::fabs(elem(x_sub, i * c.K + k) * elem(w_sub, j * c.K + k));
                    const double scale = std::fabs((xs_sub.defined() ? elem(xs_sub, xs_sub.numel() == 1 ? 0 : i) : 1.0) *
                                                   (ws_sub.defined() ? elem(ws_sub, ws_sub.numel() == 1 ? 0 : j) : 1.0));
                    const double r = elem(ref, i * ns.size() + j), g = elem(got, i * ns.size() + j);
                    const double delta = kSumOrderUlps * scale * c.K * std::ldexp(sum_abs, -23) + std::ldexp(std::fabs(r), -21);
                    const double tol = delta + out_ulp(out_dtype, std::fabs(r) + delta);
                    const double err = std::fabs(r - g);
                    max_err = std::max(max_err, err);
                    if (!(err <= tol) && ++bad <= 5)
                        first += cat("\n  at (", ms[i], ", ", ns[j], "): ref ", r, ", got ", g, ", tol ", tol);
                }
            CHECK_MESSAGE(bad == 0, "sparse24_gemm v", version, " ", dtype_name(c.dtype), " ", c.M, "x", c.N, "x", c.K,
                          ": ", bad, " outside the summation-order bound, max err ", max_err, first);
        }
    }
}

// Compression of a device weight against the CPU reference, bit for bit.
void check_compress(const Tensor& w_dev, const cuda::Sparse24KernelWeight& got, const std::string& what) {
    Tensor w_h = cuda::to_host(w_dev);
    const int64_t N = w_h.shape[0], K = w_h.shape[1];
    ref::Sparse24 s = ref::compress_24(w_h);
    Tensor want_values = ref::pad_values_for_kernel(s.values, N, K);
    Tensor want_meta = ref::reorder_meta_for_kernel(s.codes, w_h.dtype);
    auto dv = compare_bits(want_values, cuda::to_host(got.values), what + " values");
    auto dm = compare_bits(want_meta.reshape({want_meta.numel()}), cuda::to_host(got.meta).reshape({want_meta.numel()}),
                           what + " meta");
    CHECK_MESSAGE(dv.ok(), dv.report);
    CHECK_MESSAGE(dm.ok(), dm.report);
}

struct NK {
    int64_t N, K;
};
// Awkward compression sizes: one row, K = 4, K not a multiple of 8 or 16 (group-wise
// loads), N off the 16/128 padding, and one 16-byte aligned shape of real size. 8-bit
// rows with K % 16 == 0 take the two-words-per-thread kernel: {33, 144} and {17, 1040}
// end inside a 64-K metadata block (16 of its K valid) with N off the 16-row tile.
const NK kCompressSizes[] = {{1, 4},      {3, 12},     {17, 68},   {33, 132}, {100, 1000},
                             {257, 516},  {128, 4096}, {1000, 392}, {33, 144}, {17, 1040},
                             {33, 160},   {17, 1056}};

}  // namespace

TEST_SUITE("gpu") {

TEST_CASE("sparse24 gpu: compress matches reorder_meta_for_kernel(compress_24) bit for bit") {
    uint64_t seed = 100;
    for (DType t : kDtypes)
        for (NK s : kCompressSizes) {
            CAPTURE(dtype_name(t));
            CAPTURE(s.N);
            CAPTURE(s.K);
            Tensor w = cuda::device_empty(t, {s.N, s.K});
            cuda::fill_random_24(w, ++seed, data_scale(t, false), false);
            cuda::Sparse24KernelWeight k = cuda::sparse24_alloc(s.N, s.K, t);
            cuda::fill_bytes(k.values, 0xFF);  // poison: every byte must be written
            cuda::fill_bytes(k.meta, 0xFF);
            cuda::sparse24_compress_into(w, k);
            check_compress(w, k, cat("sparse24_compress ", dtype_name(t), " ", s.N, "x", s.K));
        }
}

TEST_CASE("sparse24 gpu: bitmask path (to kernel layout and to dense) matches the reference") {
    uint64_t seed = 200;
    for (DType t : kDtypes)
        for (NK s : kCompressSizes) {
            CAPTURE(dtype_name(t));
            CAPTURE(s.N);
            CAPTURE(s.K);
            Tensor w = cuda::device_empty(t, {s.N, s.K});
            cuda::fill_random_24(w, ++seed, data_scale(t, false), false);
            ref::Bitmask24 b = ref::bitmask_encode(cuda::to_host(w));
            // Make some groups non-canonical, as other writers do: a group with one
            // nonzero at position 0 may mark positions {0, 3} instead of {0, 1}.
            Tensor mask = b.bitmask.clone();
            for (int64_t i = 0; i < mask.numel(); i += 7) {
                uint8_t& byte = mask.data<uint8_t>()[i];
                if ((byte & 0xF) == 0x3) byte = static_cast<uint8_t>((byte & 0xF0) | 0x9);  // {0,1} -> {0,3}
            }
            Tensor c_d = cuda::to_device(b.compressed), m_d = cuda::to_device(mask);
            cuda::Sparse24KernelWeight k = cuda::sparse24_alloc(s.N, s.K, t);
            cuda::fill_bytes(k.values, 0xFF);
            cuda::fill_bytes(k.meta, 0xFF);
            cuda::sparse24_from_bitmask_into(c_d, m_d, s.K, k);
            ref::Sparse24 want = ref::bitmask_to_sparse24(b.compressed, mask, s.K);
            auto dv = compare_bits(ref::pad_values_for_kernel(want.values, s.N, s.K), cuda::to_host(k.values), "values");
            Tensor wm = ref::reorder_meta_for_kernel(want.codes, t);
            auto dm = compare_bits(wm.reshape({wm.numel()}), cuda::to_host(k.meta).reshape({wm.numel()}), "meta");
            CHECK_MESSAGE(dv.ok(), dv.report);
            CHECK_MESSAGE(dm.ok(), dm.report);
            Tensor dense = cuda::sparse24_bitmask_to_dense(c_d, m_d, s.K);
            auto dd = compare_bits(ref::bitmask_decode(b.compressed, mask, s.K), cuda::to_host(dense), "bitmask_to_dense");
            CHECK_MESSAGE(dd.ok(), dd.report);
        }
}

TEST_CASE("sparse24 gpu: compression errors name the first bad row and group") {
    // f16 [12, 40]: 2:4 except row 5 group 7 (3 nonzeros) and row 9 group 1 (4 nonzeros).
    Tensor w = Tensor::zeros(DType::F16, {12, 40});
    auto set = [&](int64_t r, int64_t c, uint16_t bits) { w.data<fp16_t>()[r * 40 + c].bits = bits; };
    for (int64_t r = 0; r < 12; ++r) set(r, 1, 0x3C00), set(r, 2, 0xBC00);
    set(5, 28, 0x3C00), set(5, 29, 0x4000), set(5, 31, 0x4200);
    for (int c = 4; c < 8; ++c) set(9, c, 0x3C00);
    // -0.0 is zero: row 2 group 3 holds two nonzeros and two -0.0.
    set(2, 12, 0x8000), set(2, 13, 0x3C00), set(2, 14, 0x8000), set(2, 15, 0x3C00);
    CHECK_THROWS_WITH_AS(cuda::sparse24_compress(cuda::to_device(w)),
                         doctest::Contains("row 5, group 7 (columns 28..31) has 3 nonzeros"), Error);
    set(5, 31, 0x8000);  // now row 9 is the first bad one
    CHECK_THROWS_WITH_AS(cuda::sparse24_compress(cuda::to_device(w)), doctest::Contains("row 9, group 1"), Error);
    set(9, 4, 0), set(9, 5, 0x8000);
    CHECK_NOTHROW(cuda::sparse24_compress(cuda::to_device(w)));

    // 8-bit, K % 16 == 0 (the two-words-per-thread kernel): i8 [20, 48] with row 17
    // group 9 at 3 nonzeros and row 18 group 2 at 4; fp8 -0.0 (0x80) is zero.
    for (DType t8 : {DType::I8, DType::F8E4M3}) {
        CAPTURE(dtype_name(t8));
        Tensor w8 = Tensor::zeros(t8, {20, 48});
        uint8_t* b8 = static_cast<uint8_t*>(w8.raw());
        for (int64_t r = 0; r < 20; ++r) b8[r * 48 + 4 * (r % 12)] = 0x11, b8[r * 48 + 4 * (r % 12) + 3] = 0x22;
        b8[17 * 48 + 36] = 0x01, b8[17 * 48 + 37] = 0x02, b8[17 * 48 + 38] = 0x03;
        for (int c = 8; c < 12; ++c) b8[18 * 48 + c] = 0x05;
        CHECK_THROWS_WITH_AS(cuda::sparse24_compress(cuda::to_device(w8)),
                             doctest::Contains("row 17, group 9 (columns 36..39) has 3 nonzeros"), Error);
        b8[17 * 48 + 38] = 0x80;  // -0.0 for fp8 (still a nonzero for i8)
        if (t8 == DType::F8E4M3) {
            CHECK_THROWS_WITH_AS(cuda::sparse24_compress(cuda::to_device(w8)), doctest::Contains("row 18, group 2"), Error);
        } else {
            CHECK_THROWS_WITH_AS(cuda::sparse24_compress(cuda::to_device(w8)), doctest::Contains("row 17, group 9"), Error);
        }
        b8[17 * 48 + 38] = 0, b8[18 * 48 + 8] = 0, b8[18 * 48 + 9] = 0;
        CHECK_NOTHROW(check_compress(cuda::to_device(w8), cuda::sparse24_compress(cuda::to_device(w8)), "8-bit errors fixed"));
    }

    // Bitmask: a nibble with 3 bits, then padding bits past K (K = 12: 12 % 8 == 4).
    ref::Bitmask24 b = ref::bitmask_encode(w.rows(0, 12).clone());
    Tensor mask = b.bitmask.clone();
    mask.data<uint8_t>()[3 * 5 + 1] |= 0x0F;  // row 3, group 2 (byte 1, low nibble): 4 bits
    CHECK_THROWS_WITH_AS(cuda::sparse24_from_bitmask(cuda::to_device(b.compressed), cuda::to_device(mask), 40),
                         doctest::Contains("row 3, group 2"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_bitmask_to_dense(cuda::to_device(b.compressed), cuda::to_device(mask), 40),
                         doctest::Contains("row 3, group 2"), Error);
    Tensor w12 = Tensor::zeros(DType::BF16, {4, 12});
    for (int64_t r = 0; r < 4; ++r) w12.data<bf16_t>()[r * 12 + 5].bits = 0x3F80;
    ref::Bitmask24 b12 = ref::bitmask_encode(w12);
    Tensor m12 = b12.bitmask.clone();
    m12.data<uint8_t>()[2 * 2 + 1] |= 0x30;  // row 2: bits past column 11
    CHECK_THROWS_WITH_AS(cuda::sparse24_from_bitmask(cuda::to_device(b12.compressed), cuda::to_device(m12), 12),
                         doctest::Contains("row 2 has padding bits"), Error);

    // 8-bit bitmask with K % 32 == 0 (the two-words-per-thread bitmask kernel): i8 and
    // fp8 [20, 96], row 18 group 2 with 3 bits and row 17 group 20 with 1 bit: the first
    // in row order is row 17; once it is fixed, row 18.
    for (DType t8 : {DType::I8, DType::F8E4M3}) {
        CAPTURE(dtype_name(t8));
        Tensor w8 = cuda::device_empty(t8, {20, 96});
        cuda::fill_random_24(w8, 77, data_scale(t8, false), false);
        ref::Bitmask24 b8 = ref::bitmask_encode(cuda::to_host(w8));
        Tensor m8 = b8.bitmask.clone();
        uint8_t* mb = m8.data<uint8_t>();
        const uint8_t row18 = mb[18 * 12 + 1], row17 = mb[17 * 12 + 10];
        mb[18 * 12 + 1] = static_cast<uint8_t>((row18 & 0xF0) | 0x7);  // row 18, group 2: 3 bits
        mb[17 * 12 + 10] = static_cast<uint8_t>((row17 & 0xF0) | 0x8);  // row 17, group 20: 1 bit
        const Tensor c8 = cuda::to_device(b8.compressed);
        CHECK_THROWS_WITH_AS(cuda::sparse24_from_bitmask(c8, cuda::to_device(m8), 96),
                             doctest::Contains("row 17, group 20 (columns 80..83) has nibble 0x8 with 1 bits set"), Error);
        mb[17 * 12 + 10] = row17;
        CHECK_THROWS_WITH_AS(cuda::sparse24_from_bitmask(c8, cuda::to_device(m8), 96),
                             doctest::Contains("row 18, group 2 (columns 8..11) has nibble 0x7 with 3 bits set"), Error);
        mb[18 * 12 + 1] = row18;
        CHECK_NOTHROW(cuda::sparse24_from_bitmask(c8, cuda::to_device(m8), 96));
    }

    // Bad shapes and dtypes.
    CHECK_THROWS_WITH_AS(cuda::sparse24_compress(cuda::device_empty(DType::F16, {4, 10})), doctest::Contains("multiple of 4"),
                         Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_compress(cuda::device_empty(DType::F32, {4, 8})), doctest::Contains("found f32"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_compress(w), doctest::Contains("device tensor"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_from_bitmask(cuda::to_device(b.compressed), cuda::to_device(b.bitmask), 48),
                         doctest::Contains("compressed (for K = 48)"), Error);
}

// vLLM's 19 (m, n, k) tuples (tests/kernels/quantization/test_cutlass_2of4_sparse.py),
// read both ways: (M, N, K) = (m, n, k) as the fp16/bf16 test does and (m, k, n) as the
// fp8/int8 tests do.
TEST_CASE("sparse24 gpu: GEMM v1 and v2 on vLLM's shapes, integer-valued data, bit for bit") {
    struct MNK {
        int64_t m, n, k;
    };
    const MNK kVllm[] = {{1, 256, 128},      {1, 16384, 1024}, {1, 24576, 512},  {16, 256, 512},    {16, 16384, 128},
                         {16, 24576, 4096},  {32, 8192, 4096}, {32, 16384, 4096}, {33, 1024, 1024}, {33, 8192, 128},
                         {64, 2048, 512},    {64, 16384, 1024}, {100, 8192, 512}, {128, 32768, 4096}, {256, 4096, 4096},
                         {512, 256, 1024},   {512, 8192, 4096}, {512, 16384, 128}, {512, 24576, 128}};
    uint64_t seed = 1000;
    int variant = 0;
    for (const MNK& s : kVllm)
        for (int way = 0; way < 2; ++way)
            for (DType t : kDtypes) {
                ++variant;
                GemmCase c{s.m, way == 0 ? s.n : s.k, way == 0 ? s.k : s.n, t, true, variant % 2 == 0, variant % 3, ++seed};
                // The Hopper rung too where it runs (more of its cases: tests/test_gpu_sparse24_v3.cpp).
                if (cuda::sparse24_v3_available()) check_gemm(c, {1, 2, 3});
                else check_gemm(c, {1, 2});
            }
}

TEST_CASE("sparse24 gpu: GEMM awkward M, N off the tile, K just past a pipeline stage") {
    // Pipeline stages: decode tiles 6 deep, medium/large 4 deep; a K tile is 64 (16-bit)
    // or 128 (8-bit) logical K. K = 392 / 264 (16-bit) and 784 / 528 (8-bit) are one
    // 16-byte chunk past 6 and 4 tiles.
    uint64_t seed = 3000;
    int variant = 0;
    for (DType t : kDtypes) {
        const bool eight = t == DType::I8 || t == DType::F8E4M3;
        for (int64_t M : {1, 2, 7, 17, 33, 100, 257})
            for (int64_t K : {eight ? 784 : 392, eight ? 528 : 264}) {
                ++variant;
                check_gemm({M, 200, K, t, variant % 2 == 0, variant % 3 != 0, variant % 3, ++seed}, {1, 2});
            }
        // The large tile (M > 128 with enough tiles) with a partial last tile in M and N.
        check_gemm({300, 16384 - 72, eight ? 528 : 264, t, true, true, 2, ++seed}, {2});
        check_gemm({300, 16384 - 72, eight ? 528 : 264, t, false, false, 1, ++seed}, {2});
    }
    // v1 reads x element by element, so it takes K % 8 != 0 (v2 refuses, tested below).
    check_gemm({5, 40, 68, DType::F16, false, true, 2, ++seed}, {1});
}

TEST_CASE("sparse24 gpu: GEMM real-valued data: v1 bit for bit, v2 within the summation-order bound") {
    uint64_t seed = 5000;
    for (DType t : kDtypes)
        for (int64_t M : {1, 16, 64, 300})
            check_gemm({M, M == 300 ? 16384 : 1024, 2048, t, false, M % 2 == 0, static_cast<int>(M % 3), ++seed}, {1, 2});
}

TEST_CASE("sparse24 gpu: compress -> decompress invariance (identity activation returns the weight)") {
    uint64_t seed = 7000;
    for (DType t : kDtypes)
        for (int version : {1, 2}) {
            CAPTURE(dtype_name(t));
            CAPTURE(version);
            const int64_t N = 72, K = 256;
            Tensor w = cuda::device_empty(t, {N, K});
            cuda::fill_random_24(w, ++seed, data_scale(t, false), false);
            Tensor eye = Tensor::zeros(t, {K, K});
            for (int64_t k = 0; k < K; ++k) ctk::test::set_elem(eye, k * K + k, 1.0f);
            const DType out_dtype = t == DType::BF16 ? DType::BF16 : DType::F16;  // holds every weight value exactly
            Tensor out = cuda::device_empty(out_dtype, {K, N});
            cuda::fill_bytes(out, 0xFF);
            cuda::sparse24_gemm_into(out, cuda::to_device(eye), cuda::sparse24_compress(w), Tensor(), Tensor(), Tensor(), version);
            // out[k, n] = W[n, k] in out_dtype; a pruned -0.0 comes back as +0.
            Tensor w_h = cuda::to_host(w), want = Tensor::empty(out_dtype, {K, N});
            for (int64_t n = 0; n < N; ++n)
                for (int64_t k = 0; k < K; ++k) {
                    const double v = elem(w_h, n * K + k);
                    ctk::test::set_elem(want, k * N + n, v == 0 ? 0.0f : static_cast<float>(v));
                }
            auto d = compare_bits(want, cuda::to_host(out), cat("identity GEMM v", version, " ", dtype_name(t)));
            CHECK_MESSAGE(d.ok(), d.report);
        }
}

TEST_CASE("sparse24 gpu: Inf and NaN in x at pruned slots are never read (every rung, as the reference)") {
    // W [16, 64] f16 with its nonzeros in slots 0 and 1 of every group, so slots 2 and 3 are
    // pruned; x holds +Inf, -Inf and NaN in pruned slots only. The reference multiplies the
    // kept slots alone, so every output is finite; a rung that multiplied the dense row
    // (v1 until 2026-12-07) gave Inf x 0 = NaN. Integer data: bit for bit.
    const int64_t M = 3, N = 16, K = 64;
    Tensor w = Tensor::zeros(DType::F16, {N, K});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t g = 0; g < K / 4; ++g) {
            ctk::test::set_elem(w, n * K + 4 * g, static_cast<float>((n + g) % 5 - 2 == 0 ? 3 : (n + g) % 5 - 2));
            ctk::test::set_elem(w, n * K + 4 * g + 1, static_cast<float>((n * g) % 3 + 1));
        }
    Tensor x = Tensor::empty(DType::F16, {M, K});
    for (int64_t i = 0; i < M * K; ++i) ctk::test::set_elem(x, i, static_cast<float>(static_cast<int>(i % 7) - 3));
    for (int64_t m = 0; m < M; ++m) {
        ctk::test::set_elem(x, m * K + 2, INFINITY);
        ctk::test::set_elem(x, m * K + 7, -INFINITY);
        ctk::test::set_elem(x, m * K + 4 * (5 + m) + 3, NAN);
    }
    const Tensor want = ref::scaled_sparse_gemm(x, ref::compress_24(w), Tensor(), Tensor(), Tensor(), DType::F16);
    for (int64_t i = 0; i < M * N; ++i) REQUIRE(std::isfinite(elem(want, i)));
    const cuda::Sparse24KernelWeight wk = cuda::sparse24_compress(cuda::to_device(w));
    for (int version : {1, 2, 0}) {  // 0: v3 on an sm_90a build and device, else v2
        Tensor out = cuda::device_empty(DType::F16, {M, N});
        cuda::fill_bytes(out, 0xFF);
        cuda::sparse24_gemm_into(out, cuda::to_device(x), wk, Tensor(), Tensor(), Tensor(), version);
        auto d = compare_bits(want, cuda::to_host(out), cat("non-finite x at pruned slots, version ", version));
        CHECK_MESSAGE(d.ok(), d.report);
    }
}

TEST_CASE("sparse24 gpu: GEMM bad input is reported") {
    Tensor w = cuda::device_empty(DType::F16, {16, 64});
    cuda::fill_random_24(w, 1, 1.0f, false);
    cuda::Sparse24KernelWeight wk = cuda::sparse24_compress(w);
    Tensor x = cuda::device_empty(DType::F16, {3, 64});
    cuda::fill_random(x, 2, 1.0f, false);
    CHECK_NOTHROW(cuda::sparse24_gemm(x, wk, Tensor(), Tensor(), Tensor(), DType::F16));
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(cuda::device_empty(DType::BF16, {3, 64}), wk, Tensor(), Tensor(), Tensor(), DType::F16),
                         doctest::Contains("x: expected dtype f16"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(cuda::device_empty(DType::F16, {3, 32}), wk, Tensor(), Tensor(), Tensor(), DType::F16),
                         doctest::Contains("expected K = 64"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x, wk, Tensor(), Tensor(), Tensor(), DType::F32), doctest::Contains("out_dtype"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x, wk, cuda::device_zeros(DType::F32, {2}), Tensor(), Tensor(), DType::F16),
                         doctest::Contains("x_scale: expected 1 or M = 3"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x, wk, Tensor(), cuda::device_zeros(DType::F32, {15}), Tensor(), DType::F16),
                         doctest::Contains("w_scale: expected 1 or N = 16"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x, wk, Tensor(), Tensor(), cuda::device_zeros(DType::BF16, {16}), DType::F16),
                         doctest::Contains("bias"), Error);
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x, wk, Tensor(), Tensor(), Tensor(), DType::F16, 4), doctest::Contains("version"),
                         Error);
    // v2 needs 16-byte activation rows: K = 68 f16 is refused by v2 and accepted by v1.
    Tensor w68 = cuda::device_empty(DType::F16, {16, 68});
    cuda::fill_random_24(w68, 3, 1.0f, false);
    cuda::Sparse24KernelWeight wk68 = cuda::sparse24_compress(w68);
    Tensor x68 = cuda::device_empty(DType::F16, {2, 68});
    cuda::fill_random(x68, 4, 1.0f, false);
    CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x68, wk68, Tensor(), Tensor(), Tensor(), DType::F16, 2),
                         doctest::Contains("K = 68"), Error);
    CHECK_NOTHROW(cuda::sparse24_gemm(x68, wk68, Tensor(), Tensor(), Tensor(), DType::F16, 1));
    // ... and version 0 takes v1 for it (a layer with such a K works on the GPU, slowly):
    // the same bits as v1.
    const Tensor v0 = cuda::to_host(cuda::sparse24_gemm(x68, wk68, Tensor(), Tensor(), Tensor(), DType::F16, 0));
    const Tensor v1 = cuda::to_host(cuda::sparse24_gemm(x68, wk68, Tensor(), Tensor(), Tensor(), DType::F16, 1));
    const auto d68 = compare_bits(v1, v0, "K = 68 f16, version 0 against v1");
    CHECK_MESSAGE(d68.ok(), d68.report);
    // i8 with K >= 2^17 could wrap the int32 accumulator (no saturation in mma.sp): every
    // rung refuses it, as the reference does.
    Tensor w_long = cuda::device_zeros(DType::I8, {16, int64_t{1} << 17});
    cuda::Sparse24KernelWeight wk_long = cuda::sparse24_compress(w_long);
    Tensor x_long = cuda::device_zeros(DType::I8, {1, int64_t{1} << 17});
    for (int version : {1, 2, 0})
        CHECK_THROWS_WITH_AS(cuda::sparse24_gemm(x_long, wk_long, cuda::device_zeros(DType::F32, {1}),
                                                 cuda::device_zeros(DType::F32, {1}), Tensor(), DType::F16, version),
                             doctest::Contains("too large for int32 accumulation"), Error);
}

// Small and fast, for `make sanitize` (memcheck + racecheck): every compression kernel,
// both rungs, decode and medium tiles, split-K with its last-block reduction.
TEST_CASE("sparse24 gpu sanitize: small compress, bitmask and GEMM cases") {
    for (DType t : {DType::F16, DType::I8}) {
        // i8 K = 528 (% 16 == 0): the two-words-per-thread compressor, one partial 64-K block.
        Tensor w8 = cuda::device_empty(t, {130, 528});
        cuda::fill_random_24(w8, 12, data_scale(t, true), true);
        check_compress(w8, cuda::sparse24_compress(w8), cat("sanitize compress ", dtype_name(t), " K = 528"));
        Tensor w = cuda::device_empty(t, {130, 520});
        cuda::fill_random_24(w, 11, data_scale(t, true), true);
        cuda::Sparse24KernelWeight k = cuda::sparse24_compress(w);
        check_compress(w, k, cat("sanitize compress ", dtype_name(t)));
        ref::Bitmask24 b = ref::bitmask_encode(cuda::to_host(w));
        Tensor c_d = cuda::to_device(b.compressed), m_d = cuda::to_device(b.bitmask);
        cuda::Sparse24KernelWeight kb = cuda::sparse24_from_bitmask(c_d, m_d, 520);
        (void)cuda::sparse24_bitmask_to_dense(c_d, m_d, 520);
        (void)kb;
    }
    check_gemm({3, 1000, 2048, DType::F16, true, true, 2, 21}, {1, 2});  // decode tile, split-K
    check_gemm({40, 130, 528, DType::I8, true, false, 1, 22}, {2});       // medium tile
}

}  // TEST_SUITE
#endif
