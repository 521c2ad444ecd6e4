"""nnqs_fast.dynamics"""

__all__: list[str] = []
