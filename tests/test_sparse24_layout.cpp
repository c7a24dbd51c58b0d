// Kernel layout of 2:4 metadata (formats/sparse24_layout.h, ref/sparse24_layout.h):
// hand-drawn register images from the PTX figures, the two formulations (lane view vs
// code slot) against each other, round trips, padding and errors.
#include <doctest/doctest.h>

#include <vector>

#include "core/random.h"
#include "formats/sparse24.h"
#include "formats/sparse24_layout.h"
#include "ref/sparse24_layout.h"

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
}
