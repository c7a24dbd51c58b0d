// core/tensor: element counts that a checkpoint header can make overflow, and row views.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>

#include "core/tensor.h"
#include "ref/tensor_math.h"

using namespace ctk;

TEST_CASE("tensor: shape_numel counts exactly, refuses negative dimensions and counts past int64") {
    CHECK(shape_numel({}) == 1);
    CHECK(shape_numel({3, 5, 7}) == 105);
    CHECK(shape_numel({int64_t{1} << 31, int64_t{1} << 31}) == int64_t{1} << 62);
    CHECK(shape_numel({INT64_MAX, 1}) == INT64_MAX);
    // A zero anywhere is zero elements, however large the others ([2^62, 4, 0]: a header can
    // claim it with no bytes at all).
    CHECK(shape_numel({int64_t{1} << 62, 4, 0}) == 0);
    CHECK_THROWS_WITH_AS(shape_numel({2, int64_t{1} << 62}), doctest::Contains("more elements than int64"), Error);
    CHECK_THROWS_WITH_AS(shape_numel({INT64_MAX, 2}), doctest::Contains("[9223372036854775807, 2]"), Error);
    CHECK_THROWS_WITH_AS(shape_numel({4, -1}), doctest::Contains("negative dimension in shape [4, -1]"), Error);
}

TEST_CASE("tensor: empty refuses sizes no machine holds instead of wrapping the byte count") {
    // 2^62 bf16 elements are 2^63 bytes: once this wrapped to a tiny allocation and the GEMM
    // wrote past it.
    CHECK_THROWS_WITH_AS(Tensor::empty(DType::BF16, {2, int64_t{1} << 61}), doctest::Contains("more than 2^56 bytes"),
                         Error);
    CHECK_THROWS_WITH_AS(Tensor::empty(DType::F32, {int64_t{1} << 30, int64_t{1} << 25}),
                         doctest::Contains("cannot allocate f32[1073741824, 33554432]"), Error);
    CHECK_THROWS_WITH_AS(Tensor::empty(DType::F32, {-3}), doctest::Contains("negative dimension"), Error);
    Tensor z = Tensor::zeros(DType::F16, {0, int64_t{1} << 40});
    CHECK(z.numel() == 0);
    CHECK(z.nbytes() == 0);
}

TEST_CASE("tensor: rows() views share storage; bad ranges name the tensor") {
    Tensor t = Tensor::zeros(DType::I32, {4, 3});
    for (int i = 0; i < 12; ++i) t.data<int32_t>()[i] = i;
    Tensor r = t.rows(1, 3);
    CHECK(r.shape == Shape{2, 3});
    CHECK(r.data<int32_t>()[0] == 3);
    r.data<int32_t>()[5] = -1;
    CHECK(t.data<int32_t>()[8] == -1);
    CHECK_THROWS_WITH_AS(t.rows(2, 5), doctest::Contains("bad row range [2, 5)"), Error);
}

TEST_CASE("tensor: an undefined Tensor() is an error wherever its bytes would be read") {
    // Tensor() has shape {} (one element by count) and no storage: reading it was a null load.
    const Tensor u;
    CHECK_FALSE(u.defined());
    CHECK_THROWS_WITH_AS(u.clone(), doctest::Contains("clone: expected a tensor, found an undefined one"), Error);
    CHECK_THROWS_WITH_AS(ref::to_f32(u), doctest::Contains("to_f32: expected a tensor"), Error);
    CHECK_THROWS_WITH_AS(ref::from_f32(u, DType::F16), doctest::Contains("from_f32: expected a tensor"), Error);
    CHECK_THROWS_WITH_AS(ref::check_finite(u, "x"), doctest::Contains("x: expected a tensor"), Error);
    CHECK_THROWS_WITH_AS(expect_defined(u, "bias"), doctest::Contains("bias: expected a tensor"), Error);
    // A defined empty tensor is fine.
    CHECK_NOTHROW(ref::check_finite(Tensor::zeros(DType::F16, {0, 4}), "x"));
}
