// safetensors: reader and writer of our own (no dependency).
//
// File layout (huggingface/safetensors, docs "Format"):
//   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
//   bytes [8, 8+N)      the header: a JSON object (UTF-8, may be padded with spaces)
//                         {"__metadata__": {"key": "value", ...},          optional, strings only
//                          "<tensor name>": {"dtype": "BF16", "shape": [N, K],
//                                            "data_offsets": [begin, end]}, ...}
//   bytes [8+N, end)    the data region; begin/end are byte offsets into it; tensors
//                       are row-major, little-endian, and tile the region exactly
//
// The reader is strict, like the reference Rust crate's `validate` (and a little more):
// header length within the file and below kMaxHeaderBytes; valid JSON (io/json.h);
// only the keys dtype/shape/data_offsets per tensor; a dtype ctk knows; non-negative
// integer dims; 0 <= begin <= end <= data size; end - begin == numel x dtype size;
// sorted by begin, tensors neither overlap nor leave holes, and the last one ends at
// the end of the file. Every error names the file and, where there is one, the tensor.
//
// The file is memory-mapped read-only; load() copies one tensor into a fresh aligned
// host Tensor, so a multi-gigabyte checkpoint is never read as a whole.
//
// A model folder holds either one `model.safetensors` or shards listed in
// `model.safetensors.index.json` ({"metadata": {"total_size": ...},
// "weight_map": {"<tensor>": "<shard file>", ...}}); SafetensorsDir reads both.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ctk::io {

// The Rust crate's MAX_HEADER_SIZE: a longer header is refused before it is parsed.
constexpr uint64_t kMaxHeaderBytes = 100000000;

// "F32", "F16", "BF16", "F8_E4M3", "I8", "U8", "I32", "I64".
const char* safetensors_dtype_name(DType t);
bool safetensors_dtype_from_name(const std::string& name, DType* out);

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    Shape shape;
    uint64_t begin = 0, end = 0;  // byte offsets into the data region
    uint64_t nbytes() const { return end - begin; }
};

// One .safetensors file, validated when opened. Copies share the mapping.
class SafetensorsFile {
  public:
    static SafetensorsFile open(const std::string& path);

    const std::string& path() const { return path_; }
    uint64_t file_size() const;
    const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const TensorInfo* find(const std::string& name) const;  // nullptr when absent
    // Throws naming the file when there is no tensor `name`.
    const TensorInfo& info(const std::string& name) const;
    // A host copy of the tensor (aligned, owned).
    Tensor load(const std::string& name) const;

  private:
    struct Mapping;
    std::shared_ptr<Mapping> map_;
    std::string path_;
    uint64_t data_start_ = 0;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes host tensors to `path` (through a temporary file renamed at the end, so a
// failed write leaves no partial file). As the Rust crate does: tensors ordered by
// element size (largest first) then name, so each starts aligned to its element size;
// the header padded with spaces to a multiple of 8. Names must be unique and non-empty
// and may not be "__metadata__".
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Splits `tensors` over shards of at most `max_shard_bytes` of data each (a tensor
// larger than that gets a shard of its own), named model-0000i-of-0000n.safetensors as
// transformers does, and writes model.safetensors.index.json next to them.
void write_safetensors_sharded(const std::string& dir, const NamedTensors& tensors,
                               uint64_t max_shard_bytes,
                               const std::map<std::string, std::string>& metadata = {});

// The tensors of a model folder: model.safetensors.index.json with its shards, else
// model.safetensors, else the only *.safetensors file in the folder. `path` may also be
// a single .safetensors file. With an index: the weight_map is not empty, every listed
// shard must exist and hold the tensors the index gives it, and every tensor of a shard
// must be listed (no extras).
class SafetensorsDir {
  public:
    static SafetensorsDir open(const std::string& path);

    const std::string& path() const { return path_; }
    std::vector<std::string> names() const;  // every tensor, sorted
    bool contains(const std::string& name) const { return where_.count(name) != 0; }
    // The file holding `name` and its entry; throws naming the folder when absent.
    const SafetensorsFile& file_of(const std::string& name) const;
    const TensorInfo& info(const std::string& name) const;
    Tensor load(const std::string& name) const;
    const std::vector<SafetensorsFile>& files() const { return files_; }

  private:
    std::string path_;
    std::vector<SafetensorsFile> files_;
    std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

}  // namespace ctk::io
