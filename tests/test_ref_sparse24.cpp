// CPU reference for 2:4 sparsity: prune_24, check_24, the compressed-tensors
// sparse-24-bitmask format (encode, decode, row and column shards), and values + codes.
// Everything here is exact (elements are only moved), so every comparison is bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ref/sparse24.h"
#include "test_util.h"

using namespace ctk;
using ctk::test::compare_bits;
using ctk::test::elem;
using ctk::test::set_elem;

namespace {

const int64_t kNs[] = {1, 3, 16, 17};
const int64_t kKs[] = {4, 12, 32, 40, 136};
const DType kAllDtypes[] = {DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::I8};

// A [rows, cols] tensor of dtype t holding `vals` (row-major, rounded to t).
Tensor make(DType t, int64_t rows, int64_t cols, const std::vector<float>& vals) {
    REQUIRE(static_cast<int64_t>(vals.size()) == rows * cols);
    Tensor x = Tensor::empty(t, {rows, cols});
    for (int64_t i = 0; i < rows * cols; ++i) set_elem(x, i, vals[i]);
    return x;
}

// A random 2:4 weight of dtype t: normal values (x40 for i8, so codes spread), about a
// third zeroed first (groups with 0 or 1 nonzeros), pruned in f32, then rounded to t.
// Values that round to zero are stored as +0 (the format never keeps -0).
Tensor random_24(DType t, int64_t N, int64_t K, Rng& rng) {
    Tensor f = Tensor::empty(DType::F32, {N, K});
    float scale = t == DType::I8 ? 40.0f : 1.0f;
    for (int64_t i = 0; i < N * K; ++i) f.data<float>()[i] = rng.below(3) == 0 ? 0.0f : rng.normal() * scale;
    Tensor p = ref::prune_24(f);
    Tensor w = Tensor::empty(t, {N, K});
    for (int64_t i = 0; i < N * K; ++i) {
        set_elem(w, i, p.data<float>()[i]);
        if (elem(w, i) == 0) set_elem(w, i, 0.0f);
    }
    return w;
}

// fn(N, K, w) for a random 2:4 weight w [N, K] of every dtype and awkward shape (kAllDtypes
// x kNs x kKs), drawn in that order from one generator seeded with `seed`; the dtype and
// sizes are captured for the failure messages.
template <class Fn>
void for_each_random_24(uint64_t seed, Fn fn) {
    Rng rng(seed);
    for (DType t : kAllDtypes)
        for (int64_t N : kNs)
            for (int64_t K : kKs) {
                CAPTURE(dtype_name(t));
                CAPTURE(N);
                CAPTURE(K);
                fn(N, K, random_24(t, N, K, rng));
            }
}

// Columns [c0, c0 + width) of a 2-D tensor, as a new tensor.
Tensor col_slice(const Tensor& t, int64_t c0, int64_t width) {
    Tensor s = Tensor::empty(t.dtype, {t.shape[0], width});
    size_t es = dtype_size(t.dtype);
    for (int64_t r = 0; r < t.shape[0]; ++r)
        std::memcpy(static_cast<char*>(s.raw()) + r * width * es,
                    static_cast<const char*>(t.raw()) + (r * t.shape[1] + c0) * es, width * es);
    return s;
}

// True when element i of a 16-bit or f32 tensor has its sign bit set.
bool sign_bit(const Tensor& t, int64_t i) {
    if (t.dtype == DType::F32) return std::signbit(t.data<float>()[i]);
    uint16_t b = t.dtype == DType::F16 ? t.data<fp16_t>()[i].bits : t.data<bf16_t>()[i].bits;
    return (b & 0x8000u) != 0;
}

}  // namespace

TEST_CASE("prune_24: hand-worked groups (ties, negatives, -0.0)") {
    const float nz = -0.0f;
    // One row, 6 groups:
    //   [1, -3, 2, 0.5]   |-3| and |2| are the top 2           -> [0, -3, 2, 0]
    //   [0, -0, 0, 5]     5, then a tie of zeros: lowest index  -> [+0, 0, 0, 5] (all zeros +0)
    //   [2, 2, 2, 2]      four-way tie: positions 0 and 1       -> [2, 2, 0, 0]
    //   [-1, 1, -1, 1]    tie on |w|: positions 0 and 1         -> [-1, 1, 0, 0]
    //   [1, -4, 4, 1]     tie at 4 between positions 1 and 2    -> [0, -4, 4, 0]
    //   [-0, -0, -0, -0]  nothing kept but +0                   -> [0, 0, 0, 0]
    std::vector<float> in = {1, -3, 2, 0.5f, 0, nz, 0, 5, 2, 2, 2, 2, -1, 1, -1, 1, 1, -4, 4, 1, nz, nz, nz, nz};
    std::vector<float> want = {0, -3, 2, 0, 0, 0, 0, 5, 2, 2, 0, 0, -1, 1, 0, 0, 0, -4, 4, 0, 0, 0, 0, 0};
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
        CAPTURE(dtype_name(t));
        Tensor got = ref::prune_24(make(t, 1, 24, in));
        REQUIRE(got.dtype == t);
        for (int64_t i = 0; i < 24; ++i) {
            CAPTURE(i);
            CHECK(elem(got, i) == want[i]);
            CHECK_FALSE((sign_bit(got, i) && elem(got, i) == 0));  // no -0.0 survives
        }
    }
}

TEST_CASE("prune_24: random weights are 2:4 and keep the largest |w| (ties to the lower index)") {
    Rng rng(24);
    for (DType t : {DType::F32, DType::F16, DType::BF16})
        for (int64_t N : kNs)
            for (int64_t K : kKs) {
                CAPTURE(dtype_name(t));
                CAPTURE(N);
                CAPTURE(K);
                // Values from a small set (with -0.0) so ties and zeros are common.
                Tensor w = Tensor::empty(t, {N, K});
                const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.5f, -2.5f, 0.75f, 3.0f};
                for (int64_t i = 0; i < N * K; ++i) set_elem(w, i, pool[rng.below(8)]);
                Tensor p = ref::prune_24(w);
                CHECK_NOTHROW(ref::check_24(p, "pruned"));
                for (int64_t r = 0; r < N; ++r)
                    for (int64_t g = 0; g < K / 4; ++g) {
                        int64_t base = r * K + 4 * g;
                        bool kept[4];
                        int nkept = 0;
                        for (int q = 0; q < 4; ++q) {
                            double a = elem(w, base + q), b = elem(p, base + q);
                            kept[q] = b != 0;
                            nkept += kept[q];
                            if (kept[q]) CHECK(b == a);  // a kept value is unchanged
                            CHECK_FALSE((b == 0 && sign_bit(p, base + q)));
                        }
                        CHECK(nkept <= 2);
                        // Every kept |w| >= every dropped nonzero |w|; on a tie the kept one is
                        // earlier. A dropped nonzero means both slots went to nonzeros.
                        for (int q = 0; q < 4; ++q)
                            for (int d = 0; d < 4; ++d) {
                                double aq = std::fabs(elem(w, base + q)), ad = std::fabs(elem(w, base + d));
                                if (kept[q] && !kept[d] && ad != 0) {
                                    CHECK(aq >= ad);
                                    if (aq == ad) CHECK(q < d);
                                }
                                if (!kept[d] && ad != 0) CHECK(nkept == 2);
                            }
                    }
            }
}

TEST_CASE("prune_24: errors name the problem") {
    CHECK_THROWS_WITH_AS(ref::prune_24(Tensor::zeros(DType::I8, {2, 8})),
                         doctest::Contains("prune in high precision"), Error);
    CHECK_THROWS_WITH_AS(ref::prune_24(Tensor::zeros(DType::F8E4M3, {2, 8})),
                         doctest::Contains("found f8e4m3"), Error);
    CHECK_THROWS_WITH_AS(ref::prune_24(Tensor::zeros(DType::F32, {2, 6})), doctest::Contains("K = 6"), Error);
    CHECK_THROWS_WITH_AS(ref::prune_24(Tensor::zeros(DType::F32, {8})), doctest::Contains("2-D"), Error);
    Tensor w = Tensor::zeros(DType::F32, {2, 8});
    w.data<float>()[13] = std::nanf("");
    CHECK_THROWS_WITH_AS(ref::prune_24(w), doctest::Contains("NaN at row 1, column 5"), Error);
    w.data<float>()[13] = 0.0f;
    w.data<float>()[2] = -INFINITY;
    CHECK_THROWS_WITH_AS(ref::prune_24(w), doctest::Contains("Inf at row 0, column 2"), Error);
}

TEST_CASE("check_24: passes on pruned weights, names the first bad row and group") {
    Rng rng(7);
    for (DType t : kAllDtypes) {
        CAPTURE(dtype_name(t));
        CHECK_NOTHROW(ref::check_24(random_24(t, 17, 40, rng), "weight"));
        // Rows 0..3, K = 12. Row 2, group 1 (columns 4..7) gets 3 nonzeros; row 3,
        // group 0 gets 4, but row 2 comes first. Row 1 has 2 nonzeros plus a -0.0,
        // which is zero and must not count.
        std::vector<float> v(4 * 12, 0.0f);
        v[1 * 12 + 0] = 1;
        v[1 * 12 + 1] = -0.0f;
        v[1 * 12 + 3] = 2;
        v[2 * 12 + 4] = 1;
        v[2 * 12 + 5] = -2;
        v[2 * 12 + 7] = 3;
        for (int c = 0; c < 4; ++c) v[3 * 12 + c] = 1;
        Tensor w = make(t, 4, 12, v);
        CHECK_THROWS_WITH_AS(ref::check_24(w, "weight"),
                             "weight: row 2, group 1 (columns 4..7) has 3 nonzeros; 2:4 allows at most 2", Error);
        CHECK_NOTHROW(ref::check_24(w.rows(0, 2), "weight"));
        CHECK_THROWS_WITH_AS(ref::check_24(w.rows(3, 4), "q_proj"),
                             doctest::Contains("q_proj: row 0, group 0 (columns 0..3) has 4 nonzeros"), Error);
    }
    // -0.0 of each float dtype is zero: 0x8000 (f16/bf16) and 0x80 (fp8) in two slots.
    Tensor h = Tensor::zeros(DType::F16, {1, 4});
    h.data<fp16_t>()[0].bits = 0x8000;
    h.data<fp16_t>()[1].bits = 0x3C00;
    h.data<fp16_t>()[2].bits = 0x8000;
    h.data<fp16_t>()[3].bits = 0x3C00;
    CHECK_NOTHROW(ref::check_24(h, "weight"));
    Tensor e = Tensor::zeros(DType::F8E4M3, {1, 4});
    e.data<fp8e4m3_t>()[0].bits = 0x80;
    e.data<fp8e4m3_t>()[1].bits = 0x38;
    e.data<fp8e4m3_t>()[2].bits = 0x80;
    e.data<fp8e4m3_t>()[3].bits = 0xB8;
    CHECK_NOTHROW(ref::check_24(e, "weight"));
    CHECK_THROWS_WITH_AS(ref::check_24(Tensor::zeros(DType::U8, {1, 4}), "weight"),
                         doctest::Contains("weight: expected dtype"), Error);
    CHECK_THROWS_WITH_AS(ref::check_24(Tensor::zeros(DType::F16, {1, 10}), "weight"),
                         doctest::Contains("K = 10"), Error);
}

// A hand-worked f16 [2, 8] weight. It is not the example of docs/formats.md: row 0 has 3
// where the doc has 0.5 (same pattern, same byte 0x3A), and row 1 differs, to add a -0
// and an all-zero group. The doc's own example is asserted byte for byte, and carried into
// the kernel layout, in tests/test_sparse24_layout.cpp.
//   row 0: [0, 1.5, 0, -2 | 3, 0, 0, 0]
//     group 0: nonzeros at 1, 3         -> mask 0b1010 = 0xA, code 1 | 3 << 2 = 0xD
//     group 1: nonzero at 0 only; the canonical second slot is the lowest zero, 1
//                                       -> mask 0b0011 = 0x3, code 0 | 1 << 2 = 0x4
//     byte 0 = group 0 in the low nibble, group 1 in the high nibble = 0x3A
//     compressed: [1.5, -2, 3, +0]
//   row 1: [-0, 0, 0, 0 | 0, 0, 7, -1]
//     group 0: no nonzeros (-0 is zero) -> slots 0, 1: mask 0x3, code 0x4
//     group 1: nonzeros at 2, 3         -> mask 0b1100 = 0xC, code 2 | 3 << 2 = 0xE
//     byte 0 = 0xC3; compressed: [+0, +0, 7, -1]
TEST_CASE("bitmask_encode / compress_24: the hand-worked 2x8 example") {
    const float nz = -0.0f;
    Tensor w = make(DType::F16, 2, 8, {0, 1.5f, 0, -2, 3, 0, 0, 0, nz, 0, 0, 0, 0, 0, 7, -1});
    Tensor want_vals = make(DType::F16, 2, 4, {1.5f, -2, 3, 0, 0, 0, 7, -1});  // all zeros +0

    ref::Bitmask24 b = ref::bitmask_encode(w);
    REQUIRE(b.bitmask.shape == Shape{2, 1});
    CHECK(b.bitmask.data<uint8_t>()[0] == 0x3A);
    CHECK(b.bitmask.data<uint8_t>()[1] == 0xC3);
    auto d = compare_bits(want_vals, b.compressed, "bitmask_encode compressed");
    CHECK_MESSAGE(d.ok(), d.report);
    REQUIRE(b.shape.dtype == DType::I64);
    REQUIRE(b.shape.shape == Shape{2, 1});
    CHECK(b.shape.data<int64_t>()[0] == 2);
    CHECK(b.shape.data<int64_t>()[1] == 8);

    ref::Sparse24 s = ref::compress_24(w);
    REQUIRE(s.codes.shape == Shape{2, 2});
    const uint8_t* c = s.codes.data<uint8_t>();
    CHECK(c[0] == 0xD);
    CHECK(c[1] == 0x4);
    CHECK(c[2] == 0x4);
    CHECK(c[3] == 0xE);
    d = compare_bits(want_vals, s.values, "compress_24 values");
    CHECK_MESSAGE(d.ok(), d.report);

    // Decoding gives w back with the -0 turned into +0.
    Tensor want_dense = make(DType::F16, 2, 8, {0, 1.5f, 0, -2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, -1});
    d = compare_bits(want_dense, ref::bitmask_decode(b.compressed, b.bitmask, 8), "bitmask_decode");
    CHECK_MESSAGE(d.ok(), d.report);
    d = compare_bits(want_dense, ref::decompress_24(s), "decompress_24");
    CHECK_MESSAGE(d.ok(), d.report);
}

TEST_CASE("bitmask: encode -> decode round trip, every dtype and awkward shape") {
    for_each_random_24(2024, [](int64_t N, int64_t K, const Tensor& w) {
        ref::Bitmask24 b = ref::bitmask_encode(w);
        REQUIRE(b.compressed.shape == Shape{N, K / 2});
        REQUIRE(b.bitmask.shape == Shape{N, (K + 7) / 8});
        CHECK(b.shape.data<int64_t>()[0] == N);
        CHECK(b.shape.data<int64_t>()[1] == K);
        // Each nibble has exactly 2 bits, flagging every nonzero of its group.
        for (int64_t r = 0; r < N; ++r)
            for (int64_t g = 0; g < K / 4; ++g) {
                uint8_t nib = bitmask_group_nibble(b.bitmask.data<uint8_t>() + r * ((K + 7) / 8), g);
                CHECK(popcount4(nib) == 2);
                for (int p = 0; p < 4; ++p)
                    if (elem(w, r * K + 4 * g + p) != 0) CHECK(((nib >> p) & 1) == 1);
            }
        auto d = compare_bits(w, ref::bitmask_decode(b.compressed, b.bitmask, K), "decode(encode(w))");
        CHECK_MESSAGE(d.ok(), d.report);
    });
}

TEST_CASE("bitmask_decode: accepts non-canonical zero slots (other writers' top-k choice)") {
    // Row 0, K = 8: group 0 has one nonzero (5 at position 2), the writer kept slots
    // {2, 3} (canonical would be {0, 2}): nibble 0b1100 = 0xC. Group 1 has none and the
    // writer kept {1, 3}: nibble 0b1010 = 0xA. Byte = 0xAC. compressed = [5, 0, 0, 0].
    // Row 1: group 0 keeps {0, 3} holding [-1, 2] (0x9); group 1 keeps {1, 2} holding
    // [4, 0] (0x6). Byte = 0x69.
    Tensor comp = make(DType::BF16, 2, 4, {5, 0, 0, 0, -1, 2, 4, 0});
    Tensor mask = Tensor::empty(DType::U8, {2, 1});
    mask.data<uint8_t>()[0] = 0xAC;
    mask.data<uint8_t>()[1] = 0x69;
    Tensor want = make(DType::BF16, 2, 8, {0, 0, 5, 0, 0, 0, 0, 0, -1, 0, 0, 2, 0, 4, 0, 0});
    auto d = compare_bits(want, ref::bitmask_decode(comp, mask, 8), "bitmask_decode");
    CHECK_MESSAGE(d.ok(), d.report);
    // Straight to values + codes: the codes are the nibbles, the values untouched.
    ref::Sparse24 s = ref::bitmask_to_sparse24(comp, mask, 8);
    const uint8_t* c = s.codes.data<uint8_t>();
    CHECK(c[0] == code24_make(2, 3));
    CHECK(c[1] == code24_make(1, 3));
    CHECK(c[2] == code24_make(0, 3));
    CHECK(c[3] == code24_make(1, 2));
    d = compare_bits(comp, s.values, "bitmask_to_sparse24 values");
    CHECK_MESSAGE(d.ok(), d.report);
    d = compare_bits(want, ref::decompress_24(s), "decompress_24(bitmask_to_sparse24)");
    CHECK_MESSAGE(d.ok(), d.report);
}

TEST_CASE("bitmask_decode: errors for bad nibbles, padding bits and shapes") {
    Tensor comp = Tensor::zeros(DType::F16, {2, 6});  // N = 2, K = 12
    Tensor mask = Tensor::empty(DType::U8, {2, 2});
    auto reset = [&] {
        uint8_t good[4] = {0x33, 0x03, 0x33, 0x05};  // every nibble 2 bits, padding nibble 0
        std::memcpy(mask.data<uint8_t>(), good, 4);
    };
    reset();
    CHECK_NOTHROW(ref::bitmask_decode(comp, mask, 12));
    // Row 1, group 0 (low nibble of byte 0): 0x7 has 3 bits.
    mask.data<uint8_t>()[2] = 0x37;
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, mask, 12),
                         doctest::Contains("row 1, group 0 (columns 0..3) has nibble 0x7 with 3 bits set"), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_to_sparse24(comp, mask, 12), doctest::Contains("nibble 0x7"), Error);
    reset();
    // Row 0, group 2 (low nibble of byte 1): 0x1 has 1 bit.
    mask.data<uint8_t>()[1] = 0x01;
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, mask, 12),
                         doctest::Contains("row 0, group 2 (columns 8..11) has nibble 0x1 with 1 bits set"), Error);
    reset();
    // Row 1: padding bit (column 12, past K = 12) set.
    mask.data<uint8_t>()[3] = 0x15;
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, mask, 12), doctest::Contains("row 1 has padding bits set"), Error);
    reset();
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, mask, 16), doctest::Contains("compressed (for K = 16)"), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, mask, 10), doctest::Contains("K = 10"), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, Tensor::zeros(DType::U8, {2, 3}), 12),
                         doctest::Contains("bitmask (ceil(K/8) bytes per row of compressed): expected shape [2, 2], found [2, 3]"),
                         Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, Tensor::zeros(DType::U8, {3, 2}), 12),
                         doctest::Contains("expected shape [2, 2], found [3, 2]"), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, Tensor::zeros(DType::I8, {2, 2}), 12),
                         doctest::Contains("bitmask: expected dtype u8, found i8"), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(Tensor::zeros(DType::I32, {2, 6}), mask, 12),
                         doctest::Contains("compressed: expected dtype"), Error);
    // K far past compressed's columns: a shape error before the [N, K] output is allocated.
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, mask, int64_t(1) << 21),
                         doctest::Contains("compressed (for K = 2097152): expected shape [2, 1048576], found [2, 6]"),
                         Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, mask, INT64_MAX - 3), doctest::Contains("compressed (for K = "), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(Tensor(), mask, 12), doctest::Contains("compressed: expected a tensor"),
                         Error);
    Tensor dev_mask = mask;
    dev_mask.device = Device::CUDA;  // simulated device tensor: only its device field is read
    CHECK_THROWS_WITH_AS(ref::bitmask_decode(comp, dev_mask, 12), doctest::Contains("bitmask: expected a host tensor"),
                         Error);
}

TEST_CASE("bitmask: row-shard and column-shard decodes equal the full decode") {
    Rng rng(5);
    for (DType t : kAllDtypes) {
        CAPTURE(dtype_name(t));
        // Fused q/k/v with logical widths 8, 4, 5 (N = 17), K = 40.
        Tensor w = random_24(t, 17, 40, rng);
        ref::Bitmask24 b = ref::bitmask_encode(w);
        Tensor full = ref::bitmask_decode(b.compressed, b.bitmask, 40);
        auto d = compare_bits(full, ref::bitmask_decode_row_shards(b.compressed, b.bitmask, 40, {8, 4, 5}),
                              "row shards");
        CHECK_MESSAGE(d.ok(), d.report);
        CHECK_THROWS_WITH_AS(ref::bitmask_decode_row_shards(b.compressed, b.bitmask, 40, {8, 4, 4}),
                             doctest::Contains("logical_widths sum to 16 rows, but compressed has 17"), Error);
        CHECK_THROWS_WITH_AS(ref::bitmask_decode_row_shards(b.compressed, b.bitmask, 40, {INT64_MAX, INT64_MAX, 4}),
                             doctest::Contains("logical_widths [9223372036854775807, 9223372036854775807, 4] sum to "
                                               "more than the 17 rows of compressed"),
                             Error);
        CHECK_THROWS_WITH_AS(ref::bitmask_decode_row_shards(b.compressed, b.bitmask, 40, {8, 4, 6}),
                             doctest::Contains("sum to more than the 17 rows"), Error);
        CHECK_THROWS_WITH_AS(ref::bitmask_decode_row_shards(b.compressed, b.bitmask, int64_t(1) << 21, {8, 4, 5}),
                             doctest::Contains("compressed (for K = 2097152)"), Error);

        // Column shards of widths 16, 8, 16: slicing the full compressed at cols/2 and the
        // full bitmask at cols/8 gives each shard's own encoding (the point of the format).
        const int64_t widths[] = {16, 8, 16};
        std::vector<Tensor> comp_parts, mask_parts;
        int64_t c0 = 0;
        for (int64_t wd : widths) {
            ref::Bitmask24 part = ref::bitmask_encode(col_slice(w, c0, wd));
            auto dc = compare_bits(part.compressed, col_slice(b.compressed, c0 / 2, wd / 2), "compressed slice");
            CHECK_MESSAGE(dc.ok(), dc.report);
            auto dm = compare_bits(part.bitmask, col_slice(b.bitmask, c0 / 8, wd / 8), "bitmask slice");
            CHECK_MESSAGE(dm.ok(), dm.report);
            comp_parts.push_back(part.compressed);
            mask_parts.push_back(part.bitmask);
            c0 += wd;
        }
        d = compare_bits(full, ref::bitmask_decode_col_shards(comp_parts, mask_parts, {16, 8, 16}), "col shards");
        CHECK_MESSAGE(d.ok(), d.report);
    }
    // Column widths must be multiples of 8, and parts must agree with the widths.
    Tensor c = Tensor::zeros(DType::F16, {2, 2});
    Tensor m = Tensor::zeros(DType::U8, {2, 1});
    m.data<uint8_t>()[0] = m.data<uint8_t>()[1] = 0x03;
    CHECK_THROWS_WITH_AS(ref::bitmask_decode_col_shards({c}, {m}, {4}),
                         doctest::Contains("col_widths[0]: column shards must be a non-negative multiple of 8 wide, found 4"),
                         Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode_col_shards({c, c}, {m}, {8, 8}),
                         doctest::Contains("one compressed and one bitmask part per width"), Error);
    Tensor c8 = Tensor::zeros(DType::F16, {2, 4});
    Tensor m8 = Tensor::zeros(DType::U8, {2, 1});
    m8.data<uint8_t>()[0] = 0x33;
    m8.data<uint8_t>()[1] = 0x37;
    CHECK_THROWS_WITH_AS(ref::bitmask_decode_col_shards({c8, c8}, {m8, m8}, {8, 8}),
                         doctest::Contains("column shard 0 (columns 0..7): bitmask: row 1, group 0"), Error);
    // Widths are checked against the parts before the output is allocated, and their sum
    // may not overflow (zero-row parts have any width).
    CHECK_THROWS_WITH_AS(ref::bitmask_decode_col_shards({c8}, {m8}, {int64_t(1) << 21}),
                         doctest::Contains("column shard 0: compressed (for K = 2097152)"), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode_col_shards({c8, c8}, {m8, m8}, {INT64_MAX - 7, 16}),
                         doctest::Contains("column shard 0: compressed (for K = 9223372036854775800)"), Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_decode_col_shards({c8, c8}, {m8, Tensor::zeros(DType::U8, {3, 1})}, {8, 8}),
                         doctest::Contains("column shard 1: bitmask (ceil(K/8) bytes per row of compressed)"), Error);
    const Tensor c0 = Tensor::zeros(DType::F16, {0, (INT64_MAX - 7) / 2});  // no elements
    const Tensor m0 = Tensor::zeros(DType::U8, {0, (INT64_MAX - 7) / 8});
    const Tensor c16 = Tensor::zeros(DType::F16, {0, 8});
    const Tensor m16 = Tensor::zeros(DType::U8, {0, 2});
    CHECK_THROWS_WITH_AS(ref::bitmask_decode_col_shards({c0, c16}, {m0, m16}, {INT64_MAX - 7, 16}),
                         doctest::Contains("col_widths [9223372036854775800, 16] sum past INT64_MAX"), Error);
}

TEST_CASE("compress_24 / decompress_24: round trip, and bitmask_to_sparse24 equals compress_24") {
    for_each_random_24(77, [](int64_t N, int64_t K, const Tensor& w) {
        ref::Sparse24 s = ref::compress_24(w);
        REQUIRE(s.values.shape == Shape{N, K / 2});
        REQUIRE(s.codes.shape == Shape{N, K / 4});
        for (int64_t i = 0; i < N * K / 4; ++i) CHECK(code24_valid(s.codes.data<uint8_t>()[i]));
        auto d = compare_bits(w, ref::decompress_24(s), "decompress_24(compress_24(w))");
        CHECK_MESSAGE(d.ok(), d.report);

        ref::Bitmask24 b = ref::bitmask_encode(w);
        ref::Sparse24 s2 = ref::bitmask_to_sparse24(b.compressed, b.bitmask, K);
        d = compare_bits(s.values, s2.values, "bitmask_to_sparse24 values");
        CHECK_MESSAGE(d.ok(), d.report);
        d = compare_bits(s.codes, s2.codes, "bitmask_to_sparse24 codes");
        CHECK_MESSAGE(d.ok(), d.report);
    });
}

TEST_CASE("compress_24 / decompress_24: errors") {
    std::vector<float> v(2 * 8, 0.0f);
    v[8 + 4] = v[8 + 5] = v[8 + 6] = 1;  // row 1, group 1: 3 nonzeros
    CHECK_THROWS_WITH_AS(ref::compress_24(make(DType::F16, 2, 8, v)),
                         "compress_24: w: row 1, group 1 (columns 4..7) has 3 nonzeros; 2:4 allows at most 2", Error);
    CHECK_THROWS_WITH_AS(ref::bitmask_encode(make(DType::I8, 2, 8, v)),
                         doctest::Contains("bitmask_encode: w: row 1, group 1"), Error);
    ref::Sparse24 s = ref::compress_24(Tensor::zeros(DType::BF16, {2, 8}));
    s.codes.data<uint8_t>()[3] = 0x7;  // idx0 3 > idx1 1: not a valid code
    CHECK_THROWS_WITH_AS(ref::decompress_24(s), doctest::Contains("codes: row 1, group 1 has code 0x7"), Error);
    s = ref::compress_24(Tensor::zeros(DType::BF16, {2, 8}));
    s.values = Tensor::zeros(DType::BF16, {2, 6});
    CHECK_THROWS_WITH_AS(ref::decompress_24(s), doctest::Contains("values ([N, K/2] for codes [N, K/4]): expected shape [2, 4], found [2, 6]"),
                         Error);
}
