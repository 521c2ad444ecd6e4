"""Built-in networks: seeded initialisers, batched forward passes, and the per-layer pieces the kernels need."""

from .relu import ReLUParams, apply_relu, init_relu

__all__ = ["ReLUParams", "apply_relu", "init_relu"]
