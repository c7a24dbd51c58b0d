// ctk bench quant: every activation quantization variant, kernel versions 1 and 2, on
// bf16 input T x H in {1x4096, 16x4096, 4096x4096, 16384x8192} (random values in [-4, 4]).
//
// Bytes counted (GB/s): 2 read + 1 written per element, plus the scales (and azp) written.
// Per-tensor dynamic reads x twice (max pass, then codes) but is counted the same way, so
// its ceiling is 3/5 of the copy rate. The peer is a plain device-to-device copy
// (cudaMemcpyAsync) moving the same number of bytes (read + written) in the same run; the
// ratio column is copy time / our time, i.e. our bandwidth as a fraction of the copy's.
// Timing: cuda::time_median_ms, L2 flushed before every timed run (cold data, as in a layer).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/bench.h"
#include "core/error.h"
#include "core/random.h"
#include "formats/formats.h"

#if CTK_HAVE_CUDA
#include <cuda_runtime.h>

#include "ops.h"
#endif

namespace ctk::cli {

#if !CTK_HAVE_CUDA
void bench_quant(const Args&, std::vector<BenchCase>&) { throw Error("bench quant needs CUDA"); }
#else

namespace {

void check_cuda(cudaError_t e, const char* what) {
    CTK_CHECK(e == cudaSuccess, "bench quant: ", what, ": ", cudaGetErrorString(e));
}

// Options that keep the codes in range for data in [-4, 4] (no saturation, random codes).
cuda::QuantOptions options_for(cuda::QuantOp op, int version) {
    cuda::QuantOptions o;
    o.version = version;
    if (op == cuda::QuantOp::Int8Static || op == cuda::QuantOp::Int8StaticAzp) o.scale = 0.05f;
    if (op == cuda::QuantOp::Int8StaticAzp) o.azp = 3;
    if (op == cuda::QuantOp::Fp8Static) o.scale = 0.01f;
    return o;
}

bool per_token(cuda::QuantOp op) {
    return op == cuda::QuantOp::Int8DynamicPerToken || op == cuda::QuantOp::Int8DynamicPerTokenAzp ||
           op == cuda::QuantOp::Fp8DynamicPerToken;
}

}  // namespace

void bench_quant(const Args& args, std::vector<BenchCase>& out) {
    CTK_CHECK(args.empty(), "bench quant: takes no options, found '", args.empty() ? "" : args[0], "'");
    const int64_t shapes[][2] = {{1, 4096}, {16, 4096}, {4096, 4096}, {16384, 8192}};
    const cuda::QuantOp ops[] = {cuda::QuantOp::Int8Static,          cuda::QuantOp::Int8StaticAzp,
                                 cuda::QuantOp::Int8DynamicPerToken, cuda::QuantOp::Int8DynamicPerTokenAzp,
                                 cuda::QuantOp::Fp8Static,           cuda::QuantOp::Fp8DynamicPerToken,
                                 cuda::QuantOp::Fp8DynamicPerTensor};
    for (auto& sh : shapes) {
        const int64_t t = sh[0], h = sh[1];
        Rng rng(static_cast<uint64_t>(t * 31 + h));
        Tensor xh = Tensor::empty(DType::BF16, {t, h});
        for (int64_t i = 0; i < t * h; ++i) xh.data<bf16_t>()[i].bits = bf16_from_float(rng.uniform(-4.0f, 4.0f));
        Tensor x = cuda::to_device(xh);

        // The peer: a device copy moving the same bytes as the quantizer's 2 + 1 per element.
        const size_t copy_bytes = static_cast<size_t>(t * h) * 3 / 2;
        void *src = nullptr, *dst = nullptr;
        check_cuda(cudaMalloc(&src, copy_bytes), "cudaMalloc");
        check_cuda(cudaMalloc(&dst, copy_bytes), "cudaMalloc");
        check_cuda(cudaMemset(src, 0x3C, copy_bytes), "cudaMemset");
        const double copy_ms = cuda::time_median_ms(
            [&] { check_cuda(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice), "cudaMemcpyAsync"); });
        const double copy_gbps = 2.0 * copy_bytes / (copy_ms * 1e-3) * 1e-9;

        for (cuda::QuantOp op : ops) {
            for (int version : {1, 2}) {
                const cuda::QuantOptions o = options_for(op, version);
                cuda::QuantResult r = cuda::quant_alloc(op, t, h);
                const double ms = cuda::time_median_ms([&] { cuda::quant_run(op, x, o, r); });
                BenchCase c;
                c.op = std::string(cuda::quant_op_name(op)) + "_v" + std::to_string(version);
                c.shape = std::to_string(t) + "x" + std::to_string(h);
                c.dtype = "bf16";
                c.ms = ms;
                c.bytes = 3.0 * t * h + (per_token(op) ? 4.0 * t : 4.0) *
                                            (op == cuda::QuantOp::Int8DynamicPerTokenAzp ? 2 : 1);
                c.peer = "d2d_copy";
                c.peer_ms = copy_ms;
                char note[96];
                std::snprintf(note, sizeof note, "copy %.0f GB/s%s", copy_gbps,
                              op == cuda::QuantOp::Fp8DynamicPerTensor ? "; reads x twice" : "");
                c.note = note;
                bench_emit(c);
                out.push_back(c);
            }
        }
        cudaFree(src);
        cudaFree(dst);
    }
}

#endif  // CTK_HAVE_CUDA

}  // namespace ctk::cli
