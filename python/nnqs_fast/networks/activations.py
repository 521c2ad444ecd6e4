"""Activation registry: each activation's function, derivative and Gaussian *dual* live in its own networks/ file.

An activation ``σ`` is registered once (``register_activation``) with

* ``fn(z)`` and ``deriv(z)`` (element-wise, NumPy);
* ``dual(k12, k11, k22)``: the Gaussian expectations ``(E[σ(u) σ(v)], E[σ'(u) σ'(v)])`` for ``(u, v)`` jointly
  centred Gaussian with variances ``k11``, ``k22`` and covariance ``k12`` (arrays, broadcast). This is the only
  formula an infinite-width kernel needs: the dense-layer recursion (:func:`nnqs_fast.networks.dense.dense_kernels`,
  Eq. 5-7 in the NTK parameterisation) and the complex single-layer limit (Eq. S18) are written once against it;

The built-in activations register themselves on import of :mod:`nnqs_fast.networks` (every module of the package is
imported there), so a new activation is one new file in ``networks/`` (see CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError

__all__ = ["Activation", "register_activation", "get_activation", "activation_names"]

ArrayFn = Callable[[np.ndarray], np.ndarray]
DualFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Activation:
    """One activation: ``fn``, ``deriv`` and the Gaussian ``dual`` (see the module docstring); ``params_type``:
    the parameter class :meth:`~nnqs_fast.networks.DenseNet.init` returns (a ``DenseParams`` subclass; None:
    ``DenseParams``), for activations whose compiled paths check the parameter type (ReLU: ``ReLUParams``)."""

    name: str
    fn: ArrayFn
    deriv: ArrayFn
    dual: DualFn
    params_type: type | None = None


_REGISTRY: dict[str, Activation] = {}


def register_activation(act: Activation) -> Activation:
    """Add ``act`` to the registry (its name, lower case, must be new); returns it."""
    if not isinstance(act, Activation):
        raise InvalidInputError(f"register_activation takes an Activation(name, fn, deriv, dual), got "
                                f"{type(act).__name__}")
    key = act.name.lower()
    if key in _REGISTRY and _REGISTRY[key] is not act:
        raise InvalidInputError(f"an activation named {act.name!r} is already registered")
    _REGISTRY[key] = act
    return act


def get_activation(name: str | Activation) -> Activation:
    """The registered activation ``name`` (case-insensitive); an :class:`Activation` is returned as is."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise InvalidInputError(f"activation must be one of {', '.join(map(repr, activation_names()))}, "
                                f"got {name!r}")
    return _REGISTRY[name.lower()]


def activation_names() -> tuple[str, ...]:
    """Names of the registered activations, in registration order."""
    return tuple(_REGISTRY)
