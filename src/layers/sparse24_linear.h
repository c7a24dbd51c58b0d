// Sparse24Linear: vLLM's CompressedTensors24 scheme as a plain struct + free functions.
//
// A 2:4 sparse linear layer out[M, N] = x[M, K] @ W[N, K]^T (+ bias), W pruned 2-of-4
// along K, either unquantized (f16/bf16) or W8A8 (int8 or fp8 e4m3 weights with
// per-channel or per-tensor scales; activations quantized dynamically per token or
// statically per tensor). The four steps keep vLLM's names:
//
//   Sparse24Linear layer = make_sparse24_linear(weight_quant, input_quant, sparsity, backend);
//   create_weights(layer, {N_q, N_k, N_v}, K, DType::BF16);   // parameter shapes
//   load(layer, "compressed", tensor, shard);                  // per shard (q=0, k=1, v=2)
//   process_weights_after_loading(layer);                      // validate, compress, move
//   Tensor out = apply(layer, x, bias);                        // quantize x, sparse GEMM
//
// Parameters (docs/formats.md; shared/reference/sparse24-and-quant.md 1.4), N = sum of
// the logical widths, K = input_size:
//   weight        [N, K]      f16/bf16 (sparse-only), i8 or f8e4m3     format "dense"
//   compressed    [N, K/2]    same dtype                               format "sparse-24-bitmask"
//   bitmask       [N, K/8]    u8                                       format "sparse-24-bitmask"
//   shape         [2, 1]      i64 ({N_shard, K}, checked)              format "sparse-24-bitmask"
//   weight_scale  [N, 1] f32 (channel) or [num_shards] f32 (tensor)    W8A8 only
//   input_scale   [1] f32                                              W8A8 static only
//
// Every validation throws ctk::Error naming the parameter, the expected and the found.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/backend.h"
#include "layers/quant_args.h"
#include "layers/sharded_params.h"
#include "ref/sparse24.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk {

struct Sparse24Linear {
    // ---- configuration (make_sparse24_linear) ----
    std::optional<QuantArgs> weight_quant;  // both set (W8A8) or both empty (sparse-only)
    std::optional<QuantArgs> input_quant;
    SparsityFormat format = SparsityFormat::Dense;
    Backend backend = Backend::CPU;
    DType weight_dtype = DType::BF16;  // f16/bf16 (= params dtype) for sparse-only, i8 or f8e4m3

    // ---- create_weights ----
    int64_t input_size = 0;               // K
    DType params_dtype = DType::BF16;     // activation and output dtype: f16 or bf16
    ShardedParams params;                 // by vLLM parameter name, + the shard widths (q, k, v)

    // ---- process_weights_after_loading ----
    bool processed = false;
    Tensor weight_scale;  // [N] f32 per channel, or [1] f32 (sparse-only: undefined = 1)
    Tensor input_scale;   // [1] f32 for static input quantization, else undefined
    ref::Sparse24 weight_cpu;  // Backend::CPU: values [N, K/2] + codes [N, K/4]
#if CTK_HAVE_CUDA
    cuda::Sparse24KernelWeight weight_gpu;  // Backend::CUDA: values + metadata in the kernel layout
    Tensor weight_scale_gpu;                // Backend::CUDA: [N] f32 on the device
#endif

    int64_t out_features() const { return params.total_rows(); }  // N
    bool quantized() const { return weight_quant.has_value(); }
};

// Validates the configuration as vLLM's supports_cutlass_24 and _get_quant_dtype do,
// plus the checks vLLM lacks (docs/layers.md section 4 lists them).
Sparse24Linear make_sparse24_linear(const std::optional<QuantArgs>& weight_quant,
                                    const std::optional<QuantArgs>& input_quant, const SparsityArgs& sparsity,
                                    Backend backend = Backend::CPU);

// 80 (mma.sp: f16/bf16/int8) or 90 (fp8 needs wgmma.sp on Hopper).
int min_capability(const Sparse24Linear& layer);

void create_weights(Sparse24Linear& layer, const std::vector<int64_t>& output_partition_sizes,
                    int64_t input_size, DType params_dtype);

// Loads parameter `name` for one shard (0-based index into the logical widths), or the
// whole fused parameter with shard = -1.
void load(Sparse24Linear& layer, const std::string& name, const Tensor& value, int shard = -1);

void process_weights_after_loading(Sparse24Linear& layer);

// x: [M, K] in params_dtype (host tensor for Backend::CPU, device tensor for CUDA);
// bias: [N] params_dtype or undefined. Returns [M, N] params_dtype on the same device.
Tensor apply(const Sparse24Linear& layer, const Tensor& x, const Tensor& bias = Tensor());

}  // namespace ctk
