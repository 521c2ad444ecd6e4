"""Interop at the edge (docs/interop.md): a user's JAX/flax/NetKet or PyTorch model comes in, plain arrays go on.

The library-specific modules import their library only when used:

* :mod:`nnqs_fast.interop.jax`: ``empirical_qsntk_fn``, ``linearize``, ``check_holomorphic`` for JAX/flax/NetKet;
* :mod:`nnqs_fast.interop.torch`: ``empirical_qsntk_fn`` for ``torch.nn.Module`` (``torch.func``);
* :mod:`nnqs_fast.netket`: NetKet models and variational states, basis maps, targets from operators.

:func:`empirical_qsntk_fn` here picks the JAX or PyTorch front end from the model's type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["empirical_qsntk_fn", "linearize"]


def _is_torch_module(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    if not mod.startswith("torch"):
        return any((c.__module__ or "").startswith("torch.nn") for c in type(obj).__mro__)
    return True


def empirical_qsntk_fn(apply_fn: Any, **kwargs: Any) -> Callable:
    """QS-NTK function of a model: a ``torch.nn.Module`` goes to :mod:`nnqs_fast.interop.torch`, any other
    callable ``apply_fn(params, x)`` to :mod:`nnqs_fast.interop.jax` (same keyword arguments; see there)."""
    if _is_torch_module(apply_fn):
        from .torch import empirical_qsntk_fn as fn
    else:
        from .jax import empirical_qsntk_fn as fn  # type: ignore[assignment]
    return fn(apply_fn, **kwargs)


def linearize(apply_fn: Callable, params: Any, **kwargs: Any) -> Callable:
    """jvp-based linearisation of a JAX model (see :func:`nnqs_fast.interop.jax.linearize`)."""
    from .jax import linearize as lin
    return lin(apply_fn, params, **kwargs)
