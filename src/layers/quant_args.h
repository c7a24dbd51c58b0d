// QuantArgs / SparsityArgs: the compressed-tensors config fields a layer needs
// (QuantizationArgs and SparsityCompressionConfig), as plain structs.
#pragma once
#include <cstdint>
#include <string>

namespace ctk {

enum class QuantType : uint8_t { Int, Float };
enum class QuantStrategy : uint8_t { Tensor, Channel, Group, Token, Block, TensorGroup };

struct QuantArgs {
    int num_bits = 8;
    QuantType type = QuantType::Int;
    QuantStrategy strategy = QuantStrategy::Tensor;
    bool dynamic = false;
    bool symmetric = true;
    int group_size = 0;  // 0: not set
};

enum class SparsityFormat : uint8_t { Dense, Sparse24Bitmask };

struct SparsityArgs {
    SparsityFormat format = SparsityFormat::Dense;
    std::string structure = "2:4";
};

const char* quant_type_name(QuantType t);          // "int" / "float"
const char* quant_strategy_name(QuantStrategy s);  // "tensor", "channel", ...
const char* sparsity_format_name(SparsityFormat f);// "dense" / "sparse-24-bitmask"
std::string describe(const QuantArgs& q);          // "int8 channel static symmetric"

}  // namespace ctk
