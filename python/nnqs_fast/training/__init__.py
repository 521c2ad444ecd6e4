"""nnqs_fast.training"""

__all__: list[str] = []
