// Bindings of the kernels area (thin: convert, check, call into nnqs::).
#include "bindings.hpp"

void register_kernels(py::module_& m) { (void)m; }
