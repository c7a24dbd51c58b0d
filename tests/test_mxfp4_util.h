// Test data for the MXFP4 tests (CPU and GPU): one generator, so that every file draws the
// same weight from the same seed.
#pragma once
#include <cstdint>

#include "core/random.h"
#include "ref/mxfp4.h"

namespace ctk::test {

// Random MXFP4 weight [N, K]: uniform 4-bit codes, then scale codes uniform in [lo, hi].
inline ref::Mxfp4Weight random_mxfp4_weight(Rng& rng, int64_t N, int64_t K, int lo, int hi) {
    Tensor codes = Tensor::empty(DType::U8, {N, K});
    for (int64_t i = 0; i < N * K; ++i) codes.data<uint8_t>()[i] = static_cast<uint8_t>(rng.below(16));
    ref::Mxfp4Weight w;
    w.packed = ref::mxfp4_pack_codes(codes);
    w.scales = Tensor::empty(DType::U8, {N, K / 32});
    for (int64_t i = 0; i < w.scales.numel(); ++i)
        w.scales.data<uint8_t>()[i] = static_cast<uint8_t>(lo + static_cast<int>(rng.below(hi - lo + 1)));
    return w;
}

}  // namespace ctk::test
