// MXFP4 W4A16 layer (bf16): quantize a weight to E2M1 codes with one E8M0 scale per 32
// (compressed-tensors "even" rule), pack two codes per byte, load into an Mxfp4Linear,
// run it, and compare with x W^T on the dequantized weight. Run: build/examples/mxfp4_bf16
#include <cstdio>

#include "example_util.h"
#include "layers/mxfp4_linear.h"
#include "ref/mxfp4.h"

using namespace ctk;

int main() {
    const int64_t M = 4, N = 64, K = 128;
    Rng rng(9);
    Tensor w = ex::randn(rng, DType::F32, {N, K}, 0.05f);

    // weight_packed [N, K/2] u8 (even column in the low nibble), weight_scale [N, K/32] u8.
    ref::Mxfp4Weight q = ref::mxfp4_quantize(w, MxScaleRule::Even);
    uint8_t b0 = q.packed.data<uint8_t>()[0], s0 = q.scales.data<uint8_t>()[0];
    std::printf("row 0: byte 0 = 0x%02x -> w[0] = %g, w[1] = %g (block scale code %d = 2^%d)\n", b0,
                e2m1_to_float(b0 & 0xF) * e8m0_to_float(s0), e2m1_to_float(b0 >> 4) * e8m0_to_float(s0), s0, s0 - 127);

    QuantArgs wq{4, QuantType::Float, QuantStrategy::Group, false, true, 32};
    auto build = [&](Backend backend) {
        Mxfp4Linear layer = make_mxfp4_linear(wq, backend);
        create_weights(layer, {N}, K, DType::BF16);
        load(layer, "weight_packed", q.packed);
        load(layer, "weight_scale", q.scales);
        process_weights_after_loading(layer);
        return layer;
    };
    Mxfp4Linear layer = build(Backend::CPU);

    Tensor x = ex::randn(rng, DType::BF16, {M, K}, 1.0f);
    Tensor out = apply(layer, x);

    // Reference: the dequantized weight in fp32 (exact), x W^T rounded to bf16 once.
    Tensor wdq = ref::mxfp4_dequantize(q, DType::F32);
    Tensor want = Tensor::empty(DType::BF16, {M, N});
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            float acc = 0;
            for (int64_t k = 0; k < K; ++k) acc += ref::load_f32(x, m * K + k) * wdq.data<float>()[n * K + k];
            ref::store_f32(want, m * N + n, acc);
        }
    double err = ex::print_max_err(out, want);
    // The same layer on the GPU: repack + fused dequant-GEMM, against the CPU layer.
    ex::also_on_gpu(build, x, out);
    return err == 0.0 ? 0 : 1;
}
