"""nnqs_fast.physics"""

__all__: list[str] = []
