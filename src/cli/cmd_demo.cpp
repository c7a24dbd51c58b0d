// ctk demo (= make run): every layer configuration on built-in, seeded data.
//
// For each configuration it makes a synthetic weight, encodes it in memory exactly as
// a compressed-tensors checkpoint stores it (sparse-24-bitmask or dense; int8/fp8
// weights with scales; mxfp4-pack-quantized), loads it shard by shard (q/k/v-style),
// processes and applies the layer, and prints one row:
//   err vs ref : max |out - reference| in output ulps at the largest |output|; on the GPU
//                the reference is the same layer on the CPU backend (they may differ by the
//                fp32 summation order only: checked as ||gpu - cpu|| <= 2 u_out ||cpu||); on
//                the CPU it is the dense (decompressed / dequantized) reference path, which
//                must agree exactly
//   rel err fp64: ||out - x W^T||/||x W^T|| against the unquantized weight in fp64, i.e.
//                what the scheme itself costs in accuracy
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>

#include "cli/commands.h"
#include "core/random.h"
#include "layers/mxfp4_linear.h"
#include "layers/sparse24_linear.h"
#include "ref/gemm.h"
#include "ref/mxfp4.h"
#include "ref/quant.h"
#include "ref/sparse24.h"
#include "ref/tensor_math.h"
#include "ref/weight_quant.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ctk::cli {
namespace {

struct DemoConfig {
    const char* name;
    enum Kind { Sparse, W8A8, Mxfp4 } kind;
    DType act;                    // activation / output dtype
    SparsityFormat format;        // 2:4 checkpoint format
    DType wdtype;                 // W8A8 weight dtype (i8 / f8e4m3)
    bool channel;                 // W8A8 per-channel weight scales (else per tensor)
    bool dynamic;                 // W8A8 dynamic per-token inputs (else static per tensor)
};

const DemoConfig kConfigs[] = {
    {"sparse24 f16 (bitmask)", DemoConfig::Sparse, DType::F16, SparsityFormat::Sparse24Bitmask, DType::F16, false, false},
    {"sparse24 bf16 (dense)", DemoConfig::Sparse, DType::BF16, SparsityFormat::Dense, DType::BF16, false, false},
    {"w8a8 int8 channel/token", DemoConfig::W8A8, DType::BF16, SparsityFormat::Sparse24Bitmask, DType::I8, true, true},
    {"w8a8 int8 tensor/static", DemoConfig::W8A8, DType::F16, SparsityFormat::Dense, DType::I8, false, false},
    {"w8a8 fp8 channel/token", DemoConfig::W8A8, DType::BF16, SparsityFormat::Sparse24Bitmask, DType::F8E4M3, true, true},
    {"w8a8 fp8 tensor/static", DemoConfig::W8A8, DType::BF16, SparsityFormat::Dense, DType::F8E4M3, false, false},
    {"mxfp4 bf16", DemoConfig::Mxfp4, DType::BF16, SparsityFormat::Dense, DType::U8, false, false},
    {"mxfp4 f16", DemoConfig::Mxfp4, DType::F16, SparsityFormat::Dense, DType::U8, false, false},
};

Tensor random_tensor(Rng& rng, DType t, const Shape& s, float stddev) {
    Tensor f = Tensor::empty(DType::F32, s);
    float* p = f.data<float>();
    for (int64_t i = 0; i < f.numel(); ++i) p[i] = stddev * rng.normal();
    return ref::from_f32(f, t);
}

// ||a - b|| / ||b|| with b in fp64.
double rel_err(const Tensor& a, const std::vector<double>& b) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        double d = ref::load_f32(a, i) - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    return std::sqrt(num / den);
}

// Largest |a - b| over the elements, in units of the last place of the output dtype at
// the largest |b| (the scale of the output: a per-element ulp would blow up on outputs
// that happen to be near zero, where any summation-order difference is many of their ulps).
double max_ulp_diff(const Tensor& a, const Tensor& b) {
    double worst = 0, bmax = 0;
    const int mant = a.dtype == DType::F16 ? 10 : 7;
    for (int64_t i = 0; i < a.numel(); ++i) {
        double x = ref::load_f32(a, i), y = ref::load_f32(b, i);
        if (std::isnan(x) != std::isnan(y)) return INFINITY;
        if (std::isnan(x)) continue;
        worst = std::fmax(worst, std::fabs(x - y));
        bmax = std::fmax(bmax, std::fabs(y));
    }
    return bmax > 0 ? worst / std::ldexp(1.0, std::ilogb(bmax) - mant) : worst;
}

// x W^T + b in fp64 against the unquantized (pruned) weight.
std::vector<double> fp64_matmul(const Tensor& x, const Tensor& w_f32, const Tensor& bias) {
    const int64_t M = x.size(0), K = x.size(1), N = w_f32.size(0);
    std::vector<double> out(M * N);
    const float* W = w_f32.data<float>();
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            double acc = bias.defined() ? ref::load_f32(bias, n) : 0.0;
            for (int64_t k = 0; k < K; ++k) acc += double(ref::load_f32(x, m * K + k)) * W[n * K + k];
            out[m * N + n] = acc;
        }
    return out;
}

double seconds_of(const std::function<void()>& fn) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct DemoRow {
    double err_ref = 0, rel_fp64 = 0, ms = 0;
    bool ok = true;
};

// Runs the layer on `backend`: the output (on the host) and its time in ms (GPU: median
// of CUDA events; CPU: one wall-clock run).
template <class Layer>
Tensor timed_apply(const Layer& layer, Backend backend, const Tensor& x, const Tensor& bias, double* ms) {
    if (backend == Backend::CPU) {
        Tensor out;
        *ms = 1e3 * seconds_of([&] { out = apply(layer, x, bias); });
        return out;
    }
#if CTK_HAVE_CUDA
    Tensor xd = cuda::to_device(x), bd = cuda::to_device(bias), out;
    *ms = cuda::time_median_ms([&] { out = apply(layer, xd, bd); }, cuda::TimingOptions{3, 20, true});
    return cuda::to_host(out);
#else
    throw Error("demo: no GPU kernels in this build");
#endif
}

// ||a - b|| / ||b||.
double rel_diff(const Tensor& a, const Tensor& b) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        double x = ref::load_f32(a, i), y = ref::load_f32(b, i);
        num += (x - y) * (x - y);
        den += y * y;
    }
    return std::sqrt(num / den);
}

// GPU vs CPU layer: both sum in fp32 (in different orders) and round once, so elements
// differ by about one output rounding at most: ||gpu - cpu|| <= 2 u_out ||cpu||.
bool gpu_agrees(const Tensor& gpu, const Tensor& cpu) {
    double u_out = gpu.dtype == DType::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
    return rel_diff(gpu, cpu) <= 2 * u_out;
}

// Runs the layer that build(backend) makes, times it, and measures its error against the
// unquantized weight in fp64; on the GPU also against the same layer on the CPU backend.
template <class Build>
DemoRow measure(const Build& build, Backend backend, const Tensor& x, const Tensor& w, const Tensor& bias,
                Tensor* out) {
    DemoRow row;
    *out = timed_apply(build(backend), backend, x, bias, &row.ms);
    row.rel_fp64 = rel_err(*out, fp64_matmul(x, w, bias));
    if (backend == Backend::CUDA) {
        Tensor cpu = apply(build(Backend::CPU), x, bias);
        row.err_ref = max_ulp_diff(*out, cpu);
        row.ok = gpu_agrees(*out, cpu);
    }
    return row;
}

// Loads `full` into the layer as three row shards (like q/k/v), through `load_fn`.
template <class Layer>
void load_sharded(Layer& layer, const std::string& name, const Tensor& full) {
    int64_t row0 = 0;
    for (size_t s = 0; s < layer.params.widths.size(); ++s) {
        int64_t w = layer.params.widths[s];
        load(layer, name, full.rows(row0, row0 + w).clone(), static_cast<int>(s));
        row0 += w;
    }
}

DemoRow run_sparse24(const DemoConfig& c, Backend backend, int64_t M, int64_t N, int64_t K, Rng& rng) {
    std::vector<int64_t> widths = {N / 2, N / 4, N - N / 2 - N / 4};
    Tensor w = ref::prune_24(random_tensor(rng, DType::F32, {N, K}, 0.05f));
    Tensor x = random_tensor(rng, c.act, {M, K}, 1.0f);
    Tensor bias = random_tensor(rng, c.act, {N}, 0.1f);

    std::optional<QuantArgs> wq, iq;
    Tensor stored = ref::from_f32(w, c.act);  // sparse-only: the weight in the model dtype
    Tensor wscale, iscale;
    if (c.kind == DemoConfig::W8A8) {
        QuantType type = c.wdtype == DType::I8 ? QuantType::Int : QuantType::Float;
        wq = QuantArgs{8, type, c.channel ? QuantStrategy::Channel : QuantStrategy::Tensor, false, true, 0};
        iq = QuantArgs{8, type, c.dynamic ? QuantStrategy::Token : QuantStrategy::Tensor, c.dynamic, true, 0};
        ref::QuantizedWeight qw = ref::quantize_weight_8bit(w, c.wdtype, c.channel);
        stored = qw.q;
        wscale = qw.scale;
        if (!c.dynamic) {  // a calibration scale from this very batch, as an observer would record
            float amax = 0;
            for (int64_t i = 0; i < x.numel(); ++i) amax = std::fmax(amax, std::fabs(ref::load_f32(x, i)));
            iscale = Tensor::empty(DType::F32, {1});
            iscale.data<float>()[0] = amax / (c.wdtype == DType::I8 ? 127.0f : 448.0f);
        }
    }
    auto build = [&](Backend b) {
        Sparse24Linear layer = make_sparse24_linear(wq, iq, SparsityArgs{c.format, "2:4"}, b);
        create_weights(layer, widths, K, c.act);
        if (c.format == SparsityFormat::Sparse24Bitmask) {
            ref::Bitmask24 bm = ref::bitmask_encode(stored);
            load_sharded(layer, "compressed", bm.compressed);
            load_sharded(layer, "bitmask", bm.bitmask);
            for (size_t s = 0; s < widths.size(); ++s) {
                Tensor shape = Tensor::empty(DType::I64, {2, 1});
                shape.data<int64_t>()[0] = widths[s];
                shape.data<int64_t>()[1] = K;
                load(layer, "shape", shape, static_cast<int>(s));
            }
        } else {
            load_sharded(layer, "weight", stored);
        }
        if (wq) {
            if (c.channel) load_sharded(layer, "weight_scale", wscale);
            else
                for (size_t s = 0; s < widths.size(); ++s) load(layer, "weight_scale", wscale, static_cast<int>(s));
            if (!c.dynamic) load(layer, "input_scale", iscale);
        }
        process_weights_after_loading(layer);
        return layer;
    };

    Tensor out;
    DemoRow row = measure(build, backend, x, w, bias, &out);
    if (backend == Backend::CUDA) return row;  // compared with the CPU layer already

    // Dense reference path: quantize x the same way, dense scaled GEMM on the stored weight.
    Tensor dense_out;
    if (!wq) {
        dense_out = ref::scaled_gemm(x, stored, Tensor(), Tensor(), bias, c.act);
    } else {
        ref::QuantResult q = c.wdtype == DType::I8
                                 ? (c.dynamic ? ref::quant_int8_dynamic_per_token(x)
                                              : ref::quant_int8_static(x, iscale.data<float>()[0]))
                                 : (c.dynamic ? ref::quant_fp8_dynamic_per_token(x)
                                              : ref::quant_fp8_static(x, iscale.data<float>()[0]));
        dense_out = ref::scaled_gemm(q.q, stored, q.scale, wscale, bias, c.act);
    }
    row.err_ref = max_ulp_diff(out, dense_out);
    row.ok = row.err_ref == 0.0;  // the sparse path must equal the dense path exactly
    return row;
}

DemoRow run_mxfp4(const DemoConfig& c, Backend backend, int64_t M, int64_t N, int64_t K, Rng& rng) {
    std::vector<int64_t> widths = {N / 2, N - N / 2};  // gate / up
    Tensor w = random_tensor(rng, DType::F32, {N, K}, 0.05f);
    Tensor x = random_tensor(rng, c.act, {M, K}, 1.0f);
    Tensor bias = random_tensor(rng, c.act, {N}, 0.1f);
    ref::Mxfp4Weight q = ref::mxfp4_quantize(w, MxScaleRule::Even);

    auto build = [&](Backend b) {
        Mxfp4Linear layer = make_mxfp4_linear(QuantArgs{4, QuantType::Float, QuantStrategy::Group, false, true, 32}, b);
        create_weights(layer, widths, K, c.act);
        load_sharded(layer, "weight_packed", q.packed);
        load_sharded(layer, "weight_scale", q.scales);
        process_weights_after_loading(layer);
        return layer;
    };

    Tensor out;
    DemoRow row = measure(build, backend, x, w, bias, &out);
    if (backend == Backend::CUDA) return row;  // compared with the CPU layer already
    // Reference path: dequantize to fp32, then the plain scaled GEMM in fp32 operands.
    Tensor wdq = ref::mxfp4_dequantize(q, DType::F32);
    std::vector<double> exact_dq = fp64_matmul(x, wdq, bias);
    Tensor ref_out = Tensor::empty(c.act, {M, N});
    for (int64_t i = 0; i < M * N; ++i) ref::store_f32(ref_out, i, static_cast<float>(exact_dq[i]));
    row.err_ref = max_ulp_diff(out, ref_out);
    // The reference rounds an fp64 sum, the layer an fp32 sum: at most one ulp apart.
    row.ok = row.err_ref <= 1.0;
    return row;
}

}  // namespace

int cmd_demo(const Args& args) {
    if (wants_help(args)) {
        std::printf(
            "usage: ctk demo [--cpu]\n"
            "Builds every layer configuration from seeded synthetic weights, encodes it in the\n"
            "compressed-tensors layout, loads, processes and applies it, and prints its error.\n"
            "Runs on the GPU when one is present (checked against the CPU layer), else on the\n"
            "CPU reference path at a small size. --cpu forces the CPU path.\n");
        return 0;
    }
    bool force_cpu = false;
    for (const auto& a : args) {
        CTK_CHECK(a == "--cpu", "demo: unknown option '", a, "' (see ctk demo --help)");
        force_cpu = true;
    }
    Backend backend = Backend::CPU;
    std::string why = "forced with --cpu";
#if CTK_HAVE_CUDA
    if (!force_cpu) {
        if (cuda::device_count() > 0) backend = Backend::CUDA;
        else why = "no CUDA device found";
    }
#else
    if (!force_cpu) why = "this build has no GPU kernels (nvcc was not found)";
#endif
    const bool gpu = backend == Backend::CUDA;
    const int64_t M = 16, N = gpu ? 4096 : 256, K = gpu ? 4096 : 512;
#if CTK_HAVE_CUDA
    if (gpu) std::printf("ctk demo: GPU path on %s, M x N x K = %lldx%lldx%lld\n", cuda::device_description().c_str(),
                         (long long)M, (long long)N, (long long)K);
#endif
    if (!gpu)
        std::printf("ctk demo: CPU reference path (%s), small size M x N x K = %lldx%lldx%lld\n", why.c_str(),
                    (long long)M, (long long)N, (long long)K);
    std::printf("err vs ref: max |out - reference| in ulps of the largest output (%s)\n",
                gpu ? "GPU layer vs the same layer on the CPU reference backend"
                    : "CPU: sparse/packed path vs dense reference path");
    std::printf("rel err fp64: ||out - x W^T|| / ||x W^T|| against the unquantized weight in fp64\n");
    std::printf("time: %s\n\n", gpu ? "median of CUDA events of apply() (quantize + GEMM), L2 flushed"
                                      : "one wall-clock run of apply() on the CPU reference");
    std::printf("| config | M x N x K | backend | err vs ref (ulp) | rel err fp64 | time ms |\n");
    std::printf("|---|---|---|---|---|---|\n");
    int failures = 0;
    for (const DemoConfig& c : kConfigs) {
        Rng rng(1234);
        DemoRow r = c.kind == DemoConfig::Mxfp4 ? run_mxfp4(c, backend, M, N, K, rng)
                                                : run_sparse24(c, backend, M, N, K, rng);
        failures += !r.ok;
        std::printf("| %s | %lldx%lldx%lld | %s | %.2f%s | %.2e | %.3f |\n", c.name, (long long)M, (long long)N,
                    (long long)K, backend_name(backend), r.err_ref, r.ok ? "" : " FAIL", r.rel_fp64, r.ms);
        std::fflush(stdout);
    }
    std::printf("\n%s\n", failures ? "demo: some configurations disagree with the reference"
                                    : "demo: all configurations agree with the reference");
    return failures ? 1 : 0;
}

}  // namespace ctk::cli
