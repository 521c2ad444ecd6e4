"""Losses and fidelity of predicted wavefunctions (Eqs. 13, 16–18).

All losses use the normalisation of Eq. 13: the mean over the points of the set, ``(1/|S|) Σ_{x∈S} |·|²``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_array, check_finite_output, check_index_array, check_positive_int
from ..errors import InvalidInputError, ShapeMismatchError

__all__ = ["mse_loss", "fidelity", "assemble_state"]


def _state(x: Any, name: str) -> np.ndarray:
    """A state: amplitudes on the last axis (a 0-d scalar is not a state: fidelity(1.0, 1.0) raised IndexError)."""
    a = as_array(x, name, ndim=None)
    if a.ndim < 1 or a.shape[-1] == 0:
        raise ShapeMismatchError(f"{name} must hold basis amplitudes on its last axis, got shape {a.shape}")
    return a


def mse_loss(psi: Any, psi_target: Any) -> np.ndarray | float:
    """``L = (1/|S|) Σ_x |ψ_T(x) − ψ(x)|²`` over the last axis (Eq. 13; Eq. 16 when ψ = μ).

    ``psi`` may carry leading axes (e.g. time, ensemble member); the result has those axes. Averaging the
    result over ensemble members gives Eq. 17.
    """
    p = _state(psi, "psi")
    t = _state(psi_target, "psi_target")
    if p.shape[-1] != t.shape[-1]:
        raise ShapeMismatchError(f"psi has {p.shape[-1]} points but psi_target has {t.shape[-1]}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.mean(np.abs(p - t) ** 2, axis=-1)
    check_finite_output(out, "mse_loss (the difference of the states overflows float64)")
    return float(out) if out.ndim == 0 else out


def fidelity(psi: Any, psi_target: Any) -> np.ndarray | float:
    """``|⟨ψ_T|ψ⟩|² / (⟨ψ|ψ⟩⟨ψ_T|ψ_T⟩)`` over the last axis (unnormalised states allowed; leading axes kept).

    Raises :class:`~nnqs_fast.errors.InvalidInputError` for a zero state instead of returning NaN.
    """
    p = _state(psi, "psi").astype(np.complex128)
    t = _state(psi_target, "psi_target").astype(np.complex128)
    # scale each state by its largest amplitude: the ratio is scale-free, and |psi|^2 no longer overflows
    p = p / np.maximum(np.max(np.abs(p), axis=-1, keepdims=True), np.finfo(float).tiny)
    t = t / np.maximum(np.max(np.abs(t), axis=-1, keepdims=True), np.finfo(float).tiny)
    if p.shape[-1] != t.shape[-1]:
        raise ShapeMismatchError(f"psi has {p.shape[-1]} basis amplitudes but psi_target has {t.shape[-1]}")
    overlap = np.sum(np.conj(t) * p, axis=-1)
    npsi = np.sum(np.abs(p) ** 2, axis=-1)
    nt = np.sum(np.abs(t) ** 2, axis=-1)
    if np.any(npsi == 0) or np.any(nt == 0):
        raise InvalidInputError("fidelity of a zero state is undefined (a state has norm 0)")
    out = np.minimum(np.abs(overlap) ** 2 / (npsi * nt), 1.0)  # Cauchy-Schwarz; clip round-off above 1
    return float(out) if np.ndim(out) == 0 else out


def assemble_state(train_idx: Any, test_idx: Any, train_values: Any, test_values: Any,
                   dim: int | None = None) -> np.ndarray:
    """Full-basis state from the train-point and test-point predictions (leading axes, e.g. time, allowed).

    ``train_idx``/``test_idx`` index the basis; together they must cover ``0 .. dim−1`` exactly once.
    """
    tr = check_index_array(train_idx, "train_idx").ravel()
    te = check_index_array(test_idx, "test_idx").ravel()
    dim = tr.size + te.size if dim is None else check_positive_int(dim, "dim")
    idx = np.concatenate([tr, te])
    if idx.size != dim or np.any(idx < 0) or np.any(idx >= dim) or np.unique(idx).size != dim:
        raise InvalidInputError(f"train_idx and test_idx must partition range({dim}) (each basis state once)")
    a = as_array(train_values, "train_values", ndim=None)
    b = as_array(test_values, "test_values", ndim=None)
    if a.ndim < 1 or b.ndim < 1:
        raise ShapeMismatchError("train_values and test_values must have the basis points on their last axis")
    if a.shape[-1] != tr.size or b.shape[-1] != te.size or a.shape[:-1] != b.shape[:-1]:
        raise ShapeMismatchError(f"values have shapes {a.shape} and {b.shape} for {tr.size} train and {te.size} "
                                 "test points")
    out = np.empty(a.shape[:-1] + (dim,), dtype=np.result_type(a, b, np.complex128))
    out[..., tr] = a
    out[..., te] = b
    return out
