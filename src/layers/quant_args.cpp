#include "layers/quant_args.h"

#include "core/error.h"

namespace ctk {

const char* quant_type_name(QuantType t) { return t == QuantType::Int ? "int" : "float"; }

const char* quant_strategy_name(QuantStrategy s) {
    switch (s) {
        case QuantStrategy::Tensor: return "tensor";
        case QuantStrategy::Channel: return "channel";
        case QuantStrategy::Group: return "group";
        case QuantStrategy::Token: return "token";
        case QuantStrategy::Block: return "block";
        case QuantStrategy::TensorGroup: return "tensor_group";
    }
    return "?";
}

const char* sparsity_format_name(SparsityFormat f) {
    return f == SparsityFormat::Dense ? "dense" : "sparse-24-bitmask";
}

std::string describe(const QuantArgs& q) {
    std::string s = cat(quant_type_name(q.type), q.num_bits, " ", quant_strategy_name(q.strategy));
    if (q.strategy == QuantStrategy::Group) s += cat(" (group ", q.group_size, ")");
    s += q.dynamic ? " dynamic" : " static";
    s += q.symmetric ? " symmetric" : " asymmetric";
    return s;
}

}  // namespace ctk
