// nnqs_fast._core — the private compiled module. Each area registers its functions in its own file.
#include "bindings.hpp"
#include "error_translation.hpp"
#include "nnqs/common.hpp"
#include "nnqs/kernel_math.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "nnqs_fast private C++ core (use the nnqs_fast Python API instead)";
  nnqs_bindings::register_core_exceptions(m, /*module_local=*/false);
  py::enum_<nnqs::KernelFamily>(m, "KernelFamily", py::arithmetic(),
                                "Built-in kernel families (nnqs/kernel_math.hpp); the integer codes of the Wick "
                                "kernel specs of _core and _cuda.")
      .value("zero", nnqs::KernelFamily::zero, "k = 0")
      .value("rbf", nnqs::KernelFamily::rbf, "amp exp(-gamma |x - y|^2) (Cos-net Eq. 4, Gauss-net Eq. S27)")
      .value("relu", nnqs::KernelFamily::relu, "NNGP of the NTK-parameterised ReLU MLP (arc-cosine recursion)")
      .value("delta", nnqs::KernelFamily::delta, "amp [x == y]")
      .value("relu_ntk", nnqs::KernelFamily::relu_ntk, "NTK of the NTK-parameterised ReLU MLP");
  register_info(m);
  register_kernels(m);
  register_wick(m);
  register_training(m);
  register_flow(m);
  register_memory(m);
}
