// load_layer: one linear layer of a checkpoint, built through the layer API the way
// vLLM builds it: make (scheme config) -> create_weights (logical widths, K, params
// dtype) -> load (each shard's tensors) -> process_weights_after_loading.
//
//   io::Checkpoint ck = io::open_checkpoint("model_dir");
//   io::LoadedLayer l = io::load_layer(ck, "model.layers.0.self_attn.qkv_proj", Backend::CPU);
//   Tensor y = io::apply(l, x);   // x: [M, K] in l.params_dtype
//
// Every error names the folder, the layer and, where one is at fault, the tensor and
// its file (e.g. a zero weight_scale, a bitmask nibble without 2 bits, a non-2:4
// dense weight, a NaN or Inf in an unquantized weight or a bias once in params_dtype).
#pragma once
#include <optional>
#include <string>

#include "io/checkpoint.h"
#include "layers/mxfp4_linear.h"
#include "layers/sparse24_linear.h"

namespace ctk::io {

struct LoadedLayer {
    LinearLayer desc;
    Backend backend = Backend::CPU;
    DType params_dtype = DType::BF16;       // activation and output dtype
    std::optional<Sparse24Linear> sparse24;  // scheme sparse24
    std::optional<Mxfp4Linear> mxfp4;        // scheme mxfp4-w4a16
    Tensor dense_weight;                     // unquantized: [N, K] params_dtype, host
    Tensor bias;                             // [N] params_dtype on the backend's device, or undefined
};

// params_dtype: F16 or BF16; pass the checkpoint's (ck.params_dtype) unless overriding.
// Float weights of unquantized and sparse-only layers are converted to it, as vLLM's
// weight loader does when copying into its parameters.
LoadedLayer load_layer(const Checkpoint& ck, const std::string& name, Backend backend, DType params_dtype);

// y[M, N] = the layer applied to x[M, K] (x on the backend's device, in params_dtype).
Tensor apply(const LoadedLayer& layer, const Tensor& x);

}  // namespace ctk::io
