// Tensor: a dense, row-major, contiguous array of one DType on one Device.
//
// Storage is a shared_ptr to bytes, so copies are cheap views and row slices
// (rows()) share memory with their parent. Host tensors are created here; device
// tensors are created by cuda/ops.h (to_device / device_empty), which keeps this
// layer free of CUDA. Element access (data<T>()) checks the dtype and that the
// tensor lives on the host.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace ctk {

enum class Device : uint8_t { CPU, CUDA };
const char* device_name(Device d);  // "cpu" / "cuda"

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[16, 32]"
int64_t shape_numel(const Shape& s);

struct Tensor {
    DType dtype = DType::F32;
    Device device = Device::CPU;
    Shape shape;
    std::shared_ptr<void> storage;  // owner of the bytes (nullptr for an undefined tensor)
    void* ptr = nullptr;            // first element (inside storage)

    bool defined() const { return ptr != nullptr || (storage && numel() == 0); }
    int ndim() const { return static_cast<int>(shape.size()); }
    int64_t size(int d) const;  // negative d counts from the end
    int64_t numel() const { return shape_numel(shape); }
    size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
    std::string describe() const;  // "bf16[16, 32] cpu"

    template <class T>
    T* data() {
        check_access(dtype_of<T>::value);
        return static_cast<T*>(ptr);
    }
    template <class T>
    const T* data() const {
        check_access(dtype_of<T>::value);
        return static_cast<const T*>(ptr);
    }
    void* raw() { return ptr; }
    const void* raw() const { return ptr; }

    // Rows [begin, end) of dim 0, sharing storage.
    Tensor rows(int64_t begin, int64_t end) const;
    // Same bytes, another shape with the same element count.
    Tensor reshape(const Shape& s) const;
    // Deep copy on the host (throws for device tensors).
    Tensor clone() const;

    static Tensor empty(DType t, const Shape& s);  // host, uninitialised
    static Tensor zeros(DType t, const Shape& s);  // host, zero bytes

  private:
    void check_access(DType want) const;
};

// Host tensors of one dtype and equal trailing dims, stacked along dim 0 (fused q/k/v
// or gate/up shards into one parameter).
Tensor concat_rows(const std::vector<Tensor>& parts);

// Throws ctk::Error naming `what` when t's dtype or shape differs.
// A default Tensor() is undefined: shape {} (one element by count) and no bytes behind it.
void expect_defined(const Tensor& t, const std::string& what);
void expect_dtype(const Tensor& t, DType want, const std::string& what);
void expect_shape(const Tensor& t, const Shape& want, const std::string& what);

}  // namespace ctk
