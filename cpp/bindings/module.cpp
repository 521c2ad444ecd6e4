// nnqs_fast._core — the private compiled module. Each area registers its functions in its own file.
#include "bindings.hpp"
#include "nnqs/common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "nnqs_fast private C++ core (use the nnqs_fast Python API instead)";
  py::register_exception<nnqs::invalid_argument>(m, "CoreInvalidArgument", PyExc_ValueError);
  register_info(m);
  register_kernels(m);
  register_wick(m);
  register_training(m);
}
