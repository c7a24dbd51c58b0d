// Mxfp4Linear: validation, parameter creation, sharded loading, processing and apply.
#include "layers/mxfp4_linear.h"

#include <cstring>
#include <numeric>

namespace ctk {

int64_t Mxfp4Linear::out_features() const {
    return std::accumulate(logical_widths.begin(), logical_widths.end(), int64_t{0});
}

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
    layer.logical_widths = widths;
    layer.input_size = K;
    layer.params_dtype = params_dtype;
    const int64_t N = layer.out_features();
    layer.params.clear();
    layer.loaded.clear();
    layer.params["weight_packed"] = Tensor::zeros(DType::U8, {N, K / 2});
    layer.params["weight_scale"] = Tensor::zeros(DType::U8, {N, K / kMxBlock});
    for (const auto& kv : layer.params) layer.loaded[kv.first] = std::vector<bool>(widths.size(), false);
    layer.processed = false;
}

void load(Mxfp4Linear& layer, const std::string& name, const Tensor& value, int shard) {
    CTK_CHECK(!layer.params.empty(), "load(", name, "): create_weights has not run");
    auto it = layer.params.find(name);
    CTK_CHECK(it != layer.params.end(), "load: unknown parameter '", name,
              "' for an MXFP4 layer (expected weight_packed or weight_scale)");
    const int64_t shards = static_cast<int64_t>(layer.logical_widths.size());
    CTK_CHECK(shard >= -1 && shard < shards, name, ": shard ", shard, " out of range (layer has ", shards, " shards)");
    CTK_CHECK(value.device == Device::CPU, name, ": expected a host tensor, found ", value.describe());
    std::string what = shard < 0 ? name : cat(name, " (shard ", shard, ")");
    Tensor& param = it->second;
    expect_dtype(value, DType::U8, what);
    int64_t row0 = 0;
    for (int i = 0; i < shard; ++i) row0 += layer.logical_widths[i];
    int64_t rows = shard < 0 ? layer.out_features() : layer.logical_widths[shard];
    Shape want = param.shape;
    want[0] = rows;
    expect_shape(value, want, what);
    Tensor dst = param.rows(row0, row0 + rows);
    std::memcpy(dst.raw(), value.raw(), value.nbytes());
    std::vector<bool>& done = layer.loaded[name];
    if (shard < 0) done.assign(done.size(), true);
    else done[shard] = true;
}

void process_weights_after_loading(Mxfp4Linear& layer) {
    CTK_CHECK(!layer.params.empty(), "process_weights_after_loading: create_weights has not run");
    CTK_CHECK(!layer.processed, "process_weights_after_loading: already processed");
    for (const auto& kv : layer.loaded)
        for (size_t s = 0; s < kv.second.size(); ++s)
            CTK_CHECK(kv.second[s], "process_weights_after_loading: parameter '", kv.first, "' shard ", s,
                      " was never loaded");
    layer.weight_cpu.packed = layer.params.at("weight_packed");
    layer.weight_cpu.scales = layer.params.at("weight_scale");
    layer.params.clear();
    layer.processed = true;
}

Tensor apply(const Mxfp4Linear& layer, const Tensor& x, const Tensor& bias) {
    CTK_CHECK(layer.processed, "apply: process_weights_after_loading has not run");
    CTK_CHECK(x.ndim() == 2 && x.size(1) == layer.input_size, "x: expected shape [M, ", layer.input_size,
              "], found ", shape_str(x.shape));
    expect_dtype(x, layer.params_dtype, "x");
    if (bias.defined()) {
        expect_shape(bias, {layer.out_features()}, "bias");
        expect_dtype(bias, layer.params_dtype, "bias");
    }
    CTK_CHECK(layer.backend == Backend::CPU, "apply: backend ", backend_name(layer.backend),
              " is not available for Mxfp4Linear in this build");
    CTK_CHECK(x.device == Device::CPU, "x: the cpu backend needs a host tensor, found ", x.describe());
    return ref::mxfp4_gemm(x, layer.weight_cpu, bias);
}

}  // namespace ctk
