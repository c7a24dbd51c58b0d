// ctk run DIR --layer NAME: one layer of a checkpoint through create/load/process/apply
// (io/load_layer.h), on random (seeded) or given input; the CPU layer is the reference.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "core/random.h"
#include "io/load_layer.h"
#include "ref/mxfp4.h"
#include "ref/sparse24.h"
#include "ref/tensor_math.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk::cli {

static const char* kRunHelp =
    "usage: ctk run DIR --layer NAME [options]\n"
    "\n"
    "Loads one linear layer of a compressed-tensors model folder the way vLLM does\n"
    "(create_weights, per-shard load, process_weights_after_loading), applies it to x,\n"
    "and prints the time and the error: on cuda against the CPU reference layer, and\n"
    "always against x W^T in fp64 with the dequantized weight (what the scheme costs).\n"
    "\n"
    "options:\n"
    "  --layer NAME            vLLM layer name (e.g. model.layers.0.self_attn.qkv_proj) or a shard's\n"
    "  --tokens M              rows of random x (default 16)\n"
    "  --device cpu|cuda       where to run (default cpu)\n"
    "  --input x.safetensors   x from a file: its only tensor (or \"x\"), [M, K] f32/f16/bf16\n"
    "  --output y.safetensors  write the result as tensor \"y\"\n"
    "  --seed S                seed of the random x (default 1)\n"
    "  --dtype bf16|f16        activation dtype (default: the model's torch_dtype)\n";

namespace {

Tensor read_input(const std::string& path, int64_t K, DType dtype) {
    io::SafetensorsFile f = io::SafetensorsFile::open(path);
    const io::TensorInfo* t = f.find("x");
    if (!t) {
        CTK_CHECK(f.tensors().size() == 1, path, ": expected one tensor or one named \"x\", found ",
                  f.tensors().size(), " tensors");
        t = &f.tensors()[0];
    }
    CTK_CHECK(t->shape.size() == 2 && t->shape[1] == K, path, ": tensor '", t->name, "': expected shape [M, ", K,
              "], found ", shape_str(t->shape));
    CTK_CHECK(t->dtype == DType::F32 || t->dtype == DType::F16 || t->dtype == DType::BF16, path, ": tensor '",
              t->name, "': expected f32, f16 or bf16, found ", dtype_name(t->dtype));
    Tensor x = f.load(t->name);
    ref::check_finite(x, cat(path, ": tensor '", t->name, "'"));
    if (x.dtype == dtype) return x;
    // A finite f32 can still round to Inf in the activation dtype (1e5 in f16).
    Tensor converted = ref::from_f32(ref::to_f32(x), dtype);
    ref::check_finite(converted, cat(path, ": tensor '", t->name, "' rounded to ", dtype_name(dtype)));
    return converted;
}

// The layer's weight as dense fp32 [N, K] (scales applied), for the fp64 comparison.
Tensor dequantized_weight(const io::LoadedLayer& l) {
    if (l.mxfp4) return ref::mxfp4_dequantize(l.mxfp4->weight_cpu, DType::F32);
    if (!l.sparse24) return ref::to_f32(l.dense_weight);
    Tensor w = ref::to_f32(ref::decompress_24(l.sparse24->weight_cpu));
    if (l.sparse24->quantized()) {
        const int64_t N = w.size(0), K = w.size(1);
        const float* s = l.sparse24->weight_scale.data<float>();
        for (int64_t n = 0; n < N; ++n)
            for (int64_t k = 0; k < K; ++k) w.data<float>()[n * K + k] *= s[l.sparse24->weight_scale.numel() == 1 ? 0 : n];
    }
    return w;
}

// ||y - x W^T - b|| / ||x W^T + b|| with the reference in fp64.
double rel_err_fp64(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias) {
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    double num = 0, den = 0;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            double acc = bias.defined() ? ref::load_f32(bias, n) : 0.0;
            for (int64_t k = 0; k < K; ++k)
                acc += static_cast<double>(ref::load_f32(x, m * K + k)) * w.data<float>()[n * K + k];
            double d = ref::load_f32(y, m * N + n) - acc;
            num += d * d;
            den += acc * acc;
        }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace

int cmd_run(const Args& args) {
    if (wants_help(args)) {
        std::fputs(kRunHelp, stdout);
        return 0;
    }
    ParsedArgs p = parse_args(args, "run", {"--layer", "--tokens", "--device", "--input", "--output", "--seed", "--dtype"},
                              {});
    if (p.positional.size() != 1 || !p.has("--layer")) {
        std::fprintf(stderr, "ctk run: expected a model folder and --layer NAME\n\n%s", kRunHelp);
        return 2;
    }
    const bool cuda = p.get_choice("--device", "cpu", {"cpu", "cuda"}) == "cuda";
    CTK_CHECK(!(p.has("--input") && p.has("--tokens")), "--tokens: the row count comes from --input");
    const int64_t M = p.get_int("--tokens", 16, 1, 1 << 20);
    const uint64_t seed = static_cast<uint64_t>(p.get_int("--seed", 1, 0, INT64_MAX));
    if (cuda) require_backend(Backend::CUDA);

    io::Checkpoint ck = io::open_checkpoint(p.positional[0]);
    DType dtype = ck.params_dtype;
    if (p.has("--dtype")) dtype = p.get_choice("--dtype", "", {"bf16", "f16"}) == "bf16" ? DType::BF16 : DType::F16;
    std::fprintf(stderr, "loading %s ...\n", p.get("--layer").c_str());
    io::LoadedLayer ref_layer = io::load_layer(ck, p.get("--layer"), Backend::CPU, dtype);
    const io::LinearLayer& d = ref_layer.desc;
    const int64_t K = d.in_features, N = d.out_features();

    Tensor x;
    if (p.has("--input")) {
        x = read_input(p.get("--input"), K, dtype);
    } else {
        Rng rng(seed);
        Tensor f = Tensor::empty(DType::F32, {M, K});
        for (int64_t i = 0; i < f.numel(); ++i) f.data<float>()[i] = rng.normal();
        x = ref::from_f32(f, dtype);
    }
    std::printf("layer   %s (%s)\n", d.name.c_str(), d.module_class.c_str());
    std::printf("scheme  %s\n", d.scheme.describe().c_str());
    std::printf("shape   M=%lld N=%lld K=%lld, %s activations%s\n", static_cast<long long>(x.size(0)),
                static_cast<long long>(N), static_cast<long long>(K), dtype_name(dtype),
                p.has("--input") ? "" : cat(", x ~ N(0,1) seed ", seed).c_str());

    auto t0 = std::chrono::steady_clock::now();
    Tensor y_ref = io::apply(ref_layer, x);
    double cpu_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("cpu     %.3f ms (reference layer, one run)\n", cpu_ms);
    Tensor y = y_ref;

    if (cuda) {
#if CTK_HAVE_CUDA
        io::LoadedLayer dev_layer = io::load_layer(ck, d.name, Backend::CUDA, dtype);
        Tensor xd = cuda::to_device(x);
        Tensor yd;
        double ms = cuda::time_median_ms([&] { yd = io::apply(dev_layer, xd); });
        y = cuda::to_host(yd);
        double worst = 0;
        int64_t differ = 0;
        for (int64_t i = 0; i < y.numel(); ++i) {
            double e = std::fabs(static_cast<double>(ref::load_f32(y, i)) - ref::load_f32(y_ref, i));
            worst = std::fmax(worst, e);
            differ += e != 0.0;
        }
        std::printf("cuda    %.4f ms (median of CUDA events, L2 flushed)\n", ms);
        std::printf("max |cuda - cpu| = %.4g (%lld of %lld outputs differ)\n", worst, static_cast<long long>(differ),
                    static_cast<long long>(y.numel()));
#endif
    }
    std::printf("rel err vs x W^T in fp64 (dequantized W) = %.3g\n",
                rel_err_fp64(y, x, dequantized_weight(ref_layer), ref_layer.bias));
    if (p.has("--output")) {
        io::write_safetensors(p.get("--output"), {{"y", y}}, {{"format", "pt"}});
        std::printf("wrote %s (y: %s)\n", p.get("--output").c_str(), y.describe().c_str());
    }
    return 0;
}

}  // namespace ctk::cli
