"""nnqs_fast.entanglement"""

__all__: list[str] = []
