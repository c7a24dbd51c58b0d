#include "layers/sharded_params.h"

#include <cstring>
#include <numeric>

namespace ctk {

void ShardedParams::reset(const std::vector<int64_t>& shard_widths) {
    int64_t sum = 0;  // total_rows() adds them: the sum must stay an int64
    for (int64_t w : shard_widths) {
        CTK_CHECK(w >= 0 && sum <= INT64_MAX - w, "output_partition_sizes: widths must be non-negative with a sum ",
                  "below 2^63, found ", shape_str(shard_widths));
        sum += w;
    }
    widths = shard_widths;
    tensors.clear();
    loaded.clear();
}

void ShardedParams::add(const std::string& name, DType t, const Shape& s) {
    tensors[name] = Tensor::zeros(t, s);
    loaded[name] = std::vector<bool>(widths.size(), false);
}

int64_t ShardedParams::total_rows() const { return std::accumulate(widths.begin(), widths.end(), int64_t{0}); }

int64_t ShardedParams::row_offset(int shard) const {
    CTK_CHECK(shard >= 0 && static_cast<size_t>(shard) <= widths.size(), "row_offset: shard ", shard,
              " out of range (layer has ", widths.size(), " shards)");
    int64_t row0 = 0;
    for (int i = 0; i < shard; ++i) row0 += widths[i];
    return row0;
}

Tensor& ShardedParams::get(const std::string& name) {
    CTK_CHECK(!tensors.empty(), "load(", name, "): create_weights has not run");
    auto it = tensors.find(name);
    if (it == tensors.end()) {
        std::string known;
        for (const auto& kv : tensors) known += (known.empty() ? "" : ", ") + kv.first;
        throw Error(cat("load: unknown parameter '", name, "' for this layer (expected one of: ", known, ")"));
    }
    return it->second;
}

void ShardedParams::check_shard(const std::string& name, int shard) const {
    const int64_t shards = static_cast<int64_t>(widths.size());
    CTK_CHECK(shard >= -1 && shard < shards, name, ": shard ", shard, " out of range (layer has ", shards, " shards)");
}

std::string ShardedParams::what(const std::string& name, int shard) {
    return shard < 0 ? name : cat(name, " (shard ", shard, ")");
}

bool ShardedParams::any_loaded(const std::string& name) const {
    (void)get(name);  // a known parameter, else the error that lists them
    for (bool b : loaded.at(name))
        if (b) return true;
    return false;
}

void ShardedParams::mark_loaded(const std::string& name, int shard) {
    (void)get(name);
    check_shard(name, shard);
    std::vector<bool>& done = loaded.at(name);
    if (shard < 0) done.assign(done.size(), true);
    else done[shard] = true;
}

void ShardedParams::load_rows(const std::string& name, const Tensor& value, int shard) {
    Tensor& param = get(name);
    check_shard(name, shard);
    const std::string w = what(name, shard);
    expect_defined(value, w);
    CTK_CHECK(value.device == Device::CPU, w, ": expected a host tensor, found ", value.describe());
    CTK_CHECK(param.ndim() >= 1, w, ": a 0-d parameter has no rows to load");
    const int64_t row0 = shard < 0 ? 0 : row_offset(shard);
    const int64_t rows = shard < 0 ? total_rows() : widths[shard];
    Shape want = param.shape;
    want[0] = rows;
    expect_dtype(value, param.dtype, w);
    expect_shape(value, want, w);
    Tensor dst = param.rows(row0, row0 + rows);
    std::memcpy(dst.raw(), value.raw(), value.nbytes());
    mark_loaded(name, shard);
}

void ShardedParams::require_all_loaded() const {
    for (const auto& kv : loaded)
        for (size_t s = 0; s < kv.second.size(); ++s)
            CTK_CHECK(kv.second[s], "process_weights_after_loading: parameter '", kv.first, "' shard ", s,
                      " was never loaded");
}

void check_linear_inputs(const Tensor& x, const Tensor& bias, int64_t K, int64_t N, DType dtype, Backend backend) {
    CTK_CHECK(x.ndim() == 2 && x.size(1) == K, "x: expected shape [M, ", K, "], found ", shape_str(x.shape));
    expect_dtype(x, dtype, "x");
    const bool cpu = backend == Backend::CPU;
    CTK_CHECK(x.device == (cpu ? Device::CPU : Device::CUDA), "x: the ", backend_name(backend), " backend needs a ",
              cpu ? "host" : "device", " tensor, found ", x.describe());
    if (bias.defined()) {
        expect_shape(bias, {N}, "bias");
        expect_dtype(bias, dtype, "bias");
        CTK_CHECK(bias.device == x.device, "bias: expected a ", device_name(x.device), " tensor like x, found ",
                  bias.describe());
    }
}

}  // namespace ctk
