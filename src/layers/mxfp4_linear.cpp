// Mxfp4Linear: validation, parameter creation, sharded loading, processing and apply.
#include "layers/mxfp4_linear.h"


namespace ctk {

Mxfp4Linear make_mxfp4_linear(const QuantArgs& q, Backend backend) {
    CTK_CHECK(q.num_bits == 4, "weights.num_bits: MXFP4 weights are 4-bit, found ", q.num_bits);
    CTK_CHECK(q.type == QuantType::Float, "weights.type: MXFP4 weights are float (E2M1), found ",
              quant_type_name(q.type));
    CTK_CHECK(q.strategy == QuantStrategy::Group, "weights.strategy: MXFP4 scales are per group, found ",
              quant_strategy_name(q.strategy));
    CTK_CHECK(q.group_size == kMxBlock, "weights.group_size: MXFP4 blocks are 32 wide, found ", q.group_size);
    CTK_CHECK(q.symmetric, "weights.symmetric: MXFP4 has no zero point (asymmetric FP4 is not defined)");
    CTK_CHECK(!q.dynamic, "weights.dynamic: MXFP4 weight scales are stored, not dynamic");
    require_backend(backend);
    Mxfp4Linear layer;
    layer.backend = backend;
    return layer;
}

int min_capability(const Mxfp4Linear&) { return 80; }

void create_weights(Mxfp4Linear& layer, const std::vector<int64_t>& widths, int64_t K, DType params_dtype) {
    CTK_CHECK(!widths.empty(), "output_partition_sizes: expected at least one shard");
    for (size_t i = 0; i < widths.size(); ++i)
        CTK_CHECK(widths[i] > 0, "output_partition_sizes[", i, "]: expected a positive width, found ", widths[i]);
    CTK_CHECK(K > 0 && K % kMxBlock == 0, "input_size: MXFP4 needs K to be a positive multiple of 32, found ", K);
    CTK_CHECK(params_dtype == DType::BF16 || params_dtype == DType::F16,
              "params_dtype: MXFP4 activations must be bf16 or f16, found ", dtype_name(params_dtype));
    layer.input_size = K;
    layer.params_dtype = params_dtype;
    layer.params.reset(widths);
    const int64_t N = layer.out_features();
    layer.params.add("weight_packed", DType::U8, {N, K / 2});
    layer.params.add("weight_scale", DType::U8, {N, K / kMxBlock});
    layer.processed = false;
}

void load(Mxfp4Linear& layer, const std::string& name, const Tensor& value, int shard) {
    CTK_CHECK(!layer.processed, "load(", name, "): the layer is already processed (load comes before ",
              "process_weights_after_loading)");
    layer.params.load_rows(name, value, shard);  // checks the name, shard, tensor, dtype and shape
}

void process_weights_after_loading(Mxfp4Linear& layer) {
    CTK_CHECK(!layer.processed, "process_weights_after_loading: already processed");
    CTK_CHECK(!layer.params.empty(), "process_weights_after_loading: create_weights has not run");
    layer.params.require_all_loaded();
    if (layer.backend == Backend::CPU) {
        layer.weight_cpu.packed = layer.params.get("weight_packed");
        layer.weight_cpu.scales = layer.params.get("weight_scale");
        ref::mxfp4_check_no_overflow(layer.weight_cpu);  // as the GPU repack does
    } else {
#if CTK_HAVE_CUDA
        require_capability(layer.backend, min_capability(layer), "process_weights_after_loading: Mxfp4Linear");
        // Repack into the kernel's tile order; rejects weights whose values overflow.
        layer.weight_gpu = cuda::mxfp4_repack(cuda::to_device(layer.params.get("weight_packed")),
                                              cuda::to_device(layer.params.get("weight_scale")), layer.params_dtype);
#endif
    }
    layer.params.reset(layer.params.widths);  // the loaded forms are no longer needed
    layer.processed = true;
}

Tensor apply(const Mxfp4Linear& layer, const Tensor& x, const Tensor& bias) {
    CTK_CHECK(layer.processed, "apply: process_weights_after_loading has not run");
    check_linear_inputs(x, bias, layer.input_size, layer.out_features(), layer.params_dtype, layer.backend);
#if CTK_HAVE_CUDA
    if (layer.backend == Backend::CUDA) {
        // An empty batch gives an empty output, as on the CPU (the kernels take M >= 1).
        if (x.size(0) == 0) return cuda::device_empty(layer.params_dtype, {0, layer.out_features()});
        // The rung is chosen by M: fused decode kernel for small M, tiled wgmma kernel above.
        return cuda::mxfp4_gemm(x, layer.weight_gpu, bias);
    }
#endif
    return ref::mxfp4_gemm(x, layer.weight_cpu, bias);
}

}  // namespace ctk
