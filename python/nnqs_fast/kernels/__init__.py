"""QS-NTK kernels: empirical kernels of finite networks and analytic infinite-width kernels (Eq. 5-12, S5-S28).

See docs/kernels.md for the API tour and formulas.
"""

from .._renamed import module_getattr as _module_getattr
from .analytic import complex_single_qsntk, cosnet_kernel_fn, decoupled_qsntk, gaussnet_kernel_fn, relu_kernel_fn
from .diagonal import kernel_diagonal
from .empirical import empirical_ntk, empirical_qsntk, qsntk_from_jacobians
from .qsntk import QSNTK, qsntk_from_parts
from .spectrum import (
                       KernelSpectrum,
                       check_positive_definite,
                       kernel_eigenvalues,
                       kernel_spectrum,
                       lambda_max,
                       qsntk_eta_max,
)

__all__ = ["relu_kernel_fn", "cosnet_kernel_fn", "gaussnet_kernel_fn", "complex_single_qsntk", "decoupled_qsntk",
           "empirical_ntk", "empirical_qsntk", "qsntk_from_jacobians",
           "QSNTK", "qsntk_from_parts", "KernelSpectrum", "check_positive_definite", "kernel_eigenvalues",
           "kernel_spectrum", "qsntk_eta_max", "kernel_diagonal", "lambda_max"]

# neural-tangents' names are absent here on purpose (nnqs_fast.nt has NT's semantics; docs/interop.md)
__getattr__ = _module_getattr("nnqs_fast.kernels")
