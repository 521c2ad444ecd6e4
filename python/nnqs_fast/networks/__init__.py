"""Built-in networks: seeded initialisers, batched forward passes, and the per-layer pieces the kernels need."""

from .complex_single import ComplexSingleParams, apply_complex_single, complex_single_jacobian, init_complex_single
from .cosnet import CosNetParams, apply_cosnet, cosnet_jacobian, init_cosnet
from .gaussnet import GaussNetParams, apply_gaussnet, gaussnet_jacobian, init_gaussnet
from .relu import ReLUParams, apply_relu, init_relu, relu_jacobian

__all__ = ["ReLUParams", "apply_relu", "init_relu", "relu_jacobian",
           "CosNetParams", "init_cosnet", "apply_cosnet", "cosnet_jacobian",
           "GaussNetParams", "init_gaussnet", "apply_gaussnet", "gaussnet_jacobian",
           "ComplexSingleParams", "init_complex_single", "apply_complex_single", "complex_single_jacobian"]
