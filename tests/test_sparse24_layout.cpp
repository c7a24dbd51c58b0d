// Kernel layout of 2:4 metadata (formats/sparse24_layout.h, ref/sparse24_layout.h):
// hand-drawn register images from the PTX figures, the two formulations (lane view vs
// code slot) against each other, round trips, padding and errors.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "core/random.h"
#include "formats/sparse24.h"
#include "formats/sparse24_layout.h"
#include "ref/sparse24.h"
#include "ref/sparse24_layout.h"
#include "test_util.h"

using namespace ctk;

static const uint8_t kValidCodes[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};

static Tensor random_codes(int64_t N, int64_t G, uint64_t seed) {
    Rng rng(seed);
    Tensor c = Tensor::empty(DType::U8, {N, G});
    for (int64_t i = 0; i < N * G; ++i) c.data<uint8_t>()[i] = kValidCodes[rng.below(6)];
    return c;
}

static uint32_t word(const Tensor& meta, int64_t i) { return static_cast<uint32_t>(meta.data<int32_t>()[i]); }

TEST_CASE("sparse24 layout: sizes and padding rules") {
    CHECK(sparse24_padded_rows(1) == 128);
    CHECK(sparse24_padded_rows(128) == 128);
    CHECK(sparse24_padded_rows(129) == 256);
    CHECK(sparse24_padded_k(4) == 128);
    CHECK(sparse24_padded_k(4096) == 4096);
    CHECK(sparse24_padded_k(4100) == 4224);
    Tensor meta = ref::reorder_meta_for_kernel(random_codes(20, 3, 1), DType::F16);  // N = 20, K = 12
    CHECK(meta.shape == Shape{128 / 16, 128 / 64, 32});
}

// A 16 x 64 block of codes, all 0x4 except a few marked entries, and the words drawn
// by hand from the PTX figures (mma-sp-and-wgmma-sp.md 1.4): 0x4 everywhere is the
// word 0x44444444; a marked code replaces one nibble.
TEST_CASE("sparse24 layout: hand-drawn 16x64 block, 16-bit and 8-bit images") {
    Tensor codes = Tensor::empty(DType::U8, {16, 16});
    auto set_all = [&](uint8_t v) {
        for (int i = 0; i < 256; ++i) codes.data<uint8_t>()[i] = v;
    };

    SUBCASE("rows 0-7 code 0x4, rows 8-15 code 0xE") {
        set_all(0x4);
        for (int i = 8 * 16; i < 256; ++i) codes.data<uint8_t>()[i] = 0xE;
        Tensor m16 = ref::reorder_meta_for_kernel(codes, DType::BF16);
        Tensor m8 = ref::reorder_meta_for_kernel(codes, DType::I8);
        for (int lane = 0; lane < 32; ++lane) {
            CAPTURE(lane);
            CHECK(word(m16, lane) == 0xEEEE4444u);  // row g in bits 15..0, row g+8 in 31..16
            CHECK(word(m8, lane) == ((lane & 1) ? 0xEEEEEEEEu : 0x44444444u));  // odd lanes: row g+8
        }
    }
    SUBCASE("one marked code: row 2, group 13 (K 52..55) = 0xD") {
        set_all(0x4);
        codes.data<uint8_t>()[2 * 16 + 13] = 0xD;
        Tensor m16 = ref::reorder_meta_for_kernel(codes, DType::F16);
        Tensor m8 = ref::reorder_meta_for_kernel(codes, DType::F8E4M3);
        // 16-bit: g = 2, low half; K 48..63 is lane t = 3; group 13 is the 2nd of that
        // lane's 4 groups -> lane 11, bits 7..4.
        // 8-bit: row g = 2 (even t), K 32..63 (t >= 2) -> t = 2, lane 10; 6th group of
        // its 8 -> bits 23..20.
        for (int lane = 0; lane < 32; ++lane) {
            CAPTURE(lane);
            CHECK(word(m16, lane) == (lane == 11 ? 0x444444D4u : 0x44444444u));
            CHECK(word(m8, lane) == (lane == 10 ? 0x44D44444u : 0x44444444u));
        }
    }
    SUBCASE("one marked code: row 13, group 1 (K 4..7) = 0x8") {
        set_all(0x4);
        codes.data<uint8_t>()[13 * 16 + 1] = 0x8;
        Tensor m16 = ref::reorder_meta_for_kernel(codes, DType::F16);
        Tensor m8 = ref::reorder_meta_for_kernel(codes, DType::I8);
        // 16-bit: row 13 = g 5 high half, K 0..15 = t 0 -> lane 20, bits 16 + 7..4.
        // 8-bit: row g+8 -> t odd, K 0..31 -> t = 1, lane 21, bits 7..4.
        for (int lane = 0; lane < 32; ++lane) {
            CAPTURE(lane);
            CHECK(word(m16, lane) == (lane == 20 ? 0x44844444u : 0x44444444u));
            CHECK(word(m8, lane) == (lane == 21 ? 0x44444484u : 0x44444444u));
        }
    }
}

// The 2 x 8 example of docs/formats.md 2, carried into the kernel layout as
// docs/sparse24.md 1.4 draws it. Every number below is copied from those two docs, so a
// change to the layout, the padding or the doc's arithmetic fails here.
//   row 0: [0 1.5 0 -2 | 0.5 0 0 0]   codes 0xD, 0x4   kept 1.5, -2, 0.5, +0
//   row 1: [3 0 0 1 | 0 -1 2 0]       codes 0xC, 0x9   kept 3, 1, -1, 2
// The A-fragment registers are not produced by any CPU function (on the GPU ldmatrix
// loads them), so a_reg() below applies the doc's table (mma-sp-and-wgmma-sp.md 1.5) to
// the real padded values array; the check is that the table and the array give the
// register values the doc prints.
namespace {

// Register r (0..3) of lane (g, t) of the mma.sp A fragment, read from padded values
// [Np, Kp/2] for the 16 x 16 (16-bit) or 16 x 32 (8-bit) compressed tile at row 0,
// compressed column 0. Lower column in the lower bits, as in the dense fragment.
uint32_t a_reg(const Tensor& vp, int lane, int r) {
    const int g = lane >> 2, t = lane & 3;
    const int64_t row = g + 8 * (r & 1), cols = vp.size(1);
    uint32_t v = 0;
    if (dtype_size(vp.dtype) == 2) {  // m16n8k32: halves cc, cc + 1
        const int64_t cc = 2 * t + 8 * (r >> 1);
        const auto* b = static_cast<const uint16_t*>(vp.raw());
        v = b[row * cols + cc] | static_cast<uint32_t>(b[row * cols + cc + 1]) << 16;
    } else {  // m16n8k64: bytes cc .. cc + 3
        const int64_t cc = 4 * t + 16 * (r >> 1);
        const auto* b = static_cast<const uint8_t*>(vp.raw());
        for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(b[row * cols + cc + i]) << (8 * i);
    }
    return v;
}

// Indices of the nonzero bytes of a tensor, so "nothing else is nonzero" is one check.
std::vector<int64_t> nonzero_bytes(const Tensor& t) {
    std::vector<int64_t> nz;
    const auto* b = static_cast<const uint8_t*>(t.raw());
    for (int64_t i = 0; i < static_cast<int64_t>(t.nbytes()); ++i)
        if (b[i] != 0) nz.push_back(i);
    return nz;
}

}  // namespace

TEST_CASE("sparse24 layout: the 2x8 example of docs/formats.md, into the kernel layout (docs/sparse24.md 1.4)") {
    const std::vector<float> dense = {0, 1.5f, 0, -2, 0.5f, 0, 0, 0, 3, 0, 0, 1, 0, -1, 2, 0};
    Tensor w = Tensor::empty(DType::F16, {2, 8});
    for (int64_t i = 0; i < 16; ++i) test::set_elem(w, i, dense[static_cast<size_t>(i)]);

    // docs/formats.md: the checkpoint tensors and the logical format.
    ref::Bitmask24 b = ref::bitmask_encode(w);
    REQUIRE(b.bitmask.shape == Shape{2, 1});
    CHECK(b.bitmask.data<uint8_t>()[0] == 0x3A);
    CHECK(b.bitmask.data<uint8_t>()[1] == 0x69);
    const uint16_t want_vals[8] = {0x3E00, 0xC000, 0x3800, 0x0000, 0x4200, 0x3C00, 0xBC00, 0x4000};
    REQUIRE(b.compressed.shape == Shape{2, 4});
    for (int i = 0; i < 8; ++i) CHECK(b.compressed.data<fp16_t>()[i].bits == want_vals[i]);
    // The kernel layout is built from the checkpoint (no dense copy), as the layers do;
    // compress_24 of the dense weight must give the same two tensors.
    ref::Sparse24 s = ref::bitmask_to_sparse24(b.compressed, b.bitmask, 8);
    ref::Sparse24 s_dense = ref::compress_24(w);
    REQUIRE(s.codes.shape == Shape{2, 2});
    const uint8_t want_codes[4] = {0xD, 0x4, 0xC, 0x9};
    for (int i = 0; i < 4; ++i) {
        CHECK(s.codes.data<uint8_t>()[i] == want_codes[i]);
        CHECK(s_dense.codes.data<uint8_t>()[i] == want_codes[i]);
    }
    for (int i = 0; i < 8; ++i) CHECK(s_dense.values.data<fp16_t>()[i].bits == want_vals[i]);

    // docs/sparse24.md 1.4: values [128, 64] f16, row 0 at byte 0, row 1 at byte 128.
    const Tensor vp = ref::pad_values_for_kernel(s.values, 2, 8);
    REQUIRE(vp.shape == Shape{128, 64});
    const auto* vb = static_cast<const uint8_t*>(vp.raw());
    const uint8_t row0[8] = {0x00, 0x3E, 0x00, 0xC0, 0x00, 0x38, 0x00, 0x00};
    const uint8_t row1[8] = {0x00, 0x42, 0x00, 0x3C, 0x00, 0xBC, 0x00, 0x40};
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        CHECK(vb[i] == row0[i]);
        CHECK(vb[128 + i] == row1[i]);
    }
    // 1.5 has a zero low byte, so the nonzero bytes are exactly these seven.
    CHECK(nonzero_bytes(vp) == std::vector<int64_t>{1, 3, 5, 129, 131, 133, 135});

    // Metadata [8, 2, 32]: lane 0 = 0x4444444D (row 0), lane 4 = 0x4444449C (row 1), every
    // other word of every block is padding.
    const Tensor m16 = ref::reorder_meta_for_kernel(s.codes, DType::F16);
    REQUIRE(m16.shape == Shape{8, 2, 32});
    for (int64_t i = 0; i < m16.numel(); ++i) {
        CAPTURE(i);
        CHECK(word(m16, i) == (i == 0 ? 0x4444444Du : i == 4 ? 0x4444449Cu : 0x44444444u));
    }

    // The m16n8k32 A registers that hold the kept values.
    CHECK(a_reg(vp, 0, 0) == 0xC0003E00u);  // row 0, cc 0, 1: 1.5, -2
    CHECK(a_reg(vp, 1, 0) == 0x00003800u);  // row 0, cc 2, 3: 0.5, +0
    CHECK(a_reg(vp, 4, 0) == 0x3C004200u);  // row 1, cc 0, 1: 3, 1
    CHECK(a_reg(vp, 5, 0) == 0x4000BC00u);  // row 1, cc 2, 3: -1, 2
    for (int lane = 0; lane < 32; ++lane)
        for (int r = 0; r < 4; ++r)
            if (!(r == 0 && (lane == 0 || lane == 1 || lane == 4 || lane == 5))) CHECK(a_reg(vp, lane, r) == 0u);

    // The i8 twin of row 0 (values doubled: [0 3 0 -4 | 1 0 0 0]; row 1 left zero): the same
    // codes, 64-byte value rows, the 8-bit metadata image and the m16n8k64 fragment.
    Tensor w8 = Tensor::zeros(DType::I8, {2, 8});
    const int8_t row0_i8[8] = {0, 3, 0, -4, 1, 0, 0, 0};
    for (int i = 0; i < 8; ++i) w8.data<int8_t>()[i] = row0_i8[i];
    ref::Sparse24 s8 = ref::compress_24(w8);
    CHECK(s8.codes.data<uint8_t>()[0] == 0xD);
    CHECK(s8.codes.data<uint8_t>()[1] == 0x4);
    const Tensor vp8 = ref::pad_values_for_kernel(s8.values, 2, 8);
    REQUIRE(vp8.shape == Shape{128, 64});
    CHECK(nonzero_bytes(vp8) == std::vector<int64_t>{0, 1, 2});
    const auto* vb8 = static_cast<const uint8_t*>(vp8.raw());
    CHECK(vb8[0] == 0x03);
    CHECK(vb8[1] == 0xFC);
    CHECK(vb8[2] == 0x01);
    const Tensor m8 = ref::reorder_meta_for_kernel(s8.codes, DType::I8);
    REQUIRE(m8.shape == Shape{8, 2, 32});
    // Lane 0 = row 0, groups 0..7: the same number as the 16-bit word, because the upper
    // nibbles are padding in both images (16-bit: row 8; 8-bit: row 0's groups 4..7).
    // Row 1 is all zeros here: code 0x4, so lane 4 is padding-like too.
    for (int64_t i = 0; i < m8.numel(); ++i) {
        CAPTURE(i);
        CHECK(word(m8, i) == (i == 0 ? 0x4444444Du : 0x44444444u));
    }
    CHECK(a_reg(vp8, 0, 0) == 0x0001FC03u);  // row 0, cc 0..3: 3, -4, 1, 0
}

TEST_CASE("sparse24 layout: blocks are row-tile major, K-block minor, padding holds 0x4") {
    // N = 40 (3 row tiles of 16, padded to 8), K = 200 (50 groups -> 4 K blocks of 64 after padding to 256).
    Tensor codes = Tensor::empty(DType::U8, {40, 50});
    for (int64_t i = 0; i < 40 * 50; ++i) codes.data<uint8_t>()[i] = 0x4;
    codes.data<uint8_t>()[19 * 50 + 17] = 0xC;  // row 19 (tile 1, g 3), group 17 (K block 1, group 1)
    for (DType t : {DType::F16, DType::I8}) {
        Tensor meta = ref::reorder_meta_for_kernel(codes, t);
        REQUIRE(meta.shape == Shape{8, 4, 32});
        const int64_t block = 1 * 4 + 1;
        // 16-bit: lane 4*3 + 0, bits 7..4; 8-bit: lane 4*3 + 0 (row g, K 0..31), bits 7..4.
        for (int64_t i = 0; i < meta.numel(); ++i) {
            CAPTURE(i);
            CHECK(word(meta, i) == (i == block * 32 + 12 ? 0x444444C4u : 0x44444444u));
        }
    }
}

TEST_CASE("sparse24 layout: code-slot formula agrees with the lane view; round trip") {
    struct Case { int64_t N, K; };
    for (Case cs : {Case{1, 4}, Case{16, 64}, Case{17, 68}, Case{33, 132}, Case{128, 256}, Case{100, 1000},
                    Case{257, 516}}) {
        for (DType t : {DType::F16, DType::BF16, DType::I8, DType::F8E4M3}) {
            CAPTURE(cs.N);
            CAPTURE(cs.K);
            CAPTURE(dtype_name(t));
            const bool eight_bit = t == DType::I8 || t == DType::F8E4M3;
            const int64_t G = cs.K / 4, Np = sparse24_padded_rows(cs.N), Kp = sparse24_padded_k(cs.K);
            Tensor codes = random_codes(cs.N, G, 7 + cs.N * 1000 + cs.K);
            Tensor meta = ref::reorder_meta_for_kernel(codes, t);

            // The other formulation: place every code (padding = 0x4) at its slot.
            std::vector<uint32_t> slot_meta(static_cast<size_t>(meta.numel()), 0);
            for (int64_t row = 0; row < Np; ++row)
                for (int64_t g = 0; g < Kp / 4; ++g) {
                    uint32_t c = (row < cs.N && g < G) ? codes.data<uint8_t>()[row * G + g] : kSparse24PadCode;
                    Sparse24MetaSlot s = sparse24_meta_slot(row, g, Kp, eight_bit);
                    slot_meta[static_cast<size_t>(s.word)] |= c << s.shift;
                }
            int64_t mismatches = 0;
            for (int64_t i = 0; i < meta.numel(); ++i) mismatches += word(meta, i) != slot_meta[static_cast<size_t>(i)];
            CHECK(mismatches == 0);

            Tensor back = ref::codes_from_kernel_meta(meta, cs.N, cs.K, t);
            REQUIRE(back.shape == codes.shape);
            int64_t diff = 0;
            for (int64_t i = 0; i < codes.numel(); ++i) diff += back.data<uint8_t>()[i] != codes.data<uint8_t>()[i];
            CHECK(diff == 0);
        }
    }
}

TEST_CASE("sparse24 layout: values padding round trip") {
    Rng rng(3);
    Tensor v = Tensor::empty(DType::BF16, {17, 34});  // N = 17, K = 68
    for (int64_t i = 0; i < v.numel(); ++i) v.data<bf16_t>()[i].bits = static_cast<uint16_t>(rng.next_u32() | 1);
    Tensor p = ref::pad_values_for_kernel(v, 17, 68);
    REQUIRE(p.shape == Shape{128, 64});
    int64_t nonzero_pad = 0;
    for (int64_t n = 0; n < 128; ++n)
        for (int64_t k = 0; k < 64; ++k)
            if (n >= 17 || k >= 34) nonzero_pad += p.data<bf16_t>()[n * 64 + k].bits != 0;
    CHECK(nonzero_pad == 0);
    Tensor back = ref::unpad_values_from_kernel(p, 17, 68);
    int64_t diff = 0;
    for (int64_t i = 0; i < v.numel(); ++i) diff += back.data<bf16_t>()[i].bits != v.data<bf16_t>()[i].bits;
    CHECK(diff == 0);
}

TEST_CASE("sparse24 layout: the tiled (v3) layout puts every byte and word where the index functions say") {
    // Two formulations of one permutation: ref::tile_*_for_v3 copies stage blocks with
    // memcpy, sparse24_tiled_value_byte / sparse24_tiled_meta_word compute single offsets
    // (the GPU repack uses those). Both dtype widths, 2 weight tiles, Kp = 384.
    Rng rng(11);
    for (DType dt : {DType::BF16, DType::I8}) {
        const bool eight_bit = dt == DType::I8;
        const int64_t Np = 256, Kp = 384;
        Tensor v = Tensor::empty(dt, {Np, Kp / 2});
        auto* vb = static_cast<uint8_t*>(v.raw());
        for (int64_t i = 0; i < static_cast<int64_t>(v.nbytes()); ++i) vb[i] = static_cast<uint8_t>(rng.next_u32());
        const Tensor vt = ref::tile_values_for_v3(v);
        REQUIRE(vt.shape == v.shape);
        const int64_t row_bytes = (Kp / 2) * static_cast<int64_t>(dtype_size(dt));
        const auto* tb = static_cast<const uint8_t*>(vt.raw());
        std::vector<char> hit(v.nbytes(), 0);
        int64_t wrong = 0, twice = 0;
        for (int64_t r = 0; r < Np; ++r)
            for (int64_t b = 0; b < row_bytes; ++b) {
                const int64_t o = sparse24_tiled_value_byte(r, b, row_bytes);
                REQUIRE(o >= 0);
                REQUIRE(o < static_cast<int64_t>(v.nbytes()));
                wrong += tb[o] != vb[r * row_bytes + b];
                twice += hit[o]++ != 0;
            }
        CHECK(wrong == 0);
        CHECK(twice == 0);
        // Stage block (tile 1, K block 2) starts with row 128's bytes [128, 192).
        CHECK(sparse24_tiled_value_byte(128, 128, row_bytes) == (1 * (row_bytes / 64) + 2) * 8192);

        Tensor m = Tensor::empty(DType::I32, {Np / 16, Kp / 64, 32});
        for (int64_t i = 0; i < m.numel(); ++i) m.data<int32_t>()[i] = static_cast<int32_t>(rng.next_u32());
        const Tensor mt = ref::tile_meta_for_v3(m, dt);
        REQUIRE(mt.shape == m.shape);
        std::vector<char> mhit(m.numel(), 0);
        int64_t mwrong = 0, mtwice = 0;
        const int64_t words = (Kp / 64) * 32;
        for (int64_t blk = 0; blk < Np / 16; ++blk)
            for (int64_t w = 0; w < words; ++w) {
                const int64_t o = sparse24_tiled_meta_word(blk, w, Kp, eight_bit);
                REQUIRE(o >= 0);
                REQUIRE(o < m.numel());
                mwrong += mt.data<int32_t>()[o] != m.data<int32_t>()[blk * words + w];
                mtwice += mhit[o]++ != 0;
            }
        CHECK(mwrong == 0);
        CHECK(mtwice == 0);
    }
    CHECK_THROWS_WITH_AS(ref::tile_values_for_v3(Tensor::empty(DType::F16, {100, 64})),
                         doctest::Contains("Np % 128 == 0"), Error);
    CHECK_THROWS_WITH_AS(ref::tile_meta_for_v3(Tensor::empty(DType::I32, {8, 3, 32}), DType::F16),
                         doctest::Contains("tile_meta_for_v3: meta"), Error);
}

TEST_CASE("sparse24 layout: bad input is reported") {
    Tensor codes = random_codes(4, 4, 5);
    codes.data<uint8_t>()[2 * 4 + 3] = 0x5;  // same index twice
    CHECK_THROWS_WITH_AS(ref::reorder_meta_for_kernel(codes, DType::F16),
                         doctest::Contains("row 2, group 3"), Error);
    CHECK_THROWS_AS(ref::reorder_meta_for_kernel(random_codes(4, 4, 5), DType::F32), Error);
    Tensor meta = ref::reorder_meta_for_kernel(random_codes(4, 4, 5), DType::I8);
    CHECK_THROWS_AS(ref::codes_from_kernel_meta(meta, 4, 272, DType::I8), Error);  // wrong K for the shape
    meta.data<int32_t>()[0] = 0;  // code 0x0 at row 0, group 0
    CHECK_THROWS_WITH_AS(ref::codes_from_kernel_meta(meta, 4, 16, DType::I8), doctest::Contains("row 0, group 0"),
                         Error);
    // N and K are checked before the padded sizes are computed (no overflow).
    CHECK_THROWS_WITH_AS(ref::codes_from_kernel_meta(meta, INT64_MAX, 8, DType::BF16),
                         doctest::Contains("codes_from_kernel_meta: expected N >= 1 and K >= 4"), Error);
    CHECK_THROWS_WITH_AS(ref::codes_from_kernel_meta(meta, 4, INT64_MAX - 3, DType::BF16),
                         doctest::Contains("K = 9223372036854775804"), Error);
    Tensor dev_meta = meta;
    dev_meta.device = Device::CUDA;  // simulated device tensor: only its device field is read
    CHECK_THROWS_WITH_AS(ref::codes_from_kernel_meta(dev_meta, 4, 16, DType::I8),
                         doctest::Contains("codes_from_kernel_meta: meta: expected a host tensor"), Error);
    CHECK_THROWS_WITH_AS(ref::reorder_meta_for_kernel(Tensor(), DType::BF16),
                         doctest::Contains("reorder_meta_for_kernel: codes: expected a tensor, found an undefined one"),
                         Error);

    // Values padding: N, K, dtype, host, defined.
    const Tensor v = Tensor::zeros(DType::BF16, {2, 4});        // N = 2, K = 8
    const Tensor vp = Tensor::zeros(DType::BF16, {128, 64});    // padded of the same
    CHECK_NOTHROW(ref::pad_values_for_kernel(v, 2, 8));
    CHECK_NOTHROW(ref::unpad_values_from_kernel(vp, 2, 8));
    CHECK_THROWS_WITH_AS(ref::unpad_values_from_kernel(vp, INT64_MAX, 8),
                         doctest::Contains("unpad_values_from_kernel: expected N >= 1"), Error);
    CHECK_THROWS_WITH_AS(ref::unpad_values_from_kernel(vp, 2, INT64_MAX), doctest::Contains("K = 9223372036854775807"),
                         Error);
    CHECK_THROWS_WITH_AS(ref::unpad_values_from_kernel(vp, 2, 3), doctest::Contains("K % 4 == 0"), Error);
    CHECK_THROWS_WITH_AS(ref::unpad_values_from_kernel(vp, -5, -4), doctest::Contains("found N = -5, K = -4"), Error);
    CHECK_THROWS_WITH_AS(ref::pad_values_for_kernel(v, -2, 8), doctest::Contains("found N = -2, K = 8"), Error);
    CHECK_THROWS_WITH_AS(ref::pad_values_for_kernel(v, 2, INT64_MAX - 3), doctest::Contains("pad_values_for_kernel"),
                         Error);
    CHECK_THROWS_WITH_AS(ref::pad_values_for_kernel(v, 2, 12), doctest::Contains("expected [N, K/2] = [2, 6]"), Error);
    CHECK_THROWS_WITH_AS(ref::pad_values_for_kernel(Tensor::zeros(DType::I64, {2, 4}), 2, 8),
                         doctest::Contains("pad_values_for_kernel: values: expected a 2:4 operand dtype"), Error);
    CHECK_THROWS_WITH_AS(ref::unpad_values_from_kernel(Tensor::zeros(DType::F32, {128, 64}), 2, 8),
                         doctest::Contains("unpad_values_from_kernel: padded: expected a 2:4 operand dtype"), Error);
    CHECK_THROWS_WITH_AS(ref::pad_values_for_kernel(Tensor(), 2, 8),
                         doctest::Contains("pad_values_for_kernel: values: expected a tensor"), Error);
    CHECK_THROWS_WITH_AS(ref::unpad_values_from_kernel(Tensor(), 2, 8),
                         doctest::Contains("unpad_values_from_kernel: padded: expected a tensor"), Error);
    Tensor dev_v = v, dev_vp = vp;
    dev_v.device = dev_vp.device = Device::CUDA;
    CHECK_THROWS_WITH_AS(ref::pad_values_for_kernel(dev_v, 2, 8),
                         doctest::Contains("pad_values_for_kernel: values: expected a host tensor, found"), Error);
    CHECK_THROWS_WITH_AS(ref::unpad_values_from_kernel(dev_vp, 2, 8),
                         doctest::Contains("unpad_values_from_kernel: padded: expected a host tensor, found"), Error);

    // v3 tiling: host, defined.
    CHECK_THROWS_WITH_AS(ref::tile_values_for_v3(dev_vp),
                         doctest::Contains("tile_values_for_v3: values: expected a host tensor, found"), Error);
    CHECK_THROWS_WITH_AS(ref::tile_values_for_v3(Tensor()),
                         doctest::Contains("tile_values_for_v3: values: expected a tensor"), Error);
    Tensor dev_m = Tensor::zeros(DType::I32, {8, 2, 32});
    dev_m.device = Device::CUDA;
    CHECK_THROWS_WITH_AS(ref::tile_meta_for_v3(dev_m, DType::I8),
                         doctest::Contains("tile_meta_for_v3: meta: expected a host tensor, found"), Error);
    CHECK_THROWS_WITH_AS(ref::tile_meta_for_v3(Tensor(), DType::I8),
                         doctest::Contains("tile_meta_for_v3: meta: expected a tensor"), Error);
}
