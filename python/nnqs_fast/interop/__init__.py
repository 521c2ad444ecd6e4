"""Interop at the edge (docs/interop.md): a user's JAX/flax/NetKet or PyTorch model comes in, plain arrays go on.

The library-specific modules import their library only when used:

* :mod:`nnqs_fast.interop.jax`: ``empirical_qsntk_fn``, ``linearize``, ``check_holomorphic`` for JAX/flax/NetKet;
* :mod:`nnqs_fast.interop.torch`: ``empirical_qsntk_fn``, ``linearize`` for ``torch.nn.Module`` (``torch.func``);
* :mod:`nnqs_fast.netket`: NetKet models and variational states, basis maps, targets from operators.

:func:`empirical_qsntk_fn` and :func:`linearize` here pick the JAX or PyTorch front end from the model's type
(and, for a plain function, from the type of its parameters).
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


def _is_torch_params(params: Any) -> bool:
    return isinstance(params, dict) and bool(params) and all(
        (type(v).__module__ or "").startswith("torch") for v in params.values())


def linearize(apply_fn: Any, params: Any = None, **kwargs: Any) -> Callable:
    """jvp-based first-order Taylor model ``f_lin(p, x)``: a ``torch.nn.Module`` (or a function of a dict of torch
    tensors) goes to :func:`nnqs_fast.interop.torch.linearize`, anything else to
    :func:`nnqs_fast.interop.jax.linearize` (same contract and keyword arguments)."""
    if _is_torch_module(apply_fn) or _is_torch_params(params):
        from .torch import linearize as tlin
        return tlin(apply_fn, params, **kwargs)
    from .jax import linearize as lin
    return lin(apply_fn, params, **kwargs)
