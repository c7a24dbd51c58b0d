// The MXFP4 kernel layout and bit tricks, checked on the CPU (no GPU needed):
//  - formats/mxfp4_bits.h: every E2M1 code through the placed-bits conversion and every
//    scale code through the folded factor, against e2m1_to_float * 2^e;
//  - ref/mxfp4_repack.h: an emulation of the mma.m16n8k16 A-fragment semantics (the
//    register layout written in cuda/ptx.cuh) over the repacked words reproduces the
//    reference GEMM bit for bit, so the layout means what the kernels assume;
//  - the worked block of docs/mxfp4.md 4b: the exact words the doc shows.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "formats/formats.h"
#include "formats/mxfp4_bits.h"
#include "ref/mxfp4.h"
#include "ref/mxfp4_repack.h"
#include "test_mxfp4_util.h"

using namespace ctk;
using ctk::test::random_mxfp4_weight;
using namespace ctk::ref;

TEST_CASE("mxfp4 bits: placed E2M1 pairs are e2m1 * 2^-126 (bf16) / 2^-14 (f16), every code, every position") {
    Rng rng(4);
    for (int J = 0; J < 4; ++J) {
        for (uint32_t lo = 0; lo < 16; ++lo) {
            for (uint32_t hi = 0; hi < 16; ++hi) {
                // Random codes in the other six nibbles must not leak in.
                uint32_t word = rng.next_u32();
                word &= ~((0xFu << (4 * J)) | (0xFu << (4 * (J + 4))));
                word |= lo << (4 * J) | hi << (4 * (J + 4));
                CAPTURE(J); CAPTURE(lo); CAPTURE(hi); CAPTURE(word);
                const uint32_t b = e2m1x2_placed_bf16(word, J), h = e2m1x2_placed_f16(word, J);
                const float want_lo = e2m1_to_float(static_cast<uint8_t>(lo)), want_hi = e2m1_to_float(static_cast<uint8_t>(hi));
                CHECK(std::ldexp(static_cast<double>(bf16_to_float(b & 0xFFFF)), 126) == want_lo);
                CHECK(std::ldexp(static_cast<double>(bf16_to_float(b >> 16)), 126) == want_hi);
                CHECK(std::ldexp(static_cast<double>(fp16_to_float(h & 0xFFFF)), 14) == want_lo);
                CHECK(std::ldexp(static_cast<double>(fp16_to_float(h >> 16)), 14) == want_hi);
                // The sign bit survives (code 8 is -0).
                CHECK(((b >> 15) & 1) == (lo >> 3));
                CHECK(((h >> 31) & 1) == (hi >> 3));
            }
        }
    }
}

TEST_CASE("mxfp4 bits: the bf16 bit slicing is a bijection of the 32 bits, and unslicing inverts it") {
    // Each logical bit lands on its own stored bit: one set bit in, one set bit out, and
    // the 32 images are distinct.
    uint32_t images = 0;
    for (int i = 0; i < 32; ++i) {
        const uint32_t out = e2m1_word_slice_bf16(1u << i);
        CAPTURE(i); CAPTURE(out);
        REQUIRE(out != 0u);
        CHECK((out & (out - 1)) == 0u);
        CHECK((images & out) == 0u);
        images |= out;
        CHECK(e2m1_word_unslice_bf16(out) == (1u << i));
    }
    CHECK(images == 0xFFFFFFFFu);
    Rng rng(42);
    for (int i = 0; i < 10000; ++i) {
        const uint32_t w = rng.next_u32();
        if (e2m1_word_unslice_bf16(e2m1_word_slice_bf16(w)) != w || e2m1_word_slice_bf16(e2m1_word_unslice_bf16(w)) != w) {
            CAPTURE(w);
            FAIL_CHECK("slice/unslice do not invert each other");
        }
    }
}

TEST_CASE("mxfp4 bits: placing a pair of a bf16 sliced word gives the shift form's bits of the logical word") {
    // Every pair of codes at every position, under random codes in the other six nibbles
    // (which the masks must keep out, and which must not carry into the kept bits through
    // pair 3's multiply).
    Rng rng(41);
    for (int J = 0; J < 4; ++J) {
        for (uint32_t lo = 0; lo < 16; ++lo) {
            for (uint32_t hi = 0; hi < 16; ++hi) {
                for (int background = 0; background < 512; ++background) {
                    uint32_t word = background == 0 ? 0u : background == 1 ? 0xFFFFFFFFu : rng.next_u32();
                    word &= ~((0xFu << (4 * J)) | (0xFu << (4 * (J + 4))));
                    word |= lo << (4 * J) | hi << (4 * (J + 4));
                    if (e2m1x2_placed_bf16_sliced(e2m1_word_slice_bf16(word), J) != e2m1x2_placed_bf16(word, J)) {
                        CAPTURE(J); CAPTURE(lo); CAPTURE(hi); CAPTURE(word);
                        FAIL_CHECK("sliced placement differs from the shift form");
                    }
                }
            }
        }
    }
}

TEST_CASE("mxfp4 bits: folded factor times a placed pair is e2m1 * 2^e exactly, over the fold windows") {
    for (int bf16 = 0; bf16 < 2; ++bf16) {
        const int e_lo = bf16 ? -100 : -23, e_hi = 1;
        for (int shift : {0, -27, 14, 120, -100}) {
            for (int code = 0; code < 255; ++code) {
                const int e = code - 127 - shift;
                if (e < e_lo || e > e_hi) continue;
                CAPTURE(bf16); CAPTURE(shift); CAPTURE(code);
                const uint16_t f = bf16 ? e8m0_folded_factor_bf16(code, shift) : e8m0_folded_factor_f16(code, shift);
                const double factor = bf16 ? bf16_to_float(f) : fp16_to_float(f);
                CHECK(factor == std::ldexp(1.0, (bf16 ? 126 : 14) + e));
                for (uint32_t c = 0; c < 16; ++c) {
                    const uint32_t placed = bf16 ? e2m1x2_placed_bf16(c, 0) : e2m1x2_placed_f16(c, 0);
                    const double p = bf16 ? bf16_to_float(placed & 0xFFFF) : fp16_to_float(placed & 0xFFFF);
                    const double prod = p * factor;  // exact in double
                    const double want = std::ldexp(static_cast<double>(e2m1_to_float(static_cast<uint8_t>(c))), e);
                    CHECK(prod == want);
                    // ... and representable in the 16-bit type, so the GPU multiply is exact.
                    const float pf = static_cast<float>(prod);
                    const double back = bf16 ? bf16_to_float(bf16_from_float(pf)) : fp16_to_float(fp16_from_float(pf));
                    CHECK(back == want);
                }
            }
        }
        // The NaN scale gives a NaN factor.
        const uint16_t nan_f = bf16 ? e8m0_folded_factor_bf16(255, 0) : e8m0_folded_factor_f16(255, 0);
        CHECK(std::isnan(bf16 ? bf16_to_float(nan_f) : fp16_to_float(nan_f)));
    }
}

TEST_CASE("mxfp4 bits: the two-halves folded factor (v5) equals the one-half factor, every code of the windows") {
    for (int bf16 = 0; bf16 < 2; ++bf16) {
        const int e_lo = bf16 ? -100 : -23, e_hi = 1;
        for (int shift = -130; shift <= 130; ++shift) {
            const uint32_t add = e8m0_folded_factor_x2_add(shift, bf16);
            for (int code = 0; code < 255; ++code) {
                const int e = code - 127 - shift;
                if (e < e_lo || e > e_hi) continue;
                const uint16_t f = bf16 ? e8m0_folded_factor_bf16(code, shift) : e8m0_folded_factor_f16(code, shift);
                // The code in byte B, other bytes random-ish (they must not leak in).
                const uint32_t other = 0xA5u + 0x3Cu * static_cast<uint32_t>(code);
                const uint32_t want = f | (static_cast<uint32_t>(f) << 16);
                const uint32_t w0 = (other * 0x01010101u & 0xFFFFFF00u) | code;
                const uint32_t w1 = (other * 0x01010101u & 0xFFFF00FFu) | code << 8;
                const uint32_t w2 = (other * 0x01010101u & 0xFF00FFFFu) | code << 16;
                const uint32_t w3 = (other * 0x01010101u & 0x00FFFFFFu) | static_cast<uint32_t>(code) << 24;
                if (e8m0_folded_factor_x2<0>(w0, add, bf16) != want || e8m0_folded_factor_x2<1>(w1, add, bf16) != want ||
                    e8m0_folded_factor_x2<2>(w2, add, bf16) != want || e8m0_folded_factor_x2<3>(w3, add, bf16) != want) {
                    FAIL_CHECK("bf16 ", bf16, " shift ", shift, " code ", code);
                }
            }
        }
    }
}

TEST_CASE("mxfp4_repack: shapes and padding (N to 16, K to 64 with zero codes and the smallest scale code)") {
    Rng rng(9);
    Mxfp4Weight w = random_mxfp4_weight(rng, 17, 96, 120, 127);
    w.scales.data<uint8_t>()[5] = 255;  // a NaN block does not count for the padding code
    const uint8_t* s = w.scales.data<uint8_t>();
    uint32_t lo = 255;
    for (int64_t i = 0; i < 17 * 3; ++i)
        if (s[i] != 255) lo = std::min<uint32_t>(lo, s[i]);
    CHECK(mxfp4_pad_scale_code(120, 127) == 120);
    CHECK(mxfp4_pad_scale_code(255, -1) == 127);  // no finite code: 1.0
    Mxfp4Repacked r = mxfp4_repack(w, DType::BF16);
    CHECK(r.n_tiles == 2);
    CHECK(r.k_chunks == 2);
    CHECK(r.words.shape == Shape{2, 2, 32, 4});  // [n_tiles, k_chunks, 32, 4]
    CHECK(r.scale_words.shape == Shape{2, 2, 8});
    const uint32_t* sw = reinterpret_cast<const uint32_t*>(r.scale_words.data<int32_t>());
    // Chunk 1 covers columns 64..127: block 2 is real, block 3 (columns 96..127) is padding.
    // Tile 1 has row 16 real and rows 17..31 padding.
    CHECK(sw[(1 * 2 + 1) * 8 + 0] == (uint32_t(s[16 * 3 + 2]) | lo << 8 | lo << 16 | lo << 24));
    CHECK(sw[(1 * 2 + 1) * 8 + 1] == (lo | lo << 8 | lo << 16 | lo << 24));
    // Words of chunk 1, steps 2 and 3 (columns 96..127) are all zero codes.
    const uint32_t* words = reinterpret_cast<const uint32_t*>(r.words.data<int32_t>());
    for (int t = 0; t < 2; ++t)
        for (int lane = 0; lane < 32; ++lane)
            for (int step = 2; step < 4; ++step) CHECK(words[((t * 2 + 1) * 32 + lane) * 4 + step] == 0u);
}

TEST_CASE("mxfp4_repack: a block of only +-0 weights is stored as padding and left out of the code range") {
    // Row 2, block 0: codes +0 / -0 only, scale code 0 (what a quantizer gives an all-zero
    // block); row 4, block 1: zeros with code 255 (stays a NaN block); row 6, block 2: one
    // nonzero code (stays as it is). Codes elsewhere 120..127, set to 120 at row 0, block 0.
    Rng rng(10);
    Mxfp4Weight w = random_mxfp4_weight(rng, 17, 96, 121, 127);
    uint8_t* s = w.scales.data<uint8_t>();
    uint8_t* packed = w.packed.data<uint8_t>();
    s[0] = 120;
    for (int j = 0; j < 16; ++j) {
        packed[2 * 48 + 0 * 16 + j] = static_cast<uint8_t>(j % 3 ? 0x88 : 0x08);
        packed[4 * 48 + 1 * 16 + j] = 0x00;
        packed[6 * 48 + 2 * 16 + j] = j == 9 ? 0x90 : 0x00;
    }
    s[2 * 3 + 0] = 0, s[4 * 3 + 1] = 255, s[6 * 3 + 2] = 126;
    CHECK(mxfp4_block_is_zero(packed + 2 * 48));
    CHECK(mxfp4_block_is_zero(packed + 4 * 48 + 16));
    CHECK(!mxfp4_block_is_zero(packed + 6 * 48 + 32));
    Mxfp4Repacked r = mxfp4_repack(w, DType::F16);
    const uint32_t* sw = reinterpret_cast<const uint32_t*>(r.scale_words.data<int32_t>());
    // Tile 0, chunk 0, word g = 2: (row 2, block 0) | (row 10, block 0) << 8 | (row 2, block 1) << 16 | ...
    CHECK((sw[0 * 8 + 2] & 0xFF) == 120u);                  // the zero block: the padding code (the smallest)
    CHECK(((sw[0 * 8 + 4] >> 16) & 0xFF) == 255u);          // row 4, block 1: NaN kept
    CHECK(((sw[(0 * 2 + 1) * 8 + 6]) & 0xFF) == 126u);      // row 6, block 2 (chunk 1): its own code
    // The padding code is 120, not the zero block's 0: the zero block is out of the range.
    CHECK(((sw[(1 * 2 + 1) * 8 + 1]) & 0xFF) == 120u);      // tile 1, chunk 1, row 17: padding
}

TEST_CASE("mxfp4_repack: padded weights stay exact zeros once the scale is folded (every fold shift tried)") {
    // The folding kernels (v3..v7) multiply each placed weight pair by the 16-bit factor
    // of its scale code in the layout, padding included (v3, v4 and v6 do not skip the
    // padded second block of a last chunk when K % 64 == 32). For layers whose fold shift
    // puts code 127 outside the window, a padding code of 127 made that factor Inf and
    // 0 x Inf = NaN in every output of the row. Here: for each shift of a window that
    // holds all of the layer's codes, every byte of the scale words (real and padding)
    // gives a finite factor, and a zero weight times it is zero. The three layers are ones
    // where the old padding code 127 gave Inf.
    struct L { bool bf16; int lo, hi, shift; };
    for (L l : {L{true, 25, 40, -2}, L{false, 102, 120, -2}, L{false, 135, 158, 30}}) {
        CAPTURE(l.bf16); CAPTURE(l.lo); CAPTURE(l.hi);
        const int e_lo = l.bf16 ? -100 : -23, e_hi = 1;
        // The shifts that keep every code of the layer in the window; l.shift is the one the
        // fold plan picks (closest to 0), where code 127 folds to Inf.
        const int shift_lo = l.hi - 127 - e_hi, shift_hi = l.lo - 127 - e_lo;
        REQUIRE(shift_lo <= l.shift);
        REQUIRE(l.shift <= shift_hi);
        Rng rng(40 + l.lo);
        Mxfp4Weight w = random_mxfp4_weight(rng, 20, 96, l.lo, l.hi);  // N 20 and K 96: both padded
        Mxfp4Repacked r = mxfp4_repack(w, l.bf16 ? DType::BF16 : DType::F16);
        const uint32_t* sw = reinterpret_cast<const uint32_t*>(r.scale_words.data<int32_t>());
        for (int shift = shift_lo; shift <= shift_hi; ++shift) {
            CAPTURE(shift);
            auto factor = [&](uint32_t code) {
                const uint16_t f = l.bf16 ? e8m0_folded_factor_bf16(code, shift) : e8m0_folded_factor_f16(code, shift);
                return l.bf16 ? bf16_to_float(f) : fp16_to_float(f);
            };
            if (shift == l.shift) CHECK(std::isinf(factor(127)));  // the hazard with padding code 127
            const float placed_zero = l.bf16 ? bf16_to_float(e2m1x2_placed_bf16(0, 0) & 0xFFFF)
                                             : fp16_to_float(e2m1x2_placed_f16(0, 0) & 0xFFFF);
            int bad = 0;
            for (int64_t i = 0; i < r.scale_words.numel(); ++i)
                for (int b = 0; b < 4; ++b) {
                    const uint32_t code = (sw[i] >> (8 * b)) & 0xFF;
                    if (!std::isfinite(factor(code)) || placed_zero * factor(code) != 0.0f) ++bad;
                }
            CHECK(bad == 0);
        }
    }
}

TEST_CASE("mxfp4_repack: emulating the m16n8k16 A-fragment semantics on the words reproduces the GEMM exactly") {
    // Integer activations and scale codes 124..128 keep every sum exact in fp32, so any
    // correct layout gives the reference result bit for bit, and any misplaced code, bit or
    // scale byte changes it. The words are read as the kernels read them: register a_j is
    // the placed pair j (bf16: the sliced word's placement; f16: the shift form), each half
    // e2m1 * 2^-126 (bf16) or 2^-14 (f16).
    for (DType dt : {DType::BF16, DType::F16}) {
        CAPTURE(dtype_name(dt));
        const bool bf16 = dt == DType::BF16;
        Rng rng(21);
        const int64_t M = 5, N = 37, K = 160;
        Mxfp4Weight w = random_mxfp4_weight(rng, N, K, 124, 128);
        Tensor x = Tensor::empty(DType::BF16, {M, K});
        for (int64_t i = 0; i < M * K; ++i)
            x.data<bf16_t>()[i].bits = bf16_from_float(static_cast<float>(static_cast<int>(rng.below(9)) - 4));
        Tensor want = mxfp4_gemm(x, w, Tensor());

        Mxfp4Repacked r = mxfp4_repack(w, dt);
        const uint32_t* words = reinterpret_cast<const uint32_t*>(r.words.data<int32_t>());
        const uint32_t* swords = reinterpret_cast<const uint32_t*>(r.scale_words.data<int32_t>());
        std::vector<double> acc(M * r.n_tiles * 16, 0.0);  // [M][N padded]
        for (int64_t c = 0; c < r.k_chunks; ++c) {
            for (int64_t t = 0; t < r.n_tiles; ++t) {
                for (int lane = 0; lane < 32; ++lane) {
                    const int g = lane / 4, q = lane % 4;
                    for (int step = 0; step < 4; ++step) {
                        const uint32_t word = words[((t * r.k_chunks + c) * 32 + lane) * 4 + step];
                        const uint32_t sw = swords[(t * r.k_chunks + c) * 8 + g];
                        for (int j = 0; j < 4; ++j) {  // register a_j (cuda/ptx.cuh)
                            const uint32_t placed = bf16 ? e2m1x2_placed_bf16_sliced(word, j) : e2m1x2_placed_f16(word, j);
                            for (int half = 0; half < 2; ++half) {  // low / high 16 bits
                                const int row = g + 8 * (j & 1), col = 2 * q + half + 8 * (j >> 1);
                                const uint16_t bits = static_cast<uint16_t>(placed >> (16 * half));
                                const double e2m1 = bf16 ? std::ldexp(static_cast<double>(bf16_to_float(bits)), 126)
                                                         : std::ldexp(static_cast<double>(fp16_to_float(bits)), 14);
                                const uint8_t scale = (sw >> (8 * ((j & 1) + 2 * (step / 2)))) & 0xFF;
                                const double wv = e2m1 * std::ldexp(1.0, scale - 127);
                                const int64_t n = t * 16 + row, k = c * 64 + step * 16 + col;
                                for (int64_t m = 0; m < M; ++m) {
                                    const double xv = k < K ? bf16_to_float(x.data<bf16_t>()[m * K + k].bits) : 0.0;
                                    acc[m * r.n_tiles * 16 + n] += wv * xv;
                                }
                            }
                        }
                    }
                }
            }
        }
        int bad = 0;
        for (int64_t m = 0; m < M; ++m) {
            for (int64_t n = 0; n < N; ++n) {
                const uint16_t got = bf16_from_float(static_cast<float>(acc[m * r.n_tiles * 16 + n]));
                if (got != want.data<bf16_t>()[m * N + n].bits && ++bad <= 5)
                    FAIL_CHECK("emulated fragments: out[", m, ", ", n, "] = ", bf16_to_float(got), ", reference ",
                               bf16_to_float(want.data<bf16_t>()[m * N + n].bits));
            }
        }
        CHECK(bad == 0);
    }
}

TEST_CASE("mxfp4_repack: the worked block of docs/mxfp4.md 4b, word by word (bf16 sliced and f16 nibble layouts)") {
    // The row of docs/mxfp4.md section 1 as a layer of N = 1, K = 32: even rule, codes
    // 0x6, 0x9, 0x1, 0x0 and scale code 128. The doc lists the words this layer repacks
    // to; this test holds them, so a change of layout or of the doc's example shows here.
    Tensor wf = Tensor::zeros(DType::F32, {1, 32});
    const float row[4] = {7.5f, -0.75f, 1.25f, 0.3f};
    for (int i = 0; i < 4; ++i) wf.data<float>()[i] = row[i];
    const Mxfp4Weight q = mxfp4_quantize(wf, MxScaleRule::Even);
    REQUIRE(q.packed.data<uint8_t>()[0] == 0x96);
    REQUIRE(q.packed.data<uint8_t>()[1] == 0x01);
    REQUIRE(q.scales.data<uint8_t>()[0] == 128);

    for (DType dt : {DType::F16, DType::BF16}) {
        CAPTURE(dtype_name(dt));
        const bool bf16 = dt == DType::BF16;
        const Mxfp4Repacked r = mxfp4_repack(q, dt);
        REQUIRE(r.n_tiles == 1);
        REQUIRE(r.k_chunks == 1);
        const uint32_t* words = reinterpret_cast<const uint32_t*>(r.words.data<int32_t>());
        const uint32_t* swords = reinterpret_cast<const uint32_t*>(r.scale_words.data<int32_t>());
        // words[lane][step]: only lane 0 and lane 1 at step 0 hold a nonzero code.
        for (int lane = 0; lane < 32; ++lane)
            for (int step = 0; step < 4; ++step) {
                CAPTURE(lane); CAPTURE(step);
                uint32_t want = 0;
                if (lane == 0 && step == 0) want = bf16 ? 0x80400180u : 0x00090006u;
                if (lane == 1 && step == 0) want = bf16 ? 0x00000040u : 0x00000001u;
                CHECK(words[lane * 4 + step] == want);
            }
        // Byte 0 of word g = 0 is the real block's code; every other byte is padding, which
        // takes the layer's smallest finite code, 128 as well.
        for (int g = 0; g < 8; ++g) {
            CAPTURE(g);
            CHECK(swords[g] == 0x80808080u);
        }
    }

    // The doc's last step: pair 0 of lane 0's sliced word is the word itself, the bf16
    // pair (4, -0.5) x 2^-126; shift 0 (the only code is 128) gives e = 1 and the factor
    // 2^127 = bf16 0x7F00; their product is (8, -1), the dequantized weights. Lane 1: 1.
    const uint32_t pair0 = e2m1x2_placed_bf16_sliced(0x80400180u, 0);
    CHECK(pair0 == 0x80400180u);
    CHECK(e8m0_folded_factor_bf16(128, 0) == 0x7F00);
    const float factor = bf16_to_float(0x7F00);
    CHECK(bf16_to_float(static_cast<uint16_t>(pair0 & 0xFFFF)) * factor == 8.0f);
    CHECK(bf16_to_float(static_cast<uint16_t>(pair0 >> 16)) * factor == -1.0f);
    CHECK(bf16_to_float(static_cast<uint16_t>(e2m1x2_placed_bf16_sliced(0x00000040u, 0) & 0xFFFF)) * factor == 1.0f);
}
