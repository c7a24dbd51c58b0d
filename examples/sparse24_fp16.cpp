// 2:4 sparse-only linear layer (fp16), from a sparse-24-bitmask checkpoint.
// Prune a dense weight 2-of-4, store it as compressed-tensors does (compressed values +
// bitmask + shape), load it into a Sparse24Linear, run it, and compare with the dense
// reference GEMM on the pruned weight. Run: build/examples/sparse24_fp16
#include <cstdio>

#include "example_util.h"
#include "layers/sparse24_linear.h"
#include "ref/gemm.h"

using namespace ctk;

int main() {
    const int64_t M = 4, N = 64, K = 128;
    Rng rng(7);

    // 1. A dense fp16 weight, pruned to 2:4 along K (the 2 largest |w| of every 4 survive).
    Tensor w = ref::from_f32(ref::prune_24(ex::randn(rng, DType::F32, {N, K}, 0.05f)), DType::F16);

    // 2. What the checkpoint holds: compressed [N, K/2], bitmask [N, K/8], shape [2, 1].
    ref::Bitmask24 ckpt = ref::bitmask_encode(w);
    std::printf("checkpoint: compressed %s, bitmask %s (row 0, byte 0 = 0x%02x)\n",
                ckpt.compressed.describe().c_str(), ckpt.bitmask.describe().c_str(),
                ckpt.bitmask.data<uint8_t>()[0]);

    // 3. The layer: create, load, process (bitmask -> values + 2:4 codes), apply.
    auto build = [&](Backend backend) {
        Sparse24Linear layer = make_sparse24_linear(std::nullopt, std::nullopt,
                                                    SparsityArgs{SparsityFormat::Sparse24Bitmask, "2:4"}, backend);
        create_weights(layer, {N}, K, DType::F16);
        load(layer, "compressed", ckpt.compressed);
        load(layer, "bitmask", ckpt.bitmask);
        load(layer, "shape", ckpt.shape);
        process_weights_after_loading(layer);
        return layer;
    };
    Sparse24Linear layer = build(Backend::CPU);
    std::printf("processed: values %s, codes %s (row 0, group 0 code = 0x%x)\n",
                layer.weight_cpu.values.describe().c_str(), layer.weight_cpu.codes.describe().c_str(),
                layer.weight_cpu.codes.data<uint8_t>()[0]);

    Tensor x = ex::randn(rng, DType::F16, {M, K}, 1.0f);
    Tensor out = apply(layer, x);

    // 4. Against the dense reference on the pruned weight: the sums are the same, so 0.
    Tensor want = ref::scaled_gemm(x, w, Tensor(), Tensor(), Tensor(), DType::F16);
    double err = ex::print_max_err(out, want);
    // 5. The same layer on the GPU (tensor-core sparse GEMM), against the CPU layer.
    ex::also_on_gpu(build, x, out);
    return err == 0.0 ? 0 : 1;
}
