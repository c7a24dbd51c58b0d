// Building a layer from checkpoint tensors through the layer API (load_layer.h).
#include "io/load_layer.h"

#include <cstring>

#include "ref/gemm.h"
#include "ref/tensor_math.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk::io {

namespace {

Tensor convert_float(const Tensor& t, DType to) {
    if (t.dtype == to) return t;
    return ref::from_f32(ref::to_f32(t), to);
}

// A float weight or bias in the activation dtype, refused when a value there is NaN or Inf.
// Checked after the conversion, so a finite f32 1e5 that is Inf in f16 is caught too, and
// the message then says the value was rounded.
Tensor to_params_dtype(const Tensor& t, DType to, const char* what) {
    Tensor v = convert_float(t, to);
    ref::check_finite(v, t.dtype == to ? std::string(what) : cat(what, " rounded to ", dtype_name(to)));
    return v;
}

// Every 4-bit group of a sparse-24-bitmask must flag exactly 2 columns. Checked per
// shard so the error names the shard's tensor (and its own row numbers).
void check_bitmask_nibbles(const Tensor& bitmask) {
    CTK_CHECK(bitmask.dtype == DType::U8 && bitmask.ndim() == 2, "bitmask: expected u8 [N, K/8], found ",
              bitmask.describe());
    const uint8_t* b = bitmask.data<uint8_t>();
    const int64_t rows = bitmask.size(0), cols = bitmask.size(1);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            for (int half = 0; half < 2; ++half) {
                int nibble = (b[r * cols + c] >> (4 * half)) & 0xF;
                int bits = __builtin_popcount(static_cast<unsigned>(nibble));
                CTK_CHECK(bits == 2, "bitmask: row ", r, ", group ", 2 * c + half, " (columns ", 8 * c + 4 * half, "..",
                          8 * c + 4 * half + 3, ") has ", bits, " bits set; 2:4 needs exactly 2");
            }
}

}  // namespace

LoadedLayer load_layer(const Checkpoint& ck, const std::string& name, Backend backend, DType params_dtype) {
    const LinearLayer& desc = ck.layer(name);
    const std::string where = cat(ck.dir, ": layer ", desc.name);
    CTK_CHECK(desc.scheme.kind != SchemeKind::Unsupported, where, ": unsupported scheme: ", desc.scheme.reason);
    CTK_CHECK(desc.problem.empty(), where, ": ", desc.problem);
    CTK_CHECK(params_dtype == DType::F16 || params_dtype == DType::BF16, where,
              ": activations must be f16 or bf16, found ", dtype_name(params_dtype));

    LoadedLayer out;
    out.desc = desc;
    out.backend = backend;
    out.params_dtype = params_dtype;
    const SafetensorsDir& st = ck.tensors;
    const LayerScheme& s = desc.scheme;
    const int shards = static_cast<int>(desc.shards.size());

    // Loads `param` of every shard through `load_fn`, naming the tensor and its file on error.
    auto load_all = [&](const std::string& param, auto&& load_fn) {
        for (int i = 0; i < shards; ++i) {
            std::string tname = desc.shards[i] + "." + param;
            try {
                load_fn(st.load(tname), i);
            } catch (const Error& e) {
                throw Error(cat(where, ": tensor '", tname, "' (", st.file_of(tname).path(), "): ", e.what()));
            }
        }
    };
    auto process = [&](auto&& fn) {
        try {
            fn();
        } catch (const Error& e) {
            throw Error(cat(where, ": ", e.what()));
        }
    };

    if (s.kind == SchemeKind::Sparse24) {
        process([&] {
            out.sparse24 = make_sparse24_linear(s.weight_quant, s.input_quant, s.sparsity, backend);
            create_weights(*out.sparse24, desc.logical_widths, desc.in_features, params_dtype);
        });
        Sparse24Linear& layer = *out.sparse24;
        std::vector<std::string> names;  // copied: loading mutates the parameter map's values
        for (const auto& kv : layer.params.tensors) names.push_back(kv.first);
        for (const std::string& p : names) {
            // Float weights (sparse-only) become params_dtype and scales f32, as vLLM's
            // weight loader converts when it copies into its parameters.
            bool float_weight = !layer.quantized() && (p == "weight" || p == "compressed");
            bool scale = p == "weight_scale" || p == "input_scale";
            load_all(p, [&](const Tensor& t, int shard) {
                if (p == "bitmask") check_bitmask_nibbles(t);
                Tensor v = float_weight ? to_params_dtype(t, params_dtype, p.c_str()) : scale ? convert_float(t, DType::F32) : t;
                load(layer, p, v, shard);
            });
        }
        process([&] { process_weights_after_loading(layer); });
    } else if (s.kind == SchemeKind::Mxfp4) {
        process([&] {
            out.mxfp4 = make_mxfp4_linear(*s.weight_quant, backend);
            create_weights(*out.mxfp4, desc.logical_widths, desc.in_features, params_dtype);
        });
        for (const char* p : {"weight_packed", "weight_scale"})
            load_all(p, [&](const Tensor& t, int shard) { load(*out.mxfp4, p, t, shard); });
        process([&] { process_weights_after_loading(*out.mxfp4); });
    } else {
        CTK_CHECK(backend == Backend::CPU, where,
                  ": unquantized layers run on the CPU reference only (ctk has kernels for the 2:4 and MXFP4 schemes)");
        std::vector<Tensor> parts;
        load_all("weight", [&](const Tensor& t, int) { parts.push_back(to_params_dtype(t, params_dtype, "weight")); });
        out.dense_weight = concat_rows(parts);
    }

    if (desc.has_bias) {
        std::vector<Tensor> parts;
        load_all("bias", [&](const Tensor& t, int shard) {
            CTK_CHECK(t.ndim() == 1 && t.shape[0] == desc.logical_widths[shard], "bias: expected shape [",
                      desc.logical_widths[shard], "], found ", shape_str(t.shape));
            CTK_CHECK(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16,
                      "bias: expected a float dtype, found ", dtype_name(t.dtype));
            parts.push_back(to_params_dtype(t, params_dtype, "bias"));
        });
        out.bias = concat_rows(parts);
#if CTK_HAVE_CUDA
        if (backend == Backend::CUDA) out.bias = cuda::to_device(out.bias);
#endif
    }
    return out;
}

Tensor apply(const LoadedLayer& layer, const Tensor& x) {
    if (layer.sparse24) return apply(*layer.sparse24, x, layer.bias);
    if (layer.mxfp4) return apply(*layer.mxfp4, x, layer.bias);
    CTK_CHECK(x.ndim() == 2 && x.size(1) == layer.desc.in_features, "x: expected shape [M, ",
              layer.desc.in_features, "], found ", shape_str(x.shape));
    return ref::scaled_gemm(x, layer.dense_weight, Tensor(), Tensor(), layer.bias, layer.params_dtype);
}

}  // namespace ctk::io
