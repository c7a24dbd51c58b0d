// Small helpers shared by the examples: seeded random tensors and the error line.
#pragma once
#include <cmath>
#include <cstdio>

#include "core/random.h"
#include "layers/backend.h"
#include "ref/tensor_math.h"
#if CTK_HAVE_CUDA
#include "ops.h"
#endif

namespace ex {

inline ctk::Tensor randn(ctk::Rng& rng, ctk::DType t, const ctk::Shape& s, float stddev) {
    ctk::Tensor f = ctk::Tensor::empty(ctk::DType::F32, s);
    for (int64_t i = 0; i < f.numel(); ++i) f.data<float>()[i] = stddev * rng.normal();
    return ctk::ref::from_f32(f, t);
}

// Prints "max |err| = ..." between two host tensors of the same shape.
inline double print_max_err(const ctk::Tensor& got, const ctk::Tensor& want) {
    double worst = 0;
    for (int64_t i = 0; i < got.numel(); ++i)
        worst = std::fmax(worst, std::fabs(ctk::ref::load_f32(got, i) - ctk::ref::load_f32(want, i)));
    std::printf("max |err| = %.3g\n", worst);
    return worst;
}

// When a GPU is present, builds the same layer on the CUDA backend (build(Backend::CUDA)),
// runs it on x, and prints its error against the CPU layer's output; else says it skipped.
template <class Build>
void also_on_gpu(const Build& build, const ctk::Tensor& x, const ctk::Tensor& cpu_out) {
#if CTK_HAVE_CUDA
    if (ctk::cuda::device_count() > 0) {
        auto layer = build(ctk::Backend::CUDA);
        ctk::Tensor gpu_out = ctk::cuda::to_host(apply(layer, ctk::cuda::to_device(x)));
        std::printf("gpu (%s) vs cpu layer: ", ctk::cuda::device_description().c_str());
        print_max_err(gpu_out, cpu_out);
        return;
    }
#endif
    (void)build, (void)x, (void)cpu_out;
    std::printf("no GPU: the CUDA backend was not run\n");
}

}  // namespace ex
