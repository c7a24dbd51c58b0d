// Layer API on the CUDA backend (suite "gpu"), with the CPU backend as the oracle.
//
// Every comparison builds the SAME layer twice from the same host checkpoint tensors, loaded
// shard by shard as vLLM's weight loader does (create_weights, load of each parameter per
// shard, process_weights_after_loading), once with Backend::CPU (the references of src/ref/)
// and once with Backend::CUDA (the kernels of cuda/ops.h), applies both to the same x (the
// host tensor, and its device copy), with and without bias, and compares the outputs:
//  - Sparse24Linear, every configuration make_sparse24_linear takes:
//      unquantized f16 and bf16, sparse-24-bitmask and dense checkpoints;
//      W8A8 int8: channel weights + dynamic per-token input, tensor (per-shard) weights +
//        static input, channel weights + dynamic "tensor" input (run per token, as vLLM does);
//      W8A8 fp8 e4m3: tensor (per-shard) weights + static input, channel weights + dynamic
//        per-token input;
//    each with both checkpoint formats and both activation dtypes. M in {1, 7, 33, 130},
//    N = 200 (fused q/k/v shards 72 + 64 + 64), K = 264 (16-bit) / 528 (8-bit): one 16-byte
//    chunk past four K tiles of the kernels (and K % 8 == 0 for the bitmask).
//  - Mxfp4Linear, bf16 and f16, M in {1, 5, 16, 40} (version 0 runs v5, v2, v5, v6),
//    N = 200 (fused gate/up shards 104 + 96), K = 1056 (the last 64-wide chunk is half full).
//  - A tensor on the wrong device (x or bias for apply, a device tensor given to load) is
//    an error naming that tensor, on both backends.
//  - An empty batch (M = 0) gives a [0, N] device tensor of the layer's dtype, as the CPU
//    backend gives a [0, N] host tensor.
// Exact or bounded: see "Tolerances" below. Every case draws its data from a fixed seed.
#if CTK_HAVE_CUDA
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "formats/formats.h"
#include "layers/mxfp4_linear.h"
#include "layers/sparse24_linear.h"
#include "ops.h"
#include "ref/mxfp4.h"
#include "ref/quant.h"
#include "ref/sparse24.h"
#include "ref/weight_quant.h"
#include "sparse24_gemm_sm90.cuh"
#include "test_util.h"
#include "test_mxfp4_util.h"

using namespace ctk;
using ctk::test::out_ulp;
using ctk::test::random_mxfp4_weight;
using ctk::test::compare_bits;
using ctk::test::elem;
using ctk::test::error_of;
using ctk::test::set_elem;

namespace {

// ---- Tolerances -------------------------------------------------------------------------
//
// Exact (compare_bits) wherever the arithmetic is exact, so that the summation order cannot
// matter:
//  - integer-valued 16-bit data (x and W in [-4, 4]): every product and partial sum is an
//    integer far below 2^24, exact in fp32 in any order;
//  - W8A8 int8 with real-valued x: the activation codes and scales are bit-identical on both
//    backends (tests/test_gpu_quant.cpp), the int32 accumulators are exact, and the GPU
//    epilogue computes ws[n] * (xs[m] * acc) + bias[n] in the reference's order (what
//    tests/test_gpu_sparse24.cpp and tests/test_gpu_sparse24_v3.cpp assert for i8);
//  - W8A8 fp8 with integer-valued data: x in [-2, 2] passes the quantizer unchanged (static
//    scale 1; dynamic: every row holds 448, so its per-token scale is 448 / 448 = 1), W codes
//    in [-3, 3], so |partial sums| <= 448 * 3 + 2 * 3 * 263 < 2^12: exact even in the fp8
//    tensor cores' narrower accumulator; the epilogue is then the reference's;
//  - MXFP4 with integer x in [-4, 4], scale codes 122..127 and an integer bias (the
//    "exact arithmetic" case of tests/test_gpu_mxfp4.cpp): every product is a multiple of
//    2^-6 and every partial sum stays below 2^24 of those.
//
// Bounded otherwise (real-valued 16-bit or fp8 data): both backends multiply the same exact
// products (16-bit x 16-bit and e4m3 x e4m3 are exact in fp32) and differ only in how the
// K/2 kept products of an output are added. Let S = |xs[m] ws[n]| * sum_k |xq[m,k] wq[n,k]|
// (the quantized operands for W8A8, x and W otherwise). The layer calls sparse24_gemm with
// version 0, which runs v3 where cuda::sparse24_v3_available(), else v2; the bound is the one
// the rung's own test derives and asserts:
//  - v2 (tests/test_gpu_sparse24.cpp): the reference rounds each of its K/2 - 1 additions
//    to nearest (<= 2^-24 S each), the tensor cores may truncate (<= 2^-23 S each), so the
//    accumulators differ by at most K * 2^-23 * S: the same kSumOrderUlps = 1 as there.
constexpr double kSumOrderUlps = 1.0;  // factor on K * 2^-23 * S
//  - v3 (tests/test_gpu_sparse24_v3.cpp): f16/bf16 accumulate in fp32, counted as 2^-23
//    twice per term on each side; fp8 wgmma keeps about 14 significant bits when adding
//    into its accumulator: 2^-13 of S per 16 K, on each side.
constexpr double kV3F32AccRelPerTerm = 2.0 * 0x1p-23;
constexpr double kV3Fp8AccRelPer16K = 0x1p-13;
// Both then add 2^-21 |ref| (the two fp32 scale multiplies and the bias add, <= 2 ulp of
// fp32 each) and one ulp of the output dtype at |ref| + delta (the final roundings may
// land on either side of a 16-bit rounding boundary).
//
// MXFP4 (tests/test_gpu_mxfp4.cpp, every rung): the reference adds k in order (within
// (K - 1) u S of the exact sum, u = 2^-24), a rung's tensor cores may truncate (2 K u S),
// plus the bias add and one 16-bit ulp: |out - ref| <= 3 (K + 1) u S + ulp16(|ref|).
constexpr double kMxfp4SumOrderUlps = 3.0;  // factor on (K + 1) * 2^-24 * S

// Relative summation-order error (times S) of the rung the 2:4 layer runs, for weights of wdt.
double sparse24_sum_rel(DType wdt, int64_t K) {
    if (!cuda::sparse24_v3_available()) return kSumOrderUlps * static_cast<double>(K) * 0x1p-23;
    const double per_side = wdt == DType::F8E4M3 ? kV3Fp8AccRelPer16K * (static_cast<double>(K) / 16 + 1)
                                                 : kV3F32AccRelPerTerm * static_cast<double>(K);
    return 2.0 * per_side;
}

// ---- configurations ------------------------------------------------------------------------

const QuantArgs kInt8Channel{8, QuantType::Int, QuantStrategy::Channel, false, true, 0};
const QuantArgs kInt8Tensor{8, QuantType::Int, QuantStrategy::Tensor, false, true, 0};
const QuantArgs kInt8Token{8, QuantType::Int, QuantStrategy::Token, true, true, 0};
const QuantArgs kInt8DynTensor{8, QuantType::Int, QuantStrategy::Tensor, true, true, 0};
const QuantArgs kInt8StaticIn{8, QuantType::Int, QuantStrategy::Tensor, false, true, 0};
const QuantArgs kFp8Channel{8, QuantType::Float, QuantStrategy::Channel, false, true, 0};
const QuantArgs kFp8Tensor{8, QuantType::Float, QuantStrategy::Tensor, false, true, 0};
const QuantArgs kFp8Token{8, QuantType::Float, QuantStrategy::Token, true, true, 0};
const QuantArgs kFp8StaticIn{8, QuantType::Float, QuantStrategy::Tensor, false, true, 0};
const QuantArgs kMxfp4{4, QuantType::Float, QuantStrategy::Group, false, true, 32};

const SparsityFormat kFormats[] = {SparsityFormat::Sparse24Bitmask, SparsityFormat::Dense};
const DType kActDtypes[] = {DType::F16, DType::BF16};
const int64_t kSparse24Ms[] = {1, 7, 33, 130};
const std::vector<int64_t> kQkvWidths = {72, 64, 64};  // N = 200
const int64_t kMxfp4Ms[] = {1, 5, 16, 40};  // version 0: v5, v2, v5, v6
const std::vector<int64_t> kGateUpWidths = {104, 96};  // N = 200
const int64_t kMxfp4K = 1056;

enum class Data { Integer, Real };  // integer-valued (exact sums) or real-valued

// Runs fn, expects a ctk::Error whose message contains every fragment.
void expect_error(const std::function<void()>& fn, std::initializer_list<const char*> fragments) {
    const std::string msg = error_of(fn);
    CAPTURE(msg);
    CHECK_MESSAGE(!msg.empty(), "expected a ctk::Error");
    for (const char* f : fragments) CHECK(msg.find(f) != std::string::npos);
}

// ---- data -----------------------------------------------------------------------------------

// Integers in [-amp, amp], exact in every dtype used here.
Tensor int_tensor(DType t, const Shape& s, Rng& rng, int amp) {
    Tensor x = Tensor::empty(t, s);
    for (int64_t i = 0; i < x.numel(); ++i)
        set_elem(x, i, static_cast<float>(static_cast<int>(rng.below(2 * amp + 1)) - amp));
    return x;
}

// A 2:4 weight [N, K] of dtype t: f32 data (integers in [-amp, amp], or normal(0, 1) * scale)
// pruned in high precision by ref::prune_24, then rounded to t.
Tensor weight_24(DType t, int64_t N, int64_t K, Rng& rng, Data data, int amp = 4, float scale = 1.0f) {
    const Tensor f = data == Data::Integer ? int_tensor(DType::F32, {N, K}, rng, amp)
                                           : ctk::test::random_tensor(DType::F32, {N, K}, rng, scale);
    const Tensor p = ref::prune_24(f);
    Tensor out = Tensor::empty(t, {N, K});
    for (int64_t i = 0; i < out.numel(); ++i) set_elem(out, i, p.data<float>()[i]);
    return out;
}

Tensor scalar(float v) {
    Tensor t = Tensor::empty(DType::F32, {1});
    t.data<float>()[0] = v;
    return t;
}

Tensor to_device_or_none(const Tensor& host) { return host.defined() ? cuda::to_device(host) : Tensor(); }

// ---- Sparse24Linear -------------------------------------------------------------------------

// What a checkpoint holds for one fused 2:4 layer: the dense 2:4 weight (split into shards at
// load time, and bitmask-encoded per shard for the sparse-24-bitmask format), and per shard
// its weight scale and static input scale (W8A8 only).
struct Sparse24Checkpoint {
    std::optional<QuantArgs> wq, iq;  // both (W8A8) or neither
    SparsityFormat format = SparsityFormat::Dense;
    DType params_dtype = DType::F16;
    int64_t K = 0;
    std::vector<int64_t> widths;
    Tensor w;                          // [N, K] in the weight dtype (params dtype, i8 or f8e4m3)
    std::vector<Tensor> weight_scale;  // per shard: [rows, 1] (channel) or [1] (tensor), f32
    std::vector<Tensor> input_scale;   // per shard: [1] f32 (static input quantization)

    std::string label() const {
        return cat(wq ? describe(*wq) : std::string("unquantized"), " / ", iq ? describe(*iq) : std::string("-"), ", ",
                   sparsity_format_name(format), ", ", dtype_name(params_dtype), ", K = ", K);
    }
};

int64_t total(const std::vector<int64_t>& widths) {
    int64_t n = 0;
    for (int64_t w : widths) n += w;
    return n;
}

// The four steps, shard by shard, from host tensors.
Sparse24Linear build_sparse24(const Sparse24Checkpoint& c, Backend backend) {
    Sparse24Linear layer = make_sparse24_linear(c.wq, c.iq, SparsityArgs{c.format, "2:4"}, backend);
    create_weights(layer, c.widths, c.K, c.params_dtype);
    int64_t row0 = 0;
    for (int s = 0; s < static_cast<int>(c.widths.size()); ++s) {
        const Tensor w = c.w.rows(row0, row0 + c.widths[s]).clone();
        row0 += c.widths[s];
        if (c.format == SparsityFormat::Dense) {
            load(layer, "weight", w, s);
        } else {
            const ref::Bitmask24 bm = ref::bitmask_encode(w);
            load(layer, "compressed", bm.compressed, s);
            load(layer, "bitmask", bm.bitmask, s);
            load(layer, "shape", bm.shape, s);
        }
        if (!c.weight_scale.empty()) load(layer, "weight_scale", c.weight_scale[s], s);
        if (!c.input_scale.empty()) load(layer, "input_scale", c.input_scale[s], s);
    }
    process_weights_after_loading(layer);
    return layer;
}

// A checkpoint for the configuration (wq, iq) from a seeded generator:
//  - unquantized: W integers in [-4, 4] or normal(0, 1), rounded to the params dtype;
//  - int8, and fp8 with real-valued data: a real 2:4 weight quantized as llm-compressor does
//    (ref::quantize_weight_8bit: per channel, or per tensor for each shard on its own);
//  - fp8 with integer-valued data: codes of integers in [-3, 3], scales uniform in [0.002, 0.02];
//  - static input scales per shard, the largest of which the layer keeps: 1.0 for fp8
//    integer data (x passes unchanged), else a calibrated-looking amax / qmax for N(0, 1) x.
Sparse24Checkpoint make_sparse24_checkpoint(const std::optional<QuantArgs>& wq, const std::optional<QuantArgs>& iq,
                                            SparsityFormat format, DType params_dtype, Data data, Rng& rng) {
    Sparse24Checkpoint c;
    c.wq = wq, c.iq = iq, c.format = format, c.params_dtype = params_dtype;
    c.widths = kQkvWidths;
    c.K = wq ? 528 : 264;
    const int64_t N = total(c.widths), K = c.K;
    if (!wq) {
        c.w = weight_24(params_dtype, N, K, rng, data);
        return c;
    }
    const DType wdt = wq->type == QuantType::Int ? DType::I8 : DType::F8E4M3;
    const bool channel = wq->strategy == QuantStrategy::Channel;
    if (wdt == DType::F8E4M3 && data == Data::Integer) {
        c.w = weight_24(wdt, N, K, rng, Data::Integer, 3);
        for (int64_t rows : c.widths) {
            Tensor s = Tensor::empty(DType::F32, channel ? Shape{rows, 1} : Shape{1});
            for (int64_t i = 0; i < s.numel(); ++i) s.data<float>()[i] = rng.uniform(0.002f, 0.02f);
            c.weight_scale.push_back(s);
        }
    } else {
        const Tensor wf = weight_24(DType::F32, N, K, rng, Data::Real, 0, 0.05f);
        if (channel) {
            const ref::QuantizedWeight q = ref::quantize_weight_8bit(wf, wdt, true);
            c.w = q.q;
            int64_t row0 = 0;
            for (int64_t rows : c.widths) {
                c.weight_scale.push_back(q.scale.rows(row0, row0 + rows).clone());
                row0 += rows;
            }
        } else {
            std::vector<Tensor> parts;
            int64_t row0 = 0;
            for (int64_t rows : c.widths) {
                const ref::QuantizedWeight q = ref::quantize_weight_8bit(wf.rows(row0, row0 + rows).clone(), wdt, false);
                parts.push_back(q.q);
                c.weight_scale.push_back(q.scale);
                row0 += rows;
            }
            c.w = concat_rows(parts);
        }
    }
    if (!iq->dynamic) {
        const std::vector<float> scales = wdt == DType::F8E4M3 ? (data == Data::Integer ? std::vector<float>{0.5f, 1.0f, 0.75f}
                                                                                       : std::vector<float>{0.006f, 0.009f, 0.008f})
                                                               : std::vector<float>{0.02f, 0.03f, 0.025f};
        for (float s : scales) c.input_scale.push_back(scalar(s));
    }
    return c;
}

// x [M, K] for a checkpoint: integers in [-4, 4] (16-bit) or [-2, 2] with a 448 in every row
// (fp8: each row's per-token scale is exactly 1), or normal(0, 1).
Tensor make_x(const Sparse24Checkpoint& c, int64_t M, Data data, Rng& rng) {
    if (data == Data::Real) return ctk::test::random_tensor(c.params_dtype, {M, c.K}, rng);
    const bool fp8 = c.wq && c.wq->type == QuantType::Float;
    Tensor x = int_tensor(c.params_dtype, {M, c.K}, rng, fp8 ? 2 : 4);
    if (fp8)
        for (int64_t m = 0; m < M; ++m) set_elem(x, m * c.K + (m * 37) % c.K, 448.0f);
    return x;
}

Tensor make_bias(DType t, int64_t N, Data data, Rng& rng) {
    return data == Data::Integer ? int_tensor(t, {N}, rng, 4) : ctk::test::random_tensor(t, {N}, rng);
}

// S[m, n] = |xs[m] ws[n]| * sum_k |xq[m, k] wq[n, k]| for the operands apply() multiplies:
// x quantized as the layer does it and W's dense codes with the layer's per-channel scale
// (x and W themselves, scales 1, for the unquantized layer).
std::vector<double> sparse24_scaled_abs_sums(const Sparse24Linear& cpu_layer, const Sparse24Checkpoint& c,
                                             const Tensor& x) {
    Tensor xq = x, xs, ws;
    if (cpu_layer.quantized()) {
        const bool dyn = cpu_layer.input_quant->dynamic;
        const float s = dyn ? 0.0f : cpu_layer.input_scale.data<float>()[0];
        ref::QuantResult q;
        if (cpu_layer.weight_dtype == DType::I8)
            q = dyn ? ref::quant_int8_dynamic_per_token(x) : ref::quant_int8_static(x, s);
        else
            q = dyn ? ref::quant_fp8_dynamic_per_token(x) : ref::quant_fp8_static(x, s);
        xq = q.q, xs = q.scale, ws = cpu_layer.weight_scale;
    }
    const int64_t M = xq.size(0), K = xq.size(1), N = c.w.size(0);
    std::vector<double> ax(M * K), aw(N * K), S(M * N);
    for (int64_t i = 0; i < M * K; ++i) ax[i] = std::fabs(elem(xq, i));
    for (int64_t i = 0; i < N * K; ++i) aw[i] = std::fabs(elem(c.w, i));
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            double sum = 0;
            for (int64_t k = 0; k < K; ++k) sum += ax[m * K + k] * aw[n * K + k];
            const double sx = xs.defined() ? std::fabs(elem(xs, xs.numel() == 1 ? 0 : m)) : 1.0;
            const double sw = ws.defined() ? std::fabs(elem(ws, ws.numel() == 1 ? 0 : n)) : 1.0;
            S[m * N + n] = sx * sw * sum;
        }
    return S;
}

// Applies the CPU layer to x and the CUDA layer to device copies of x and bias: (CPU
// output, CUDA output copied to the host), after checking the CUDA output's place, shape
// and dtype. Works for both layer kinds (both have apply(layer, x, bias)).
template <class Layer>
std::pair<Tensor, Tensor> apply_both(const Layer& cpu_layer, const Layer& gpu_layer, const Tensor& x, const Tensor& bias,
                                     DType out_dtype) {
    Tensor want = apply(cpu_layer, x, bias);
    const Tensor got_dev = apply(gpu_layer, cuda::to_device(x), to_device_or_none(bias));
    REQUIRE(got_dev.device == Device::CUDA);
    Tensor got = cuda::to_host(got_dev);
    REQUIRE(got.shape == want.shape);
    REQUIRE(got.dtype == out_dtype);
    return {want, got};
}

// Applies both layers to x (and bias) and compares: bit for bit when `exact`, else within
// the summation-order bound of the rung the CUDA layer runs.
void check_sparse24_apply(const Sparse24Checkpoint& c, const Sparse24Linear& cpu_layer, const Sparse24Linear& gpu_layer,
                          const Tensor& x, const Tensor& bias, bool exact) {
    const std::string what = cat("Sparse24Linear ", c.label(), ", M = ", x.size(0), bias.defined() ? ", bias" : "");
    INFO(what);
    const auto [want, got] = apply_both(cpu_layer, gpu_layer, x, bias, c.params_dtype);
    if (exact) {
        const auto d = compare_bits(want, got, what);
        CHECK_MESSAGE(d.ok(), d.report);
        return;
    }
    const std::vector<double> S = sparse24_scaled_abs_sums(cpu_layer, c, x);
    const double rel = sparse24_sum_rel(cpu_layer.weight_dtype, c.K);
    const int64_t N = want.size(1);
    int64_t bad = 0;
    double max_err = 0;
    std::string first;
    for (int64_t i = 0; i < want.numel(); ++i) {
        const double r = elem(want, i), g = elem(got, i);
        const double delta = rel * S[i] + std::ldexp(std::fabs(r), -21);
        const double tol = delta + out_ulp(c.params_dtype, std::fabs(r) + delta);
        const double err = std::fabs(g - r);
        if (!std::isnan(err)) max_err = std::max(max_err, err);
        if (!(err <= tol) && ++bad <= 5)
            first += cat("\n  at (", i / N, ", ", i % N, "): cpu ", r, ", cuda ", g, ", tol ", tol);
    }
    CHECK_MESSAGE(bad == 0, what, ": ", bad, " outputs outside the summation-order bound, max abs err ", max_err, first);
}

// One configuration: both formats, both activation dtypes, every M, bias off and on.
void check_sparse24_config(const std::optional<QuantArgs>& wq, const std::optional<QuantArgs>& iq, Data data,
                           uint64_t seed) {
    const bool int8 = wq && wq->type == QuantType::Int;
    const bool exact = data == Data::Integer || int8;
    for (SparsityFormat format : kFormats)
        for (DType dt : kActDtypes) {
            Rng rng(++seed);
            const Sparse24Checkpoint c = make_sparse24_checkpoint(wq, iq, format, dt, data, rng);
            const Sparse24Linear cpu_layer = build_sparse24(c, Backend::CPU);
            const Sparse24Linear gpu_layer = build_sparse24(c, Backend::CUDA);
            CHECK(gpu_layer.backend == Backend::CUDA);
            CHECK(gpu_layer.out_features() == total(c.widths));
            for (int64_t M : kSparse24Ms) {
                const Tensor x = make_x(c, M, data, rng);
                const Tensor bias = make_bias(dt, total(c.widths), data, rng);
                check_sparse24_apply(c, cpu_layer, gpu_layer, x, Tensor(), exact);
                check_sparse24_apply(c, cpu_layer, gpu_layer, x, bias, exact);
            }
        }
}

// fp8 2:4 needs wgmma.sp (sm_90): say so instead of failing on an older device.
bool fp8_runs_here() {
    if (cuda::device_capability() >= 90) return true;
    MESSAGE("fp8 2:4 layers need sm_90 (min_capability 90); this device is sm_", cuda::device_capability(),
            ": fp8 cases skipped");
    return false;
}

// ---- Mxfp4Linear ------------------------------------------------------------------------------

Mxfp4Linear build_mxfp4(const ref::Mxfp4Weight& w, const std::vector<int64_t>& widths, int64_t K, DType dt,
                        Backend backend) {
    Mxfp4Linear layer = make_mxfp4_linear(kMxfp4, backend);
    create_weights(layer, widths, K, dt);
    int64_t row0 = 0;
    for (int s = 0; s < static_cast<int>(widths.size()); ++s) {
        load(layer, "weight_packed", w.packed.rows(row0, row0 + widths[s]).clone(), s);
        load(layer, "weight_scale", w.scales.rows(row0, row0 + widths[s]).clone(), s);
        row0 += widths[s];
    }
    process_weights_after_loading(layer);
    return layer;
}

void check_mxfp4_apply(const Mxfp4Linear& cpu_layer, const Mxfp4Linear& gpu_layer, const ref::Mxfp4Weight& w,
                       const Tensor& x, const Tensor& bias, bool exact) {
    const DType dt = x.dtype;
    const std::string what = cat("Mxfp4Linear ", dtype_name(dt), ", M = ", x.size(0), bias.defined() ? ", bias" : "",
                                 exact ? ", exact data" : ", real-valued data");
    INFO(what);
    const auto [want, got] = apply_both(cpu_layer, gpu_layer, x, bias, dt);
    if (exact) {
        const auto d = compare_bits(want, got, what);
        CHECK_MESSAGE(d.ok(), d.report);
        return;
    }
    // S[m, n] = sum_k |x[m, k] w[n, k]| with the dequantized weight (exact in f32).
    const Tensor wf = ref::mxfp4_dequantize(w);
    const int64_t M = x.size(0), K = x.size(1), N = wf.size(0);
    std::vector<double> ax(M * K);
    for (int64_t i = 0; i < M * K; ++i) ax[i] = std::fabs(elem(x, i));
    int64_t bad = 0;
    double max_err = 0;
    std::string first;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
            double S = 0;
            for (int64_t k = 0; k < K; ++k) S += ax[m * K + k] * std::fabs(wf.data<float>()[n * K + k]);
            const int64_t i = m * N + n;
            const double r = elem(want, i), g = elem(got, i);
            const double tol = kMxfp4SumOrderUlps * static_cast<double>(K + 1) * 0x1p-24 * S + out_ulp(dt, std::fabs(r));
            const double err = std::fabs(g - r);
            if (!std::isnan(err)) max_err = std::max(max_err, err);
            if (!(err <= tol) && ++bad <= 5) first += cat("\n  at (", m, ", ", n, "): cpu ", r, ", cuda ", g, ", tol ", tol);
        }
    CHECK_MESSAGE(bad == 0, what, ": ", bad, " outputs outside the summation-order bound, max abs err ", max_err, first);
}

void check_empty_output(const Tensor& out, DType dt, int64_t N, Device device) {
    CHECK(out.shape == Shape{0, N});
    CHECK(out.dtype == dt);
    CHECK(out.device == device);
}

}  // namespace

TEST_SUITE("gpu") {

TEST_CASE("layers gpu: Sparse24Linear unquantized f16/bf16, bitmask and dense, CUDA equals CPU") {
    // Integer-valued data: bit for bit. Real-valued: within the summation-order bound.
    check_sparse24_config(std::nullopt, std::nullopt, Data::Integer, 61000);
    check_sparse24_config(std::nullopt, std::nullopt, Data::Real, 61100);
}

TEST_CASE("layers gpu: Sparse24Linear W8A8 int8 (channel/token, tensor/static, channel/dynamic tensor), bit for bit") {
    // Real-valued x: the quantized codes and int32 accumulators are exact, the epilogue is
    // the reference's: the outputs must be identical.
    check_sparse24_config(kInt8Channel, kInt8Token, Data::Real, 62000);
    check_sparse24_config(kInt8Tensor, kInt8StaticIn, Data::Real, 62100);
    check_sparse24_config(kInt8Channel, kInt8DynTensor, Data::Real, 62200);
}

TEST_CASE("layers gpu: Sparse24Linear W8A8 fp8 (tensor/static, channel/token), CUDA equals CPU") {
    if (!fp8_runs_here()) return;
    // Integer-valued data: bit for bit. Real-valued: within the fp8 accumulation bound.
    check_sparse24_config(kFp8Tensor, kFp8StaticIn, Data::Integer, 63000);
    check_sparse24_config(kFp8Channel, kFp8Token, Data::Integer, 63100);
    check_sparse24_config(kFp8Tensor, kFp8StaticIn, Data::Real, 63200);
    check_sparse24_config(kFp8Channel, kFp8Token, Data::Real, 63300);
}

TEST_CASE("layers gpu: Mxfp4Linear bf16 and f16, M in {1, 5, 16, 40}, CUDA equals CPU") {
    uint64_t seed = 64000;
    for (DType dt : kActDtypes)
        for (Data data : {Data::Integer, Data::Real}) {
            Rng rng(++seed);
            const int64_t N = total(kGateUpWidths), K = kMxfp4K;
            const bool exact = data == Data::Integer;
            // Scale codes 122..127 keep integer data exact; 110..129 is the range of the rung tests.
            const ref::Mxfp4Weight w = random_mxfp4_weight(rng, N, K, exact ? 122 : 110, exact ? 127 : 129);
            const Mxfp4Linear cpu_layer = build_mxfp4(w, kGateUpWidths, K, dt, Backend::CPU);
            const Mxfp4Linear gpu_layer = build_mxfp4(w, kGateUpWidths, K, dt, Backend::CUDA);
            CHECK(gpu_layer.out_features() == N);
            for (int64_t M : kMxfp4Ms) {
                const Tensor x = exact ? int_tensor(dt, {M, K}, rng, 4) : ctk::test::random_tensor(dt, {M, K}, rng);
                const Tensor bias = exact ? int_tensor(dt, {N}, rng, 4) : ctk::test::random_tensor(dt, {N}, rng);
                check_mxfp4_apply(cpu_layer, gpu_layer, w, x, Tensor(), exact);
                check_mxfp4_apply(cpu_layer, gpu_layer, w, x, bias, exact);
            }
        }
}

TEST_CASE("layers gpu: a tensor on the wrong device is an error naming it") {
    const int64_t N = 16, K = 64;
    // Sparse24Linear (dense f16 checkpoint) on both backends.
    Sparse24Checkpoint c;
    c.widths = {N};
    c.K = K;
    Rng rng(65000);
    c.w = weight_24(DType::F16, N, K, rng, Data::Integer);
    const Sparse24Linear s_cpu = build_sparse24(c, Backend::CPU);
    const Sparse24Linear s_gpu = build_sparse24(c, Backend::CUDA);
    const Tensor x_h = Tensor::zeros(DType::F16, {3, K}), b_h = Tensor::zeros(DType::F16, {N});
    const Tensor x_d = cuda::to_device(x_h), b_d = cuda::to_device(b_h);
    expect_error([&] { apply(s_gpu, x_h); }, {"x: ", "cuda backend", "device tensor"});
    expect_error([&] { apply(s_gpu, x_h, b_d); }, {"x: ", "cuda backend", "device tensor"});
    expect_error([&] { apply(s_cpu, x_d); }, {"x: ", "cpu backend", "host tensor"});
    expect_error([&] { apply(s_gpu, x_d, b_h); }, {"bias: ", "like x"});
    expect_error([&] { apply(s_cpu, x_h, b_d); }, {"bias: ", "like x"});
    CHECK_NOTHROW(apply(s_gpu, x_d, b_d));
    // load takes host tensors only, whatever the backend.
    Sparse24Linear s_load = make_sparse24_linear(std::nullopt, std::nullopt, SparsityArgs{SparsityFormat::Dense, "2:4"},
                                                 Backend::CUDA);
    create_weights(s_load, {N}, K, DType::F16);
    expect_error([&] { load(s_load, "weight", cuda::to_device(c.w)); }, {"weight: ", "host tensor"});

    // Mxfp4Linear on both backends.
    const ref::Mxfp4Weight w = random_mxfp4_weight(rng, N, K, 120, 127);
    const Mxfp4Linear m_cpu = build_mxfp4(w, {N}, K, DType::BF16, Backend::CPU);
    const Mxfp4Linear m_gpu = build_mxfp4(w, {N}, K, DType::BF16, Backend::CUDA);
    const Tensor mx_h = Tensor::zeros(DType::BF16, {3, K}), mb_h = Tensor::zeros(DType::BF16, {N});
    const Tensor mx_d = cuda::to_device(mx_h), mb_d = cuda::to_device(mb_h);
    expect_error([&] { apply(m_gpu, mx_h); }, {"x: ", "cuda backend", "device tensor"});
    expect_error([&] { apply(m_cpu, mx_d); }, {"x: ", "cpu backend", "host tensor"});
    expect_error([&] { apply(m_gpu, mx_d, mb_h); }, {"bias: ", "like x"});
    expect_error([&] { apply(m_cpu, mx_h, mb_d); }, {"bias: ", "like x"});
    CHECK_NOTHROW(apply(m_gpu, mx_d, mb_d));
    Mxfp4Linear m_load = make_mxfp4_linear(kMxfp4, Backend::CUDA);
    create_weights(m_load, {N}, K, DType::BF16);
    expect_error([&] { load(m_load, "weight_packed", cuda::to_device(w.packed)); }, {"weight_packed: ", "host tensor"});
    expect_error([&] { load(m_load, "weight_scale", cuda::to_device(w.scales)); }, {"weight_scale: ", "host tensor"});
}

TEST_CASE("layers gpu: an empty batch (M = 0) gives [0, N] of the layer's dtype, as on the CPU") {
    uint64_t seed = 66000;
    // Sparse24Linear: unquantized, W8A8 int8 dynamic, W8A8 fp8 static (sm_90 only).
    struct Config {
        std::optional<QuantArgs> wq, iq;
        SparsityFormat format;
        DType dt;
    };
    std::vector<Config> configs = {{std::nullopt, std::nullopt, SparsityFormat::Dense, DType::F16},
                                   {std::nullopt, std::nullopt, SparsityFormat::Sparse24Bitmask, DType::BF16},
                                   {kInt8Channel, kInt8Token, SparsityFormat::Sparse24Bitmask, DType::BF16},
                                   {kInt8Tensor, kInt8StaticIn, SparsityFormat::Dense, DType::F16}};
    if (fp8_runs_here()) {
        configs.push_back({kFp8Tensor, kFp8StaticIn, SparsityFormat::Dense, DType::F16});
        configs.push_back({kFp8Channel, kFp8Token, SparsityFormat::Sparse24Bitmask, DType::BF16});
    }
    for (const Config& cfg : configs) {
        Rng rng(++seed);
        const Sparse24Checkpoint c = make_sparse24_checkpoint(cfg.wq, cfg.iq, cfg.format, cfg.dt, Data::Real, rng);
        INFO("Sparse24Linear ", c.label());
        const int64_t N = total(c.widths);
        const Sparse24Linear cpu_layer = build_sparse24(c, Backend::CPU);
        const Sparse24Linear gpu_layer = build_sparse24(c, Backend::CUDA);
        const Tensor bias = make_bias(cfg.dt, N, Data::Real, rng);
        check_empty_output(apply(cpu_layer, Tensor::zeros(cfg.dt, {0, c.K})), cfg.dt, N, Device::CPU);
        check_empty_output(apply(cpu_layer, Tensor::zeros(cfg.dt, {0, c.K}), bias), cfg.dt, N, Device::CPU);
        check_empty_output(apply(gpu_layer, cuda::device_empty(cfg.dt, {0, c.K})), cfg.dt, N, Device::CUDA);
        check_empty_output(apply(gpu_layer, cuda::device_empty(cfg.dt, {0, c.K}), cuda::to_device(bias)), cfg.dt, N,
                           Device::CUDA);
        // The layer still runs a real batch afterwards (int8: exact even for real-valued x).
        check_sparse24_apply(c, cpu_layer, gpu_layer, make_x(c, 2, Data::Real, rng), bias,
                             c.wq && c.wq->type == QuantType::Int);
    }
    // Mxfp4Linear, bf16 and f16.
    for (DType dt : kActDtypes) {
        INFO("Mxfp4Linear ", dtype_name(dt));
        Rng rng(++seed);
        const int64_t N = total(kGateUpWidths), K = kMxfp4K;
        const ref::Mxfp4Weight w = random_mxfp4_weight(rng, N, K, 110, 129);
        const Mxfp4Linear cpu_layer = build_mxfp4(w, kGateUpWidths, K, dt, Backend::CPU);
        const Mxfp4Linear gpu_layer = build_mxfp4(w, kGateUpWidths, K, dt, Backend::CUDA);
        const Tensor bias = ctk::test::random_tensor(dt, {N}, rng);
        check_empty_output(apply(cpu_layer, Tensor::zeros(dt, {0, K})), dt, N, Device::CPU);
        check_empty_output(apply(cpu_layer, Tensor::zeros(dt, {0, K}), bias), dt, N, Device::CPU);
        check_empty_output(apply(gpu_layer, cuda::device_empty(dt, {0, K})), dt, N, Device::CUDA);
        check_empty_output(apply(gpu_layer, cuda::device_empty(dt, {0, K}), cuda::to_device(bias)), dt, N, Device::CUDA);
        check_mxfp4_apply(cpu_layer, gpu_layer, w, ctk::test::random_tensor(dt, {2, K}, rng), bias, false);
    }
}

}  // TEST_SUITE("gpu")
#endif
