// Tensor: a contiguous, row-major (NCHW) array with a shape, a dtype and a device, plus the autograd
// fields (requires_grad, grad, grad_fn). Copies of a Tensor share the same data; clone() copies it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"

namespace pleura {

class Node;

// Owns one allocation on one device.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

struct TensorImpl {
  Shape shape;
  DType dtype = DType::kFloat32;
  std::shared_ptr<Storage> storage;
  // Every element is a bfloat16 value (a float32 whose lower 16 bits are zero, or a NaN or infinity): set by
  // the convolutions that round their outputs under the bf16 policy, so that a node keeping the tensor may keep
  // it as bfloat16 losing nothing (engine/saved_activation.h); views, detach() and relu (in place or not: the
  // maximum of a bfloat16 value and 0 is one) keep it; the other ops that write over their input clear it.
  bool bf16_values = false;
  // Autograd state.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;    // leaves only: accumulated gradient
  std::shared_ptr<Node> grad_fn;       // non-leaves: the node that produced this tensor
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised memory.
  static Tensor empty(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::kFloat32,
                     Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::kFloat32, Device device = Device::cpu()) {
    return full(shape, 1.0, dtype, device);
  }
  // A CPU tensor holding `values` (converted to dtype), which must have shape.numel() elements.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::kFloat32);
  static Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int ndim() const { return shape().ndim(); }
  int64_t size(int dim) const;  // negative dims count from the end
  int64_t numel() const { return shape().numel(); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // Raw pointer to the first element (a device pointer for CUDA tensors).
  void* raw() const { return impl().storage->data(); }
  // Typed pointer; throws if T does not match the dtype.
  template <class T>
  T* data() const {
    PLEURA_CHECK(DTypeOf<T>::value == dtype(), "[tensor] data<", dtype_name(DTypeOf<T>::value),
                 ">() called on a ", dtype_name(dtype()), " tensor");
    return static_cast<T*>(raw());
  }

  // Copies. to() returns *this when nothing changes; to(DType) converts on the CPU only.
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor clone() const;
  // Copies all elements of src (same shape and dtype, any devices) into this tensor.
  void copy_from(const Tensor& src);
  // Same data, new shape with the same element count. Not recorded by autograd.
  Tensor view(const Shape& shape) const;
  // Values as doubles, copied to the host.
  std::vector<double> to_vector() const;
  // The single element of a one-element tensor, as a double.
  double item() const;

  // Autograd.
  bool requires_grad() const { return impl().requires_grad; }
  // Marks a leaf as needing a gradient. Only floating-point leaves can.
  Tensor& set_requires_grad(bool value);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // The accumulated gradient of a leaf (undefined until a backward pass reached it).
  Tensor grad() const;
  void zero_grad();  // drops the accumulated gradient
  // Back-propagates from this one-element tensor; see engine/autograd.h.
  void backward() const;
  // Same data, cut from the graph.
  Tensor detach() const;

  TensorImpl& impl() const {
    PLEURA_CHECK(impl_ != nullptr, "[tensor] use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_data(const Tensor& o) const { return impl().storage == o.impl().storage; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// "float32[2, 3, 4, 4] on cpu"
std::string describe(const Tensor& t);

// A host tensor (a loader's batch, values made on the host) taken to `device`: the tensor itself on the
// CPU, a copy on a GPU. Unlike to(), never a host read (engine/counters.h): nothing waits for a device.
Tensor upload(const Tensor& host, Device device);

// Test aid: when on, Tensor::empty fills new memory with 0xFF bytes (NaN for float types), on the CPU
// and on CUDA, so that an op that leaves an output element unwritten is caught by any comparison.
void set_poison_empty_tensors(bool on);
bool poison_empty_tensors();

}  // namespace pleura
