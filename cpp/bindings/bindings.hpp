// Shared declarations of the nnqs_fast._core bindings: one register_<area> function per area.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_info(py::module_& m);
void register_kernels(py::module_& m);
void register_wick(py::module_& m);
void register_training(py::module_& m);
void register_flow(py::module_& m);
void register_memory(py::module_& m);

// Read-only C-contiguous array of T (the Python layer has already validated and converted the input).
template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;
