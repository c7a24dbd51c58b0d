// Mxfp4Linear: vLLM's CompressedTensorsW4A16Mxfp4 scheme as a plain struct + free
// functions. out[M, N] = x[M, K] @ dequant(W)^T (+ bias), W stored as MXFP4
// (compressed-tensors "mxfp4-pack-quantized"), activations and output bf16 or f16.
//
//   Mxfp4Linear layer = make_mxfp4_linear(weight_quant, backend);
//   create_weights(layer, {N_gate, N_up}, K, DType::BF16);
//   load(layer, "weight_packed", tensor, shard);   load(layer, "weight_scale", tensor, shard);
//   process_weights_after_loading(layer);           // validate, repack for the kernel
//                                                   // (CUDA: tile order, scale range, f16 fold plan)
//   Tensor out = apply(layer, x, bias);
//
// Parameters (shared/reference/mxfp4.md 2.1), N = sum of the logical widths:
//   weight_packed [N, K/2]  u8   two E2M1 codes per byte, even column in the low nibble
//   weight_scale  [N, K/32] u8   E8M0 codes (2^(code-127); 255 = NaN block)
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/backend.h"
#include "layers/quant_args.h"
#include "layers/sharded_params.h"
#include "ref/mxfp4.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk {

struct Mxfp4Linear {
    Backend backend = Backend::CPU;
    int64_t input_size = 0;            // K
    DType params_dtype = DType::BF16;  // activation and output dtype: bf16 or f16
    ShardedParams params;              // weight_packed, weight_scale (+ the shard widths)

    bool processed = false;
    ref::Mxfp4Weight weight_cpu;  // Backend::CPU
#if CTK_HAVE_CUDA
    cuda::Mxfp4KernelWeight weight_gpu;  // Backend::CUDA: codes and scales in the kernel's tile order
#endif

    int64_t out_features() const { return params.total_rows(); }
};

// weight_quant must be MXFP4 (vLLM's _is_mxfp4): 4-bit float, group strategy,
// group_size 32, symmetric. Anything else is rejected with the field that differs.
Mxfp4Linear make_mxfp4_linear(const QuantArgs& weight_quant, Backend backend = Backend::CPU);

int min_capability(const Mxfp4Linear& layer);  // 80 (mma.sync bf16)

void create_weights(Mxfp4Linear& layer, const std::vector<int64_t>& output_partition_sizes, int64_t input_size,
                    DType params_dtype);
void load(Mxfp4Linear& layer, const std::string& name, const Tensor& value, int shard = -1);
void process_weights_after_loading(Mxfp4Linear& layer);
Tensor apply(const Mxfp4Linear& layer, const Tensor& x, const Tensor& bias = Tensor());

}  // namespace ctk
