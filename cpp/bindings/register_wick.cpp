// Bindings of the wick area (thin: convert, check, call into nnqs::).
#include "bindings.hpp"

void register_wick(py::module_& m) { (void)m; }
