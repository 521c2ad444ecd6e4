"""QS-NTK kernels: empirical kernels of finite networks and analytic infinite-width kernels (Eq. 5-12, S5-S28).

See docs/kernels.md for the API tour and formulas.
"""

from .analytic import decoupled_qsntk, relu_kernel_fn
from .empirical import empirical_ntk, empirical_qsntk, qsntk_from_jacobians
from .qsntk import QSNTK, qsntk_from_parts
from .spectrum import (KernelSpectrum, check_positive_definite, kernel_eigenvalues, kernel_spectrum,
                       max_learning_rate)

__all__ = ["relu_kernel_fn", "decoupled_qsntk", "empirical_ntk", "empirical_qsntk", "qsntk_from_jacobians",
           "QSNTK", "qsntk_from_parts", "KernelSpectrum", "check_positive_definite", "kernel_eigenvalues",
           "kernel_spectrum", "max_learning_rate"]
