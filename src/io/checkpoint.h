// Checkpoint: a Hugging Face style model folder written by llm-compressor /
// compressed-tensors (config.json + *.safetensors), seen as vLLM sees it: a list of
// linear layers, each with its shards, logical widths and scheme.
//
// A checkpoint module is a tensor-name prefix (model.layers.0.self_attn.q_proj); it is
// a linear layer when it holds `weight` [N, K] (dense, int8/fp8, 2:4 "dense" format),
// `compressed` + `bitmask` + `shape` (sparse-24-bitmask) or `weight_packed`
// (mxfp4-pack-quantized). Embeddings (names containing "embed") are not linear layers.
// Modules q_proj/k_proj/v_proj and gate_proj/up_proj of one parent are fused into
// qkv_proj and gate_up_proj (vLLM's packed_modules_mapping), with logical widths = the
// shards' output features. Each layer's scheme comes from io/ct_config.h; then its
// tensors are checked against what that scheme reads (vLLM's create_weights): a
// missing or extra tensor, a wrong dtype, a zero N or K (then both read 0), a shard whose
// K differs, or two layers under one name (pre-fused qkv_proj beside q/k/v_proj) is
// recorded in `problem`, which load_layer() (io/load_layer.h) and `ctk info` report.
#pragma once
#include <string>
#include <vector>

#include "io/ct_config.h"
#include "io/safetensors.h"

namespace ctk::io {

struct LinearLayer {
    std::string name;                     // vLLM layer name (fused: ...qkv_proj)
    std::string module_class;             // QKVParallelLinear, MergedColumnParallelLinear, Linear, ParallelLMHead
    std::vector<std::string> shards;      // checkpoint module prefixes in shard order
    std::vector<int64_t> logical_widths;  // output features of each shard
    int64_t in_features = 0;              // K
    LayerScheme scheme;
    std::vector<std::string> tensors;     // every tensor of every shard
    uint64_t bytes = 0;                   // their bytes on disk
    bool has_bias = false;
    std::string problem;                  // "" when the tensors fit the scheme

    int64_t out_features() const;         // N = sum of logical widths
    // Bytes the same layer takes in bf16 (weight N*K*2, plus the bias).
    uint64_t bf16_bytes() const;
};

struct Checkpoint {
    std::string dir;
    CtConfig config;
    SafetensorsDir tensors;
    DType params_dtype = DType::BF16;  // config.json torch_dtype / dtype when f16 or bf16
    std::vector<LinearLayer> layers;   // in name order

    // The layer named `name` (vLLM name, or the module name of one of its shards);
    // throws naming the folder and listing a few layer names when absent.
    const LinearLayer& layer(const std::string& name) const;
};

// Opens DIR (config.json is required) and lists its linear layers.
Checkpoint open_checkpoint(const std::string& dir);

}  // namespace ctk::io
