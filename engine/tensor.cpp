// Tensor and Storage: allocation (with engine/tensor_memory.h's counts), copies between devices,
// dtype conversion, autograd accessors.
#include "engine/tensor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

#include "engine/autograd.h"
#include "engine/counters.h"
#include "engine/cuda_runtime.h"
#include "engine/host_allocator.h"
#include "engine/saved_activation.h"
#include "engine/tensor_memory.h"

namespace pleura {

namespace {

bool g_poison_empty = false;

template <class Fn>
void visit_dtype(DType dtype, const char* what, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32: fn(float{}); return;
    case DType::kFloat64: fn(double{}); return;
    case DType::kUInt8: fn(uint8_t{}); return;
    case DType::kInt64: fn(int64_t{}); return;
    default: throw_error(cat("[", what, "] dtype ", dtype_name(dtype), " is not supported here"));
  }
}

}  // namespace

namespace {
std::atomic<size_t> g_cpu_bytes{0}, g_cpu_peak{0};

void count_cpu_alloc(size_t bytes) {
  const size_t now = g_cpu_bytes.fetch_add(bytes) + bytes;
  size_t peak = g_cpu_peak.load();
  while (now > peak && !g_cpu_peak.compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

CpuTensorMemory cpu_tensor_memory() { return CpuTensorMemory{g_cpu_bytes.load(), g_cpu_peak.load()}; }
void reset_cpu_tensor_peak() { g_cpu_peak = g_cpu_bytes.load(); }

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device.is_cpu()) {
    data_ = host_alloc(bytes);
    count_cpu_alloc(bytes);
  } else {
    cuda::require_device(device.index);
    data_ = cuda::alloc(bytes, device.index);
  }
  note_storage_alloc(this, bytes, device);
}

Storage::~Storage() {
  note_storage_free(this);
  if (device_.is_cpu()) {
    host_free(data_, bytes_);
    g_cpu_bytes -= bytes_;
  } else if (data_ != nullptr) {
    cuda::free(data_, bytes_, device_.index);
  }
}

int64_t Tensor::size(int dim) const {
  int n = ndim();
  int d = dim < 0 ? dim + n : dim;
  PLEURA_CHECK(d >= 0 && d < n, "[tensor] dim ", dim, " out of range for ", describe(*this));
  return shape()[d];
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape.numel()) * dtype_size(dtype), device);
  Tensor t(std::move(impl));
  if (g_poison_empty && t.nbytes() > 0) {
    if (device.is_cpu()) {
      std::memset(t.raw(), 0xFF, t.nbytes());
    } else {
      cuda::fill_bytes(t.raw(), 0xFF, t.nbytes(), device.index);
    }
  }
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.is_cpu()) {
    std::memset(t.raw(), 0, t.nbytes());
  } else {
    cuda::memset_zero(t.raw(), t.nbytes(), device.index);
  }
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  if (device.is_cuda() && (dtype == DType::kFloat32 || dtype == DType::kFloat64)) {
    Tensor t = empty(shape, dtype, device);
    cuda::fill(t.raw(), t.numel(), dtype, value, device.index);
    return t;
  }
  Tensor t = empty(shape, dtype, Device::cpu());
  visit_dtype(dtype, "full", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(value);
  });
  return device.is_cpu() ? t : t.to(device);  // made on the host: no host read to count (engine/counters.h)
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  PLEURA_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "[from_vector] ", values.size(),
               " values given for shape ", shape.str(), " (", shape.numel(), " elements)");
  Tensor t = empty(shape, dtype, Device::cpu());
  visit_dtype(dtype, "from_vector", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw());
    if constexpr (std::is_integral_v<T>) {
      // Converting a value outside T's range is undefined behaviour: refuse it instead.
      for (size_t i = 0; i < values.size(); ++i) {
        const double v = values[i];
        PLEURA_CHECK(v >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
                         v < std::ldexp(1.0, std::numeric_limits<T>::digits),
                     "[from_vector] value ", v, " at index ", i, " does not fit ", dtype_name(dtype));
      }
    }
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  PLEURA_CHECK(shape() == src.shape() && dtype() == src.dtype(), "[copy] source ", describe(src),
               " does not match destination ", describe(*this));
  size_t bytes = nbytes();
  if (bytes == 0 || raw() == src.raw()) return;
  impl().bf16_values = false;
  forget_recipe(*this);  // the values are not those its recipe computes any more
  Device d = device(), s = src.device();
  if (d.is_cpu() && s.is_cpu()) {
    std::memcpy(raw(), src.raw(), bytes);
  } else if (d.is_cuda() && s.is_cpu()) {
    cuda::copy_h2d(raw(), src.raw(), bytes, d.index);
  } else if (d.is_cpu() && s.is_cuda()) {
    cuda::copy_d2h(raw(), src.raw(), bytes, s.index);
  } else {
    PLEURA_CHECK(d.index == s.index, "[copy] copies between CUDA devices ", s.str(), " and ", d.str(),
                 " are not supported");
    cuda::copy_d2d(raw(), src.raw(), bytes, d.index);
  }
}

Tensor Tensor::to(Device device) const {
  // A read of values on the host: counted on every device, so that a CPU run sees where a GPU run waits.
  if (device.is_cpu()) count(Counter::kHostRead);
  if (device == this->device()) return *this;
  Tensor out = empty(shape(), dtype(), device);
  out.copy_from(*this);
  return out;
}

Tensor upload(const Tensor& host, Device device) {
  PLEURA_CHECK(host.device().is_cpu(), "[upload] the tensor is on ", host.device().str(), ", expected the host");
  return device.is_cpu() ? host : host.to(device);
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  PLEURA_CHECK(device().is_cpu(), "[to] dtype conversion runs on the CPU only; got ", describe(*this));
  Tensor out = empty(shape(), target, Device::cpu());
  visit_dtype(dtype(), "to", [&](auto src_tag) {
    using S = decltype(src_tag);
    visit_dtype(target, "to", [&](auto dst_tag) {
      using D = decltype(dst_tag);
      const S* s = static_cast<const S*>(raw());
      D* d = static_cast<D*>(out.raw());
      for (int64_t i = 0; i < numel(); ++i) d[i] = static_cast<D>(s[i]);
    });
  });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::view(const Shape& new_shape) const {
  PLEURA_CHECK(new_shape.numel() == numel(), "[view] cannot view ", describe(*this), " as ",
               new_shape.str());
  PLEURA_CHECK(!(requires_grad() && grad_enabled()), "[view] ", describe(*this),
               " requires a gradient and view() is not recorded by autograd; use reshape()");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = new_shape;
  impl->dtype = dtype();
  impl->storage = impl_->storage;
  impl->bf16_values = impl_->bf16_values;
  return Tensor(std::move(impl));
}

std::vector<double> Tensor::to_vector() const {
  Tensor host = to(Device::cpu());
  std::vector<double> out(static_cast<size_t>(numel()));
  visit_dtype(dtype(), "to_vector", [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(host.raw());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

double Tensor::item() const {
  PLEURA_CHECK(numel() == 1, "[item] expected a one-element tensor, got ", describe(*this));
  return to_vector()[0];
}

Tensor& Tensor::set_requires_grad(bool value) {
  PLEURA_CHECK(is_leaf(), "[requires_grad] can only be set on a leaf tensor, not on the output of ",
               grad_fn()->name());
  PLEURA_CHECK(!value || dtype() == DType::kFloat32 || dtype() == DType::kFloat64,
               "[requires_grad] only floating-point tensors can require a gradient, got ", describe(*this));
  impl().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(impl().grad); }

void Tensor::zero_grad() { impl().grad.reset(); }

void Tensor::backward() const { run_backward(*this); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape();
  impl->dtype = dtype();
  impl->storage = impl_->storage;
  impl->bf16_values = impl_->bf16_values;
  return Tensor(std::move(impl));
}

void set_poison_empty_tensors(bool on) { g_poison_empty = on; }
bool poison_empty_tensors() { return g_poison_empty; }

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined";
  return cat(dtype_name(t.dtype()), t.shape().str(), " on ", t.device().str());
}

}  // namespace pleura
