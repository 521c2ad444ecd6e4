// Bindings of the training area (thin: convert, check, call into nnqs::).
#include "bindings.hpp"

void register_training(py::module_& m) { (void)m; }
