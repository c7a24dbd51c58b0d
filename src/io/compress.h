// compress_model: dense Linear weights -> a compressed-tensors model folder, written the
// way llm-compressor + compressed-tensors write it (what `ctk compress` runs).
//
// Schemes (shared/reference/sparse24-and-quant.md 2, mxfp4.md 2):
//   sparse24            prune 2:4 (ref::prune_24), keep the dtype; sparsity_config only
//   sparse24-w8a8-int8  prune, then int8 RTN (ref::quantize_weight_8bit_ct), format int-quantized
//   sparse24-w8a8-fp8   prune, then fp8 e4m3 RTN, format float-quantized
//   mxfp4-a16           MXFP4 with the "even" scale rule (ref::mxfp4_quantize), format mxfp4-pack-quantized
// 2:4 weights are stored as sparse-24-bitmask (compressed/bitmask/shape) or "dense"
// (the pruned weight as `weight`). W8A8: weight_scale per channel [N, 1] or per tensor
// [1], in the weight's dtype as compressed-tensors stores it; inputs dynamic per token,
// or static per tensor with input_scale [1] = the given calibration scale.
//
// Linear weights are the 2-D f32/f16/bf16 `*.weight` tensors except embeddings (names
// containing "embed"), lm_head and the `ignore` list (exact module names or "re:"
// regexes); everything else is copied unchanged. Output: OUT_DIR/config.json (the
// input folder's config.json when there is one, plus quantization_config; keys sorted
// like json.dump(sort_keys=True)) and model.safetensors, or shards with
// model.safetensors.index.json when the output is larger than max_shard_bytes.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "layers/quant_args.h"

namespace ctk::io {

enum class CompressScheme : uint8_t { Sparse24, Sparse24W8A8Int8, Sparse24W8A8Fp8, Mxfp4A16 };
const char* compress_scheme_name(CompressScheme s);  // "sparse24", "sparse24-w8a8-int8", ...
bool compress_scheme_from_name(const std::string& name, CompressScheme* out);

struct CompressOptions {
    CompressScheme scheme = CompressScheme::Sparse24;
    SparsityFormat format = SparsityFormat::Sparse24Bitmask;  // 2:4 schemes
    bool per_channel = true;     // W8A8 weight scales per output channel (else per tensor)
    bool dynamic_inputs = true;  // W8A8 inputs dynamic per token (else static per tensor)
    float input_scale = 0.0f;    // static inputs: the calibration scale (positive, finite)
    std::vector<std::string> ignore;            // more modules to keep dense (lm_head always is)
    uint64_t max_shard_bytes = 5000000000ull;   // transformers' default max_shard_size "5GB"
    std::function<void(const std::string&)> progress;  // one line per tensor, if set
};

struct CompressSummary {
    int compressed = 0;         // linear weights compressed
    int copied = 0;             // tensors copied unchanged
    uint64_t bytes_in = 0, bytes_out = 0;
    std::vector<std::string> files;  // written, relative to OUT_DIR
};

// in_path: a .safetensors file or a model folder. Throws ctk::Error naming the tensor
// (e.g. K not a multiple of 4/8/32, NaN weights) or the file. The input checks (an empty
// weight, a tensor of a compressed module other than weight/bias, --input-scale as stored
// in each weight dtype) run before OUT_DIR is created; a later failure removes what was
// written (and OUT_DIR, when compress created it).
CompressSummary compress_model(const std::string& in_path, const std::string& out_dir, const CompressOptions& opt);

}  // namespace ctk::io
