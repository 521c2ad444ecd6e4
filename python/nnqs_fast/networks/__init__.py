"""Built-in networks: one architecture object per family (neural-tangents ``stax`` style).

Each object — :class:`ReLUNet` / :class:`DenseNet`, :class:`CosNet`, :class:`GaussNet`, :class:`ComplexSingle` —
holds its hyper-parameters once and gives ``init(seed, input_dim, width)``, ``apply(params, x)``, the analytic
``kernel_fn()`` (or ``qsntk``), the Wick GP kernel ``gp_kernel(input_dim)`` and the per-layer pieces the structured
empirical kernels and the trainer need. The functions (``init_relu``, ``apply_relu``, ...) are thin wrappers.
Activations live one per file and register themselves (:mod:`.activations`); every module of this package is
imported here, so a new activation file needs no other Python change.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from .activations import Activation, activation_names, get_activation, register_activation
from .complex_single import (
    ComplexSingle,
    ComplexSingleParams,
    apply_complex_single,
    complex_single_jacobian,
    init_complex_single,
)
from .cosnet import CosNet, CosNetParams, apply_cosnet, cosnet_jacobian, init_cosnet
from .dense import B_STD, W_STD, DenseNet, DenseParams, dense_kernels
from .gaussnet import GaussNet, GaussNetParams, apply_gaussnet, gaussnet_jacobian, init_gaussnet
from .relu import ReLUNet, ReLUParams, apply_relu, init_relu, relu_jacobian

for _m in _pkgutil.iter_modules(__path__):  # activation files register themselves on import
    _importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["ReLUNet", "ReLUParams", "apply_relu", "init_relu", "relu_jacobian",
           "DenseNet", "DenseParams", "dense_kernels", "W_STD", "B_STD",
           "CosNet", "CosNetParams", "init_cosnet", "apply_cosnet", "cosnet_jacobian",
           "GaussNet", "GaussNetParams", "init_gaussnet", "apply_gaussnet", "gaussnet_jacobian",
           "ComplexSingle", "ComplexSingleParams", "init_complex_single", "apply_complex_single",
           "complex_single_jacobian",
           "Activation", "register_activation", "get_activation", "activation_names"]
