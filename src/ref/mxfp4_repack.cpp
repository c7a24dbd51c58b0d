// CPU reference of the MXFP4 kernel layout (see ref/mxfp4_repack.h): a direct
// transcription of the layout, one nibble at a time, then the bf16 bit slicing.
#include "ref/mxfp4_repack.h"

#include <algorithm>

#include "formats/mxfp4_bits.h"

namespace ctk::ref {

Mxfp4Repacked mxfp4_repack(const Mxfp4Weight& w, DType act_dtype) {
    CTK_CHECK(act_dtype == DType::BF16 || act_dtype == DType::F16,
              "act_dtype: expected bf16 or f16 activations, found ", dtype_name(act_dtype));
    const bool slice = act_dtype == DType::BF16;
    Tensor codes = mxfp4_unpack_codes(w.packed);  // validates packed
    const int64_t N = codes.size(0), K = codes.size(1);
    CTK_CHECK(K % kMxBlock == 0, "packed: K = ", K, " is not a multiple of the MXFP4 block (32)");
    expect_dtype(w.scales, DType::U8, "scales");
    expect_shape(w.scales, {N, K / kMxBlock}, "scales");
    CTK_CHECK(w.scales.device == Device::CPU, "scales: the CPU reference needs a host tensor");

    Mxfp4Repacked r;
    r.N = N;
    r.K = K;
    r.n_tiles = (N + kMxTileN - 1) / kMxTileN;
    r.k_chunks = (K + kMxChunkK - 1) / kMxChunkK;
    r.words = Tensor::empty(DType::I32, {r.n_tiles, r.k_chunks, 32, 4});
    r.scale_words = Tensor::empty(DType::I32, {r.n_tiles, r.k_chunks, 8});
    const uint8_t* c = codes.data<uint8_t>();
    const uint8_t* s = w.scales.data<uint8_t>();
    auto code_at = [&](int64_t n, int64_t k) -> uint32_t { return (n < N && k < K) ? c[n * K + k] : 0u; };
    const uint8_t* packed = w.packed.data<uint8_t>();
    auto zero_block = [&](int64_t n, int64_t b) {
        return mxfp4_block_is_zero(packed + n * (K / 2) + b * (kMxBlock / 2));
    };
    int min_code = 255, max_code = -1;  // over the finite codes of blocks with a nonzero weight
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t b = 0; b < K / kMxBlock; ++b) {
            const uint8_t code = s[n * (K / kMxBlock) + b];
            if (code == kE8M0Nan || zero_block(n, b)) continue;
            min_code = std::min<int>(min_code, code);
            max_code = std::max<int>(max_code, code);
        }
    }
    const uint32_t pad_scale = mxfp4_pad_scale_code(min_code, max_code);
    auto scale_at = [&](int64_t n, int64_t b) -> uint32_t {
        if (n >= N || b >= K / kMxBlock) return pad_scale;
        const uint8_t code = s[n * (K / kMxBlock) + b];
        return (code != kE8M0Nan && zero_block(n, b)) ? pad_scale : code;
    };
    uint32_t* words = reinterpret_cast<uint32_t*>(r.words.data<int32_t>());
    uint32_t* swords = reinterpret_cast<uint32_t*>(r.scale_words.data<int32_t>());
    for (int64_t ch = 0; ch < r.k_chunks; ++ch) {
        for (int64_t t = 0; t < r.n_tiles; ++t) {
            const int64_t n = t * kMxTileN;
            for (int lane = 0; lane < 32; ++lane) {
                const int g = lane / 4, q = lane % 4;
                for (int step = 0; step < 4; ++step) {
                    const int64_t k = ch * kMxChunkK + step * 16;
                    // (row offset, column offset) of nibbles 0..7, per the table in the header.
                    const int rows[8] = {g, g + 8, g, g + 8, g, g + 8, g, g + 8};
                    const int cols[8] = {2 * q, 2 * q, 2 * q + 8, 2 * q + 8, 2 * q + 1, 2 * q + 1, 2 * q + 9, 2 * q + 9};
                    uint32_t word = 0;
                    for (int i = 0; i < 8; ++i) word |= code_at(n + rows[i], k + cols[i]) << (4 * i);
                    words[((t * r.k_chunks + ch) * 32 + lane) * 4 + step] = slice ? e2m1_word_slice_bf16(word) : word;
                }
            }
            for (int g = 0; g < 8; ++g) {
                swords[(t * r.k_chunks + ch) * 8 + g] = scale_at(n + g, 2 * ch) | scale_at(n + g + 8, 2 * ch) << 8 |
                                                       scale_at(n + g, 2 * ch + 1) << 16 |
                                                       scale_at(n + g + 8, 2 * ch + 1) << 24;
            }
        }
    }
    return r;
}

}  // namespace ctk::ref
