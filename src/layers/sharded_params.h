// ShardedParams: the parameters of a (possibly fused) linear layer as vLLM's
// create_weights registers them, and which shards of each have been loaded.
//
// A fused layer (q/k/v, gate/up) has one parameter per name whose rows are the
// concatenation of its logical shards; `load` of shard s copies rows
// [offset(s), offset(s) + widths[s]). Shared by Sparse24Linear and Mxfp4Linear.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/backend.h"

namespace ctk {

struct ShardedParams {
    std::vector<int64_t> widths;            // output features of each shard
    std::map<std::string, Tensor> tensors;  // host tensors, by vLLM parameter name
    std::map<std::string, std::vector<bool>> loaded;

    void reset(const std::vector<int64_t>& shard_widths);
    void add(const std::string& name, DType t, const Shape& s);  // zero-filled
    bool empty() const { return tensors.empty(); }
    int64_t total_rows() const;
    int64_t row_offset(int shard) const;

    // The parameter `name`; throws listing the known names if there is none.
    Tensor& get(const std::string& name);
    const Tensor& get(const std::string& name) const { return const_cast<ShardedParams*>(this)->get(name); }
    // Throws unless -1 <= shard < number of shards.
    void check_shard(const std::string& name, int shard) const;
    // "name" or "name (shard s)", for messages.
    static std::string what(const std::string& name, int shard);
    bool any_loaded(const std::string& name) const;
    void mark_loaded(const std::string& name, int shard);  // shard -1 marks all
    // Checks dtype and shape ([rows of the shard, rest of the parameter]) and copies the rows.
    void load_rows(const std::string& name, const Tensor& value, int shard);
    // Throws naming the first parameter shard that was never loaded.
    void require_all_loaded() const;
};

// apply()'s input checks, shared by the layers: x [M, K] of `dtype` on the backend's
// device (host for cpu, device for cuda), bias [N] of `dtype` there too, or undefined.
void check_linear_inputs(const Tensor& x, const Tensor& bias, int64_t K, int64_t N, DType dtype, Backend backend);

}  // namespace ctk
