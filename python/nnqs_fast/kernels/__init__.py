"""nnqs_fast.kernels"""

__all__: list[str] = []
