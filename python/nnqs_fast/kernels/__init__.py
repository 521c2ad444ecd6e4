"""QS-NTK kernels: empirical kernels of finite networks and analytic infinite-width kernels (Eq. 5-12, S5-S28).

See docs/kernels.md for the API tour and formulas.
"""

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
                       max_learning_rate,
)

__all__ = ["relu_kernel_fn", "cosnet_kernel_fn", "gaussnet_kernel_fn", "complex_single_qsntk", "decoupled_qsntk",
           "empirical_ntk", "empirical_qsntk", "qsntk_from_jacobians",
           "QSNTK", "qsntk_from_parts", "KernelSpectrum", "check_positive_definite", "kernel_eigenvalues",
           "kernel_spectrum", "max_learning_rate", "kernel_diagonal", "lambda_max"]
