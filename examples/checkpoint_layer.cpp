// Load one layer of a compressed-tensors checkpoint and run it: the scheme comes from
// config.json (as vLLM picks it), the tensors from the safetensors files, and the layer
// is built through create_weights / load / process_weights_after_loading.
// Run: build/examples/checkpoint_layer [DIR] [LAYER]
//      (default: tests/data/tiny-w8a8-int8 model.layers.0.self_attn.qkv_proj)
#include <cmath>
#include <cstdio>

#include "example_util.h"
#include "io/load_layer.h"
#include "ref/sparse24.h"

using namespace ctk;

int main(int argc, char** argv) {
    const char* dir = argc > 1 ? argv[1] : "tests/data/tiny-w8a8-int8";
    const char* name = argc > 2 ? argv[2] : "model.layers.0.self_attn.qkv_proj";
    try {
        io::Checkpoint ck = io::open_checkpoint(dir);
        io::LoadedLayer layer = io::load_layer(ck, name, Backend::CPU, ck.params_dtype);
        const io::LinearLayer& d = layer.desc;
        std::printf("%s: %s\n  %zu shard(s), N = %lld, K = %lld\n", d.name.c_str(), d.scheme.describe().c_str(),
                    d.shards.size(), static_cast<long long>(d.out_features()), static_cast<long long>(d.in_features));

        Rng rng(7);
        Tensor x = ex::randn(rng, layer.params_dtype, {4, d.in_features}, 1.0f);
        Tensor y = io::apply(layer, x);

        // The same product in fp32 with the weight the layer holds (dequantized); for
        // W8A8 the difference is what quantizing x per token costs.
        Tensor w = layer.mxfp4 ? ref::mxfp4_dequantize(layer.mxfp4->weight_cpu, DType::F32)
                   : layer.sparse24 ? ref::to_f32(ref::decompress_24(layer.sparse24->weight_cpu))
                                    : ref::to_f32(layer.dense_weight);
        const int64_t M = x.size(0), N = w.size(0), K = w.size(1);
        Tensor want = Tensor::empty(layer.params_dtype, {M, N});
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
                float s = layer.sparse24 && layer.sparse24->quantized()
                              ? layer.sparse24->weight_scale.data<float>()[layer.sparse24->weight_scale.numel() == 1 ? 0 : n]
                              : 1.0f;
                float acc = layer.bias.defined() ? ref::load_f32(layer.bias, n) : 0.0f;
                for (int64_t k = 0; k < K; ++k) acc += ref::load_f32(x, m * K + k) * w.data<float>()[n * K + k] * s;
                ref::store_f32(want, m * N + n, acc);
            }
        ex::print_max_err(y, want);
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
