// Number formats: exhaustive over every code, round trips, every tie case, and the
// hand-worked vectors of docs/formats.md.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>

#include "core/random.h"
#include "formats/formats.h"

using namespace ctk;

static bool same_bits(float a, float b) { return f32_bits(a) == f32_bits(b); }

// Independent oracle for "round x to the nearest value of a finite set, ties to the
// candidate whose code is even": scan all codes. Used to check the bit-trick encoders.
template <class Decode>
static int nearest_even_code(double x, int ncodes, Decode decode) {
    int best = -1;
    double best_err = 0;
    for (int c = 0; c < ncodes; ++c) {
        double v = decode(c);
        if (std::isnan(v)) continue;
        double err = std::fabs(v - x);
        if (best < 0 || err < best_err || (err == best_err && (c & 1) == 0 && (best & 1) == 1)) {
            best = c;
            best_err = err;
        }
    }
    return best;
}

TEST_CASE("fp16: every code round-trips through fp32") {
    for (uint32_t c = 0; c < 65536; ++c) {
        float f = fp16_to_float(static_cast<uint16_t>(c));
        uint16_t back = fp16_from_float(f);
        if (std::isnan(f)) {
            CHECK((back & 0x7C00) == 0x7C00);
            CHECK((back & 0x3FF) != 0);
        } else {
            CAPTURE(c);
            CHECK(back == c);
        }
    }
}

TEST_CASE("fp16: fp16_from_float gives the IEEE conversion's bits (what cvt.rn.f16.f32 returns on the GPU)") {
    // The GPU kernels convert f16 outputs with the hardware instruction and the CPU
    // reference with fp16_from_float; they must agree bit for bit on every non-NaN fp32
    // (cuda/mxfp4_dequant.cuh). The compiler's _Float16 conversion (IEEE round to nearest
    // even) is an independent oracle: ~430 thousand bit patterns spread over all of fp32
    // (both signs, subnormals, the f16 overflow edge); a full sweep agreed as well (2026-12-07).
#if defined(__FLT16_MAX__)
    int bad = 0;
    for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 9973) {
        const uint32_t bits = static_cast<uint32_t>(u);
        float f;
        std::memcpy(&f, &bits, 4);
        if (std::isnan(f)) continue;
        const _Float16 h = static_cast<_Float16>(f);
        uint16_t ieee;
        std::memcpy(&ieee, &h, 2);
        if (ieee != fp16_from_float(f) && ++bad <= 5) CHECK_MESSAGE(false, "fp32 bits ", bits, ": IEEE ", ieee, ", ours ", fp16_from_float(f));
    }
    CHECK(bad == 0);
#else
    MESSAGE("this compiler has no _Float16: the IEEE oracle check is skipped");
#endif
}

TEST_CASE("fp16: rounding is to nearest, ties to even, with subnormals and overflow") {
    // Midpoint between 1 and 1+2^-10 goes to 1 (even); next midpoint goes up to 1+2^-9.
    CHECK(fp16_from_float(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);
    CHECK(fp16_from_float(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);
    CHECK(fp16_from_float(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)) == 0x3C01);
    // Subnormals: 2^-24 is code 1; half of it ties to 0 (even), 1.5 * 2^-24 ties to 2.
    CHECK(fp16_from_float(std::ldexp(1.0f, -24)) == 0x0001);
    CHECK(fp16_from_float(std::ldexp(1.0f, -25)) == 0x0000);
    CHECK(fp16_from_float(1.5f * std::ldexp(1.0f, -24)) == 0x0002);
    CHECK(fp16_from_float(-std::ldexp(1.0f, -26)) == 0x8000);
    // Largest subnormal rounds up into the smallest normal.
    CHECK(fp16_from_float(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)) == 0x0400);
    // 65504 is the max; 65519 rounds to it, 65520 ties to even = Inf.
    CHECK(fp16_from_float(65504.0f) == 0x7BFF);
    CHECK(fp16_from_float(65519.0f) == 0x7BFF);
    CHECK(fp16_from_float(65520.0f) == 0x7C00);
    CHECK(fp16_from_float(-1e30f) == 0xFC00);
    CHECK(fp16_from_float(std::numeric_limits<float>::infinity()) == 0x7C00);
    CHECK((fp16_from_float(std::nanf("")) & 0x7E00) == 0x7E00);
}

TEST_CASE("fp16: random fp32 values round to the nearest representable (oracle: neighbours)") {
    Rng rng(1);
    for (int i = 0; i < 200000; ++i) {
        float x = f32_from_bits(rng.next_u32());
        if (std::isnan(x) || std::fabs(x) >= 65520.0f) continue;
        uint16_t h = fp16_from_float(x);
        double v = fp16_to_float(h);
        // Neighbours of h (same sign direction): the error must not exceed theirs.
        uint16_t up = h + 1, down = h - 1;
        double e = std::fabs(v - x);
        for (uint16_t n : {up, down}) {
            float nv = fp16_to_float(n);
            if (std::isnan(nv) || std::isinf(nv) || (n & 0x8000) != (h & 0x8000)) continue;
            double en = std::fabs(nv - static_cast<double>(x));
            CAPTURE(x);
            CHECK((e < en || (e == en && (h & 1) == 0)));
        }
    }
}

TEST_CASE("bf16: every code round-trips; rounding ties to even; NaN stays NaN") {
    for (uint32_t c = 0; c < 65536; ++c) {
        float f = bf16_to_float(static_cast<uint16_t>(c));
        if (std::isnan(f)) CHECK(std::isnan(bf16_to_float(bf16_from_float(f))));
        else CHECK(bf16_from_float(f) == c);
    }
    CHECK(bf16_from_float(f32_from_bits(0x3F808000u)) == 0x3F80);  // tie -> even (down)
    CHECK(bf16_from_float(f32_from_bits(0x3F818000u)) == 0x3F82);  // tie -> even (up)
    CHECK(bf16_from_float(f32_from_bits(0x3F808001u)) == 0x3F81);  // above the tie
    CHECK(bf16_from_float(f32_from_bits(0x7F7FFFFFu)) == 0x7F80);  // FLT_MAX rounds to Inf
    CHECK(bf16_from_float(f32_from_bits(0x00008000u)) == 0x0000);  // subnormal tie -> even 0
    CHECK(bf16_from_float(f32_from_bits(0x00018000u)) == 0x0002);
    CHECK(std::isnan(bf16_to_float(bf16_from_float(std::nanf("")))));
    CHECK(bf16_from_float(-0.0f) == 0x8000);
}

TEST_CASE("fp8 e4m3: all 256 codes decode and round-trip; NaN only at 0x7F/0xFF") {
    int nans = 0;
    for (int c = 0; c < 256; ++c) {
        float f = e4m3_to_float(static_cast<uint8_t>(c));
        if (std::isnan(f)) {
            ++nans;
            CHECK(((c & 0x7F) == 0x7F));
            CHECK(e4m3_from_float(f) == 0x7F);
            continue;
        }
        CHECK(std::isfinite(f));
        CAPTURE(c);
        CHECK(e4m3_from_float(f) == c);
    }
    CHECK(nans == 2);
    CHECK(e4m3_to_float(0x7E) == 448.0f);
    CHECK(e4m3_to_float(0x08) == std::ldexp(1.0f, -6));
    CHECK(e4m3_to_float(0x01) == std::ldexp(1.0f, -9));
    CHECK(e4m3_to_float(0x38) == 1.0f);
}

TEST_CASE("fp8 e4m3: encode = nearest even, saturating at 448 (oracle: scan all codes)") {
    auto decode = [](int c) { return static_cast<double>(e4m3_to_float(static_cast<uint8_t>(c))); };
    Rng rng(2);
    for (int i = 0; i < 100000; ++i) {
        // Magnitudes spread over the whole range incl. subnormals and past 448.
        float x = (rng.uniform() < 0.5f ? -1.0f : 1.0f) * std::ldexp(rng.uniform(1.0f, 2.0f), static_cast<int>(rng.below(24)) - 13);
        int want = nearest_even_code(e4m3_clamp(x), 256, decode);
        uint8_t got = e4m3_from_float(x);
        CAPTURE(x);
        // +-0 and sign: compare values (the oracle may pick 0x80 vs 0x00 for a zero).
        CHECK(e4m3_to_float(got) == e4m3_to_float(static_cast<uint8_t>(want)));
        if (e4m3_to_float(got) == 0.0f) CHECK((got & 0x80) == (x < 0 ? 0x80 : 0));
    }
    // Every midpoint between neighbouring positive codes ties to the even code.
    for (int c = 0; c < 0x7E; ++c) {
        float mid = (e4m3_to_float(static_cast<uint8_t>(c)) + e4m3_to_float(static_cast<uint8_t>(c + 1))) / 2;
        CAPTURE(c);
        CHECK(e4m3_from_float(mid) == ((c & 1) ? c + 1 : c));
        CHECK(e4m3_from_float(-mid) == (0x80 | ((c & 1) ? c + 1 : c)));
    }
    CHECK(e4m3_from_float(464.0f) == 0x7E);  // would round to 480 without saturation
    CHECK(e4m3_from_float(1e9f) == 0x7E);
    CHECK(e4m3_from_float(-std::numeric_limits<float>::infinity()) == 0xFE);
    CHECK(e4m3_from_float(std::nanf("")) == 0x7F);
    CHECK(std::isnan(e4m3_clamp(std::nanf(""))));
}

TEST_CASE("e2m1: the 16 codes, ties to even, saturation, packing") {
    const float values[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    for (int c = 0; c < 16; ++c) {
        CHECK(same_bits(e2m1_to_float(static_cast<uint8_t>(c)), values[c]));
        // Round trip of every code, -0 (0x8) included.
        CHECK(e2m1_from_float(values[c]) == c);
    }
    // Every tie: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4 (the even code).
    const float ties[7] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
    const uint8_t tie_codes[7] = {0, 2, 2, 4, 4, 6, 6};
    for (int i = 0; i < 7; ++i) {
        CAPTURE(ties[i]);
        CHECK(e2m1_from_float(ties[i]) == tie_codes[i]);
        CHECK(e2m1_from_float(-ties[i]) == (tie_codes[i] | 8));  // -0.25 -> -0 (0x8)
    }
    // Against the scan oracle on a fine grid.
    auto decode = [](int c) { return static_cast<double>(e2m1_to_float(static_cast<uint8_t>(c))); };
    for (int i = -800; i <= 800; ++i) {
        float x = i / 100.0f;
        int want = nearest_even_code(x > 6 ? 6 : (x < -6 ? -6 : x), 16, decode);
        if (e2m1_to_float(static_cast<uint8_t>(want)) == 0) want = x < 0 ? 8 : 0;  // the sign survives
        CAPTURE(x);
        CHECK(e2m1_from_float(x) == want);
    }
    CHECK(e2m1_from_float(100.0f) == 7);
    CHECK(e2m1_from_float(-7.0f) == 15);
    CHECK(e2m1_from_float(-0.2f) == 8);  // rounds to -0, as compressed-tensors writes it
    CHECK(e2m1_from_float(0.2f) == 0);
    CHECK(mxfp4_pack(0x3, 0xC) == 0xC3);
    CHECK(mxfp4_unpack_even(0xC3) == 0x3);
    CHECK(mxfp4_unpack_odd(0xC3) == 0xC);
}

TEST_CASE("e8m0: all 256 codes decode to 2^(code-127); 255 is NaN; 0 is 2^-127") {
    for (int c = 0; c < 255; ++c) {
        CAPTURE(c);
        CHECK(e8m0_to_float(static_cast<uint8_t>(c)) == std::ldexp(1.0f, c - 127));
    }
    CHECK(std::isnan(e8m0_to_float(255)));
    CHECK(f32_bits(e8m0_to_float(0)) == 0x00400000u);
    CHECK(e8m0_to_float(127) == 1.0f);
}

TEST_CASE("e8m0 block scale: 'even' and 'floor' rules on hand-worked amax values") {
    // amax 7.5: even rounds 7.5 up to 8 (mantissa 1.875 >= 1.75): 2^(3-2) = 2; floor: 2^(2-2) = 1.
    CHECK(e8m0_block_scale(7.5f, MxScaleRule::Even) == 128);
    CHECK(e8m0_block_scale(7.5f, MxScaleRule::Floor) == 127);
    // amax 6.5 (mantissa 1.625 < 1.75): both give 1.
    CHECK(e8m0_block_scale(6.5f, MxScaleRule::Even) == 127);
    CHECK(e8m0_block_scale(6.5f, MxScaleRule::Floor) == 127);
    // compressed-tensors' power-of-two test values: 5.69->4, 7.29->8, 6.94->4, 1.54->1, 0.073->1/16.
    CHECK(e8m0_block_scale(5.69f, MxScaleRule::Even) == 127 + 2 - 2);
    CHECK(e8m0_block_scale(7.29f, MxScaleRule::Even) == 127 + 3 - 2);
    CHECK(e8m0_block_scale(6.94f, MxScaleRule::Even) == 127 + 2 - 2);
    CHECK(e8m0_block_scale(1.54f, MxScaleRule::Even) == 127 + 0 - 2);
    CHECK(e8m0_block_scale(0.073f, MxScaleRule::Even) == 127 - 4 - 2);
    // The threshold itself: 1.75 * 2^k rounds up, just below stays.
    CHECK(e8m0_block_scale(1.75f, MxScaleRule::Even) == 127 + 1 - 2);
    CHECK(e8m0_block_scale(std::nextafter(1.75f, 0.0f), MxScaleRule::Even) == 127 - 2);
    // A zero block (and a subnormal amax) clamps to code 0, the extremes clamp to [0, 254].
    CHECK(e8m0_block_scale(0.0f, MxScaleRule::Even) == 0);
    CHECK(e8m0_block_scale(1e-40f, MxScaleRule::Floor) == 0);
    CHECK(e8m0_block_scale(std::ldexp(1.0f, -126), MxScaleRule::Floor) == 0);
    CHECK(e8m0_block_scale(3e38f, MxScaleRule::Floor) == 252);
    // Scaled block max lands in [3.5, 7) under even, [4, 8) under floor (random amax).
    Rng rng(3);
    for (int i = 0; i < 10000; ++i) {
        float amax = std::ldexp(rng.uniform(1.0f, 2.0f), static_cast<int>(rng.below(60)) - 30);
        float se = amax / e8m0_to_float(e8m0_block_scale(amax, MxScaleRule::Even));
        float sf = amax / e8m0_to_float(e8m0_block_scale(amax, MxScaleRule::Floor));
        CHECK((se >= 3.5f && se < 7.0f));
        CHECK((sf >= 4.0f && sf < 8.0f));
    }
}

TEST_CASE("2:4 codes and bitmask nibbles") {
    // The six valid codes and their masks, per the PTX table ([T,T,F,F] -> 0b0100 ...).
    CHECK(code24_make(0, 1) == 0x4);
    CHECK(code24_make(0, 2) == 0x8);
    CHECK(code24_make(1, 2) == 0x9);
    CHECK(code24_make(0, 3) == 0xC);
    CHECK(code24_make(1, 3) == 0xD);
    CHECK(code24_make(2, 3) == 0xE);
    int valid = 0;
    for (int c = 0; c < 16; ++c) {
        uint8_t code = static_cast<uint8_t>(c);
        if (!code24_valid(code)) continue;
        ++valid;
        CHECK(code24_from_mask(code24_to_mask(code)) == code);
    }
    CHECK(valid == 6);
    for (int m = 0; m < 16; ++m) {
        uint8_t mask = static_cast<uint8_t>(m);
        if (popcount4(mask) == 2) CHECK(code24_valid(code24_from_mask(mask)));
        else CHECK(code24_from_mask(mask) == 0xFF);
    }
    // Fewer than two nonzeros: filled with the lowest zero positions.
    CHECK(code24_for_nonzeros(0x0) == code24_make(0, 1));
    CHECK(code24_for_nonzeros(0x8) == code24_make(0, 3));
    CHECK(code24_for_nonzeros(0x1) == code24_make(0, 1));
    CHECK(code24_for_nonzeros(0x4) == code24_make(0, 2));
    CHECK(code24_for_nonzeros(0x7) == 0xFF);
    // The table form used by the 8-bit GPU compressor agrees for every mask.
    for (int m = 0; m < 16; ++m) {
        const uint8_t c = code24_for_nonzeros(static_cast<uint8_t>(m));
        const bool too_many = (kCode24TooManyNonzeros >> m) & 1;
        CHECK_MESSAGE(too_many == (c == 0xFF), "mask ", m);
        CHECK_MESSAGE(((kCode24ForNonzerosLut >> (4 * m)) & 0xF) == (too_many ? 0x4u : c), "mask ", m);
    }
    // Bitmask: bit j of byte b flags column 8b + j; the low nibble is group 2b.
    const uint8_t row[2] = {0x93, 0x5A};  // cols 0,1,4,7 | 9,11,12,14
    CHECK(bitmask_get(row, 0));
    CHECK(!bitmask_get(row, 2));
    CHECK(bitmask_get(row, 7));
    CHECK(bitmask_get(row, 9));
    CHECK(bitmask_group_nibble(row, 0) == 0x3);
    CHECK(bitmask_group_nibble(row, 1) == 0x9);
    CHECK(bitmask_group_nibble(row, 2) == 0xA);
    CHECK(bitmask_group_nibble(row, 3) == 0x5);
}
