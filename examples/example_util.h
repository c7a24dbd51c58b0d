// Small helpers shared by the examples: seeded random tensors and the error line.
#pragma once
#include <cmath>
#include <cstdio>

#include "core/random.h"
#include "ref/tensor_math.h"

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

}  // namespace ex
