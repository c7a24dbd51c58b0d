// Sparse24Linear: validation, parameter creation, sharded loading, processing and
// apply (CPU backend here; the CUDA backend calls the same-named kernels in cuda/).
#include "layers/sparse24_linear.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#include "ref/gemm.h"
#include "ref/quant.h"
#include "ref/tensor_math.h"

namespace ctk {

// ---- configuration ---------------------------------------------------------------

Sparse24Linear make_sparse24_linear(const std::optional<QuantArgs>& wq, const std::optional<QuantArgs>& iq,
                                    const SparsityArgs& sparsity, Backend backend) {
    CTK_CHECK(sparsity.structure == "2:4", "sparsity_structure: expected \"2:4\", found \"", sparsity.structure, "\"");
    // Weight-only or activation-only quantization: vLLM's supports_cutlass_24 says no.
    CTK_CHECK(wq.has_value() == iq.has_value(),
              wq ? "input_activations: 2:4 W8A8 needs activation quantization too (weight-only 8-bit is not supported)"
                 : "weights: 2:4 with quantized activations needs quantized weights too");
    Sparse24Linear layer;
    layer.weight_quant = wq;
    layer.input_quant = iq;
    layer.format = sparsity.format;
    layer.backend = backend;
    if (wq) {
        CTK_CHECK(wq->num_bits == 8 && iq->num_bits == 8, "num_bits: 2:4 W8A8 supports 8-bit weights and activations",
                  ", found weights ", wq->num_bits, "-bit and activations ", iq->num_bits, "-bit");
        CTK_CHECK(wq->type == iq->type, "type: weights and activations must both be int or both float, found weights ",
                  quant_type_name(wq->type), " and activations ", quant_type_name(iq->type));
        CTK_CHECK(wq->strategy == QuantStrategy::Channel || wq->strategy == QuantStrategy::Tensor,
                  "weights.strategy: expected channel or tensor, found ", quant_strategy_name(wq->strategy));
        CTK_CHECK(!wq->dynamic, "weights.dynamic: weight scales must be static (stored in the checkpoint)");
        CTK_CHECK(wq->symmetric, "weights.symmetric: asymmetric 8-bit weights are not supported by 2:4 W8A8");
        CTK_CHECK(iq->symmetric,
                  "input_activations.symmetric: asymmetric (zero-point) activations are not supported by 2:4 W8A8 "
                  "(vLLM would silently run them as symmetric)");
        if (iq->dynamic) {
            CTK_CHECK(iq->strategy == QuantStrategy::Token || iq->strategy == QuantStrategy::Tensor,
                      "input_activations.strategy: dynamic quantization must be per token or per tensor, found ",
                      quant_strategy_name(iq->strategy));
        } else {
            CTK_CHECK(iq->strategy == QuantStrategy::Tensor,
                      "input_activations.strategy: static activation quantization must be per tensor, found ",
                      quant_strategy_name(iq->strategy));
        }
        layer.weight_dtype = wq->type == QuantType::Int ? DType::I8 : DType::F8E4M3;
    }
    require_backend(backend);
    return layer;
}

int min_capability(const Sparse24Linear& layer) { return layer.weight_dtype == DType::F8E4M3 ? 90 : 80; }

// ---- create_weights --------------------------------------------------------------

void create_weights(Sparse24Linear& layer, const std::vector<int64_t>& widths, int64_t K, DType params_dtype) {
    CTK_CHECK(!widths.empty(), "output_partition_sizes: expected at least one shard");
    for (size_t i = 0; i < widths.size(); ++i)
        CTK_CHECK(widths[i] > 0, "output_partition_sizes[", i, "]: expected a positive width, found ", widths[i]);
    CTK_CHECK(K > 0 && K % 4 == 0, "input_size: 2:4 groups run along K, so K must be a positive multiple of 4, found ",
              K);
    CTK_CHECK(params_dtype == DType::F16 || params_dtype == DType::BF16,
              "params_dtype: activations must be f16 or bf16, found ", dtype_name(params_dtype));
    if (layer.format == SparsityFormat::Sparse24Bitmask)
        // The bitmask packs 8 columns per byte along K (vLLM checks the output widths here by mistake).
        CTK_CHECK(K % 8 == 0, "input_size: the sparse-24-bitmask format needs K % 8 == 0 per partition, found K = ", K);
    layer.input_size = K;
    layer.params_dtype = params_dtype;
    if (!layer.quantized()) layer.weight_dtype = params_dtype;
    layer.params.reset(widths);
    const int64_t N = layer.out_features();
    const int64_t shards = static_cast<int64_t>(widths.size());
    auto add = [&](const std::string& name, DType t, const Shape& s) { layer.params.add(name, t, s); };
    if (layer.format == SparsityFormat::Dense) {
        add("weight", layer.weight_dtype, {N, K});
    } else {
        add("compressed", layer.weight_dtype, {N, K / 2});
        add("bitmask", DType::U8, {N, K / 8});
        add("shape", DType::I64, {2, 1});
    }
    if (layer.quantized()) {
        if (layer.weight_quant->strategy == QuantStrategy::Channel) add("weight_scale", DType::F32, {N, 1});
        else add("weight_scale", DType::F32, {shards});
        if (!layer.input_quant->dynamic) add("input_scale", DType::F32, {1});
    }
    layer.processed = false;
}

// ---- load ------------------------------------------------------------------------

static void check_scales_positive_finite(const Tensor& t, const std::string& what) {
    const float* s = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
        CTK_CHECK(std::isfinite(s[i]) && s[i] > 0.0f, what, ": scales must be positive and finite, found ", s[i],
                  " at index ", i);
}

void load(Sparse24Linear& layer, const std::string& name, const Tensor& value, int shard) {
    CTK_CHECK(!layer.processed, "load(", name, "): the layer is already processed (load comes before ",
              "process_weights_after_loading)");
    Tensor& param = layer.params.get(name);
    layer.params.check_shard(name, shard);
    const std::string what = ShardedParams::what(name, shard);
    expect_defined(value, what);
    CTK_CHECK(value.device == Device::CPU, name, ": expected a host tensor, found ", value.describe());
    expect_dtype(value, param.dtype, what);
    auto mark = [&](int s) { layer.params.mark_loaded(name, s); };

    if (name == "input_scale") {
        CTK_CHECK(value.numel() == 1, what, ": expected one element, found shape ", shape_str(value.shape));
        check_scales_positive_finite(value, what);
        // The activation quantizers divide by it (x * (1/s)): a subnormal s would make 1/s
        // Inf, so they take normal values only; say so here, at load, not at the first apply.
        CTK_CHECK(value.data<float>()[0] >= FLT_MIN, what, ": expected a normal fp32 scale (>= ", FLT_MIN,
                  "), found ", value.data<float>()[0]);
        // Fused q/k/v see one input: keep the largest calibrated scale so no shard's
        // range is clipped (vLLM's 2:4 path keeps the last shard's; its dense W8A8 path the max).
        float v = value.data<float>()[0];
        float& cur = param.data<float>()[0];
        bool first = !layer.params.any_loaded(name);
        cur = first ? v : std::fmax(cur, v);
        mark(shard);
        return;
    }
    if (name == "weight_scale" && layer.weight_quant->strategy == QuantStrategy::Tensor) {
        // One scalar per logical shard.
        if (shard < 0) {
            expect_shape(value, param.shape, what);
            std::memcpy(param.raw(), value.raw(), value.nbytes());
        } else {
            CTK_CHECK(value.numel() == 1, what, ": expected one element per shard, found shape ",
                      shape_str(value.shape));
            param.data<float>()[shard] = value.data<float>()[0];
        }
        check_scales_positive_finite(value, what);
        mark(shard);
        return;
    }
    if (name == "shape") {
        expect_shape(value, {2, 1}, what);
        const int64_t* s = value.data<int64_t>();
        int64_t rows = shard < 0 ? layer.out_features() : layer.params.widths[shard];
        CTK_CHECK(s[0] == rows && s[1] == layer.input_size, what, ": expected {", rows, ", ", layer.input_size,
                  "}, found {", s[0], ", ", s[1], "}");
        std::memcpy(param.raw(), value.raw(), value.nbytes());
        mark(shard);
        return;
    }
    // Row-sharded parameters: weight, compressed, bitmask, channel weight_scale.
    if (name == "weight_scale") check_scales_positive_finite(value, what);
    // A NaN or Inf weight (an fp8 code 0x7F / 0xFF too) would only show up as NaN outputs.
    if (name == "weight" || name == "compressed") ref::check_finite(value, what);
    layer.params.load_rows(name, value, shard);
}

// ---- process_weights_after_loading -----------------------------------------------

// Per-tensor (one per shard) weight scales -> one scale per output channel.
static Tensor channelwise_weight_scale(const Sparse24Linear& layer) {
    const Tensor& ws = layer.params.get("weight_scale");
    const int64_t N = layer.out_features();
    Tensor out = Tensor::empty(DType::F32, {N});
    float* o = out.data<float>();
    const float* s = ws.data<float>();
    if (layer.weight_quant->strategy == QuantStrategy::Channel) {
        std::memcpy(o, s, sizeof(float) * N);
    } else {
        int64_t row = 0;
        for (size_t i = 0; i < layer.params.widths.size(); ++i)
            for (int64_t r = 0; r < layer.params.widths[i]; ++r) o[row++] = s[i];
    }
    return out;
}

// Each row's largest stored weight times its scale must be a finite fp32: a scale of 3e38
// with an int8 weight of 127 is a weight no fp32 holds, and every output of that row would
// be +-Inf. Checked once the scales are per row (the stored weights are 8-bit, finite).
static void check_scaled_rows_finite(const Sparse24Linear& layer, const Tensor& ws) {
    const Tensor& w = layer.params.get(layer.format == SparsityFormat::Dense ? "weight" : "compressed");
    const int64_t N = w.size(0), cols = w.size(1);
    for (int64_t n = 0; n < N; ++n) {
        float amax = 0.0f;
        for (int64_t k = 0; k < cols; ++k) amax = std::fmax(amax, std::fabs(ref::load_f32(w, n * cols + k)));
        const float s = ws.data<float>()[n];
        CTK_CHECK(std::isfinite(amax * s), "weight_scale: row ", n, " has scale ", s, " and a weight of magnitude ",
                  amax, ": their product ", static_cast<double>(amax) * s, " is past the fp32 range");
    }
}

void process_weights_after_loading(Sparse24Linear& layer) {
    CTK_CHECK(!layer.processed, "process_weights_after_loading: already processed");
    CTK_CHECK(!layer.params.empty(), "process_weights_after_loading: create_weights has not run");
    layer.params.require_all_loaded();
    const int64_t K = layer.input_size;

    if (layer.quantized()) {
        layer.weight_scale = channelwise_weight_scale(layer);
        check_scaled_rows_finite(layer, layer.weight_scale);
        if (!layer.input_quant->dynamic) layer.input_scale = layer.params.get("input_scale").clone();
    }
    // Weight: straight from the bitmask (each nibble is a group code; no dense copy), or
    // compressed from the dense 2:4 weight (throws naming row and group if it is not 2:4).
    const bool bitmask = layer.format == SparsityFormat::Sparse24Bitmask;
    if (layer.backend == Backend::CPU) {
        layer.weight_cpu = bitmask ? ref::bitmask_to_sparse24(layer.params.get("compressed"),
                                                              layer.params.get("bitmask"), K)
                                   : ref::compress_24(layer.params.get("weight"));
    } else {
#if CTK_HAVE_CUDA
        require_capability(layer.backend, min_capability(layer),
                           cat("process_weights_after_loading: Sparse24Linear with ", dtype_name(layer.weight_dtype),
                               " weights"));
        // The same two paths on the device, straight into the tensor-core layout.
        layer.weight_gpu = bitmask ? cuda::sparse24_from_bitmask(cuda::to_device(layer.params.get("compressed")),
                                                                 cuda::to_device(layer.params.get("bitmask")), K)
                                   : cuda::sparse24_compress(cuda::to_device(layer.params.get("weight")));
        if (layer.quantized()) layer.weight_scale_gpu = cuda::to_device(layer.weight_scale);
#endif
    }
    layer.params.reset(layer.params.widths);  // the loaded forms are no longer needed
    layer.processed = true;
}

// ---- apply -----------------------------------------------------------------------

// The CUDA backend: the same steps as the CPU path below, with the kernels of cuda/ops.h.
static Tensor apply_cuda(const Sparse24Linear& layer, const Tensor& x, const Tensor& bias) {
#if CTK_HAVE_CUDA
    // An empty batch gives an empty output, as on the CPU (the kernels take M >= 1).
    if (x.size(0) == 0) return cuda::device_empty(layer.params_dtype, {0, layer.out_features()});
    if (!layer.quantized()) return cuda::sparse24_gemm(x, layer.weight_gpu, Tensor(), Tensor(), bias, layer.params_dtype);
    const QuantArgs& iq = *layer.input_quant;
    cuda::QuantResult q;
    if (layer.weight_dtype == DType::I8)
        q = iq.dynamic ? cuda::quant_int8_dynamic_per_token(x)
                       : cuda::quant_int8_static(x, layer.input_scale.data<float>()[0]);
    else
        q = iq.dynamic ? cuda::quant_fp8_dynamic_per_token(x)
                       : cuda::quant_fp8_static(x, layer.input_scale.data<float>()[0]);
    return cuda::sparse24_gemm(q.q, layer.weight_gpu, q.scale, layer.weight_scale_gpu, bias, layer.params_dtype);
#else
    (void)layer, (void)x, (void)bias;
    throw Error("apply: this build has no GPU kernels");
#endif
}

Tensor apply(const Sparse24Linear& layer, const Tensor& x, const Tensor& bias) {
    CTK_CHECK(layer.processed, "apply: process_weights_after_loading has not run");
    check_linear_inputs(x, bias, layer.input_size, layer.out_features(), layer.params_dtype, layer.backend);
    if (layer.backend == Backend::CUDA) return apply_cuda(layer, x, bias);
    if (!layer.quantized()) return ref::scaled_sparse_gemm(x, layer.weight_cpu, Tensor(), Tensor(), bias, layer.params_dtype);

    // W8A8: dynamic activation quantization is always per token (as vLLM runs it, even
    // when the config says strategy "tensor"); static is per tensor.
    const QuantArgs& iq = *layer.input_quant;
    ref::QuantResult q;
    if (layer.weight_dtype == DType::I8)
        q = iq.dynamic ? ref::quant_int8_dynamic_per_token(x)
                       : ref::quant_int8_static(x, layer.input_scale.data<float>()[0]);
    else
        q = iq.dynamic ? ref::quant_fp8_dynamic_per_token(x)
                       : ref::quant_fp8_static(x, layer.input_scale.data<float>()[0]);
    return ref::scaled_sparse_gemm(q.q, layer.weight_cpu, q.scale, layer.weight_scale, bias, layer.params_dtype);
}

}  // namespace ctk
