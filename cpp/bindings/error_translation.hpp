// Python exception classes for the C++ core's exceptions, shared by nnqs_fast._core and nnqs_fast._cuda.
//   nnqs::invalid_argument -> <module>.CoreInvalidArgument, a subclass of nnqs_fast.errors.InvalidInputError
//   nnqs::size_error       -> <module>.CoreSizeError, a subclass of nnqs_fast.errors.MemoryLimitError
// (ValueError / MemoryError when nnqs_fast.errors cannot be imported, e.g. a module loaded on its own).
#pragma once
#include <pybind11/pybind11.h>

#include "nnqs/common.hpp"

namespace nnqs_bindings {

inline void register_core_exceptions(pybind11::module_& m, bool module_local) {
  namespace py = pybind11;
  py::object invalid = py::reinterpret_borrow<py::object>(PyExc_ValueError);
  py::object size = py::reinterpret_borrow<py::object>(PyExc_MemoryError);
  try {
    py::module_ errors = py::module_::import("nnqs_fast.errors");
    invalid = errors.attr("InvalidInputError");
    size = errors.attr("MemoryLimitError");
  } catch (py::error_already_set&) {
    PyErr_Clear();
  }
  if (module_local) {
    py::register_local_exception<nnqs::invalid_argument>(m, "CoreInvalidArgument", invalid);
    py::register_local_exception<nnqs::size_error>(m, "CoreSizeError", size);
  } else {
    py::register_exception<nnqs::invalid_argument>(m, "CoreInvalidArgument", invalid);
    py::register_exception<nnqs::size_error>(m, "CoreSizeError", size);
  }
}

}  // namespace nnqs_bindings
