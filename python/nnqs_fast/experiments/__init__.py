"""nnqs_fast.experiments"""

__all__: list[str] = []
