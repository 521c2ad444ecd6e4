// Build and threading information of the core.
#include "bindings.hpp"
#include "nnqs/common.hpp"
#include "nnqs/kernels.hpp"

#ifndef NNQS_VERSION
#define NNQS_VERSION "dev"
#endif

void register_info(py::module_& m) {
  m.attr("__version__") = NNQS_VERSION;
  m.def("has_openmp", &nnqs::has_openmp, "True when the core was compiled with OpenMP.");
  m.def("max_threads", &nnqs::max_threads, "Number of OpenMP threads the core uses.");
  m.def("set_num_threads", &nnqs::set_num_threads, py::arg("n"),
        "Set the core's OpenMP thread count (n <= 0 restores the default).");
  m.def(
      "compiler",
      []() {
#if defined(__clang__)
        return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
        return std::string("gcc ") + __VERSION__;
#else
        return std::string("unknown");
#endif
      },
      "The C++ compiler (name and version) the core was built with.");
  m.def(
      "simd_target", []() { return std::string(nnqs::simd_target()); },
      "SIMD instruction set of the analytic ReLU Gram on this CPU (Highway target name, e.g. 'AVX3' = AVX-512, "
      "'AVX2'), or 'none' for a build without Highway (portable float64 loop; install libhwy-dev and rebuild).");
}
