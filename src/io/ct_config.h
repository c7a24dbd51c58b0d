// The compressed-tensors `quantization_config` of a config.json, and the per-layer
// scheme selection that vLLM's CompressedTensorsConfig performs on it
// (shared/reference/sparse24-and-quant.md 1.1 and 2.3, mxfp4.md 2.4).
//
// Parsing follows compressed-tensors' pydantic models: QuantizationArgs fields are
// checked as its validators do (type/strategy case-insensitive, strategy inferred from
// group_size, token needs dynamic, group needs group_size > 0, unknown fields refused);
// SparsityCompressionConfig gives format, sparsity_structure, targets, ignore. Every
// error names config.json, the field path and, where known, its line and column.
//
// Selection (select_scheme) is vLLM's get_scheme, step by step:
//   1. ignore (layer names, exact or "re:" regex; a fused layer is ignored when all its
//      shards are, and shards that disagree are an error);
//   2. the config_groups target: the layer name (exact or regex), then the module class
//      name (case-insensitive substring: "Linear" matches "QKVParallelLinear"), then for
//      fused layers every shard name; a layer matching nothing is unsupported (vLLM
//      raises "Unable to find matching target");
//   3. the sparsity target among sparsity_config.targets minus its ignore list (no match
//      means no sparsity);
//   4. supports_cutlass_24 -> CompressedTensors24 (sparse-only, or W8A8 with 8-bit
//      tensor/channel weights and tensor/token inputs); else no weight quantization ->
//      unquantized; else _is_mxfp4 -> W4A16 MXFP4 (even with input_activations set);
//      anything else is unsupported, with the reason.
// Regex targets are matched from the start of the name like Python's re.match, by
// io/name_regex.h (linear time, whatever the pattern: a config cannot make matching hang);
// syntax outside the common subset of Python's re and ECMAScript, such as (?P<name>...),
// is reported as invalid.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/name_regex.h"
#include "layers/quant_args.h"

namespace ctk::io {

struct ConfigGroup {
    std::string name;                          // "group_0"
    std::vector<std::string> targets;          // class names, layer names or "re:" regexes
    QuantArgs weights;
    std::optional<QuantArgs> input_activations;
    std::string format;                        // per-group format; "" = the global one
};

struct SparsityConfig {
    std::string format;                        // "dense", "sparse-24-bitmask", ...
    std::string structure = "unstructured";    // sparsity_structure, compared as written
    std::vector<std::string> targets;          // none: no layer is sparse (as in vLLM)
    std::vector<std::string> ignore;
    double global_sparsity = 0.0;
};

struct CtConfig {
    std::string source;            // "DIR/config.json", for messages
    bool present = false;          // config.json has a quantization_config
    std::string format;            // global format ("" when absent)
    std::string quantization_status;
    std::vector<ConfigGroup> groups;
    std::vector<std::string> ignore;
    std::optional<SparsityConfig> sparsity;
    // target -> index into groups; a later group that repeats a target replaces it in
    // place, like assigning to vLLM's target_scheme_map dict.
    std::vector<std::pair<std::string, size_t>> target_map;
    std::map<std::string, NameRegex> regexes;  // compiled "re:" targets, by pattern
};

// Parses the whole config.json text. No quantization_config: present = false (every
// layer is unquantized). quant_method must be "compressed-tensors".
CtConfig parse_ct_config(const std::string& config_json_text, const std::string& source);
CtConfig load_ct_config(const std::string& config_json_path);

// vLLM's packed_modules_mapping for Llama-style models: fused module -> its shards.
//   qkv_proj -> q_proj, k_proj, v_proj;  gate_up_proj -> gate_proj, up_proj
const std::vector<std::pair<std::string, std::vector<std::string>>>& fused_modules();

enum class SchemeKind : uint8_t { Unquantized, Sparse24, Mxfp4, Unsupported };
const char* scheme_kind_name(SchemeKind k);  // "unquantized", "sparse24", "mxfp4-w4a16", "unsupported"

struct LayerScheme {
    SchemeKind kind = SchemeKind::Unquantized;
    std::optional<QuantArgs> weight_quant;  // Sparse24 W8A8, Mxfp4
    std::optional<QuantArgs> input_quant;   // Sparse24 W8A8
    SparsityArgs sparsity;                  // Sparse24: format and structure
    std::string quant_target;               // the config_groups target that matched ("" if none)
    std::string format;                     // the quantization format of the matched group
    std::string reason;                     // Unsupported: why; otherwise a short description
    std::string describe() const;           // "sparse24 w8a8 int8 channel/token dynamic (sparse-24-bitmask)"
};

// The scheme of one linear layer. layer_name is vLLM's module name (fused layers by
// their fused name, e.g. model.layers.0.self_attn.qkv_proj); module_class its class
// name for class-name targets ("QKVParallelLinear", "Linear", ...).
LayerScheme select_scheme(const CtConfig& cfg, const std::string& layer_name, const std::string& module_class);

// The matching rules on their own (exposed for tests). Each returns the first target
// that matches, or "" when none does.
std::string match_target(const CtConfig& cfg, const std::string& layer_name, const std::string& module_class,
                         const std::vector<std::string>& targets);
// vLLM's should_ignore_layer; throws ctk::Error when the shards of a fused layer disagree.
bool should_ignore(const CtConfig& cfg, const std::string& layer_name, const std::vector<std::string>& ignore);

}  // namespace ctk::io
