// 2:4 W8A8 fp8 layer: per-channel fp8 weight scales, dynamic per-token fp8 activations.
// Quantize a pruned weight as llm-compressor's RTN observer would (scale = amax/448 per
// output row), store it dense (format "dense"), load, process, apply, and compare with
// the bf16 layer without quantization. Run: build/examples/sparse24_w8a8_fp8
#include <cstdio>

#include "example_util.h"
#include "layers/sparse24_linear.h"
#include "ref/gemm.h"
#include "ref/weight_quant.h"

using namespace ctk;

int main() {
    const int64_t M = 4, N = 64, K = 128;
    Rng rng(8);
    Tensor w = ref::prune_24(ex::randn(rng, DType::F32, {N, K}, 0.05f));

    // Weights: fp8 e4m3 codes [N, K] + one fp32 scale per output channel [N, 1].
    ref::QuantizedWeight qw = ref::quantize_weight_8bit(w, DType::F8E4M3, /*per_channel=*/true);
    std::printf("weight row 0: scale %.6g, first code 0x%02x\n", qw.scale.data<float>()[0],
                qw.q.data<fp8e4m3_t>()[0].bits);

    QuantArgs wq{8, QuantType::Float, QuantStrategy::Channel, /*dynamic=*/false, true, 0};
    QuantArgs iq{8, QuantType::Float, QuantStrategy::Token, /*dynamic=*/true, true, 0};
    auto build = [&](Backend backend) {
        Sparse24Linear layer = make_sparse24_linear(wq, iq, SparsityArgs{SparsityFormat::Dense, "2:4"}, backend);
        create_weights(layer, {N}, K, DType::BF16);
        load(layer, "weight", qw.q);
        load(layer, "weight_scale", qw.scale);
        process_weights_after_loading(layer);
        return layer;
    };
    Sparse24Linear layer = build(Backend::CPU);

    // apply: x is quantized per token (scale = max(amax/448, 1/(448*512))), the 2:4 GEMM
    // accumulates fp8 x fp8 products in fp32, the epilogue applies both scales.
    Tensor x = ex::randn(rng, DType::BF16, {M, K}, 1.0f);
    Tensor out = apply(layer, x);

    // The cost of W8A8: compare with the same 2:4 layer left in bf16 (no quantization).
    Tensor want = ref::scaled_gemm(x, ref::from_f32(w, DType::BF16), Tensor(), Tensor(), Tensor(), DType::BF16);
    ex::print_max_err(out, want);
    // The same layer on the GPU: fp8 quantization kernel + wgmma.sp (sm_90a) or mma.sp GEMM.
    ex::also_on_gpu(build, x, out);
    return 0;
}
