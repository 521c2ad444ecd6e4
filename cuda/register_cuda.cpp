// nnqs_fast._cuda — pybind11 bindings of the CUDA kernels. Device arrays arrive as raw pointers
// (read by the Python shim nnqs_fast/_backend.py from __cuda_array_interface__), streams as integers
// (CuPy's current stream), so this module never depends on CuPy at build time.
#include <pybind11/pybind11.h>
#include <cstdint>
#include "cuda_check.hpp"
#include "device_info.hpp"
#include "relu_ntk_combine.hpp"

namespace py = pybind11;
using nnqs_cuda::cuda_error;

namespace {
cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }
template <class T>
T* as_ptr(std::uintptr_t p) { return reinterpret_cast<T*>(p); }
}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "nnqs_fast private CUDA kernels (use the nnqs_fast Python API with backend='cuda')";
  py::register_exception<cuda_error>(m, "CudaError", PyExc_RuntimeError);

  m.def("device_status", []() {
    auto s = nnqs_cuda::device_status();
    py::dict d;
    d["usable"] = s.usable;
    d["device_count"] = s.device_count;
    d["runtime_version"] = s.runtime_version;
    d["driver_version"] = s.driver_version;
    d["compute_capability"] = s.compute_capability;
    d["total_memory"] = s.total_memory;
    d["name"] = s.name;
    d["reason"] = s.reason;
    return d;
  }, "Status of CUDA device 0; never raises.");

  m.def("relu_ntk_combine", [](std::uintptr_t a, std::uintptr_t b, std::uintptr_t g, long long n, double c_act,
                               double c_der, double c_dot, double b_std2, bool is_double, std::uintptr_t stream) {
    py::gil_scoped_release release;
    if (is_double)
      nnqs_cuda::relu_ntk_combine<double>(as_ptr<double>(a), as_ptr<const double>(b), as_ptr<const double>(g), n,
                                          c_act, c_der, c_dot, b_std2, as_stream(stream));
    else
      nnqs_cuda::relu_ntk_combine<float>(as_ptr<float>(a), as_ptr<const float>(b), as_ptr<const float>(g), n, c_act,
                                         c_der, c_dot, b_std2, as_stream(stream));
  }, py::arg("a"), py::arg("b"), py::arg("g"), py::arg("n"), py::arg("c_act"), py::arg("c_der"), py::arg("c_dot"),
     py::arg("b_std2"), py::arg("is_double"), py::arg("stream"),
     "In place on device buffer a: a = c_act*a + b_std2 + c_der*b*(c_dot*g + b_std2).");
}
