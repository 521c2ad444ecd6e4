"""neural-tangents' ``nt.predict`` semantics, exactly, in NumPy/SciPy float64 (docs/interop.md, conversion table).

These functions follow neural-tangents 0.6.5 (checked against numbers generated with it:
tests/interop/data/nt_reference.npz, made by bench/peers/nt_reference_data.py). They are NOT the package's
paper conventions (``nnqs_fast.qsntk_mse_predictor``, ``qsntk_mse_ensemble``, ``qsntk_eta_max``,
``nngp_posterior``), which carry different names on purpose; the differences:

=====================  ==================================================  ===========================================
quantity               nnqs_fast.nt (= neural-tangents)                    nnqs_fast (paper, Eq. 13-15)
=====================  ==================================================  ===========================================
loss                   ``(1 / (2 y.size)) ||f - y||^2`` (real outputs)     ``(1/n) sum |psi_T - psi|^2`` (complex psi)
train ODE              ``df/dt = -(eta / y.size) K (f - y)``               ``de_j/dt = -(2 eta / n) Theta_j e_j``
time                   ``t`` steps, absolute time ``eta t``                ``t`` gradient-descent steps
max learning rate      ``2 (1 + momentum) y_train_size / lambda_max``      ``n / lambda_max(Theta)``
``diag_reg``           relative: ``diag_reg * trace(K) / n`` (default)     absolute, added to Theta1, Theta2
test predictions       when ``fx_test_0`` is not None                      when ``k_test_train`` is given
ensemble input         ``(kernel_fn, x_train, y_train)``                   Gram matrices
=====================  ==================================================  ===========================================

Only 2-d kernels ``(n, n)`` with ``trace_axes=(-1,)`` and ``y_train`` of shape ``(n, k)`` are supported (the
common case); other layouts raise :class:`~nnqs_fast.errors.InvalidInputError`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg as sla

from .._validation import as_array, check_finite_scalar
from ..errors import InvalidInputError, ShapeMismatchError

__all__ = ["gradient_descent_mse", "gradient_descent_mse_ensemble", "max_learning_rate", "Gaussian"]

Gaussian = namedtuple("Gaussian", ["mean", "covariance"])


def _k2(k: Any, name: str) -> np.ndarray:
    a = as_array(k, name, ndim=2, allow_complex=False).astype(np.float64, copy=False)
    return a


def _y2(y: Any) -> np.ndarray:
    a = as_array(y, "y_train", allow_complex=False).astype(np.float64, copy=False)
    if a.ndim != 2:
        raise InvalidInputError(f"y_train must have shape (n, k) as in neural-tangents (trace_axes=(-1,)), got "
                                f"{a.shape}; reshape a vector with y[:, None]")
    return a


def _check_trace_axes(trace_axes: Any) -> None:
    if tuple(np.atleast_1d(trace_axes).tolist()) not in ((-1,), (1,)):
        raise InvalidInputError(f"only trace_axes=(-1,) is supported, got {trace_axes!r}")


def _reg(K: np.ndarray, diag_reg: float, absolute: bool) -> np.ndarray:
    """neural-tangents' ``_add_diagonal_regularizer``: ``K + r I`` with ``r = diag_reg`` (absolute) or
    ``diag_reg * trace(K) / n`` (relative, the default)."""
    r = float(diag_reg) if absolute else float(diag_reg) * float(np.trace(K)) / K.shape[0]
    return K + r * np.eye(K.shape[0])


def max_learning_rate(ntk_train_train: Any, y_train_size: int | None = None, momentum: float = 0.,
                      eps: float = 1e-12) -> float:
    """``2 (1 + momentum) y_train_size / (lambda_max + eps)`` (neural-tangents' ``nt.predict.max_learning_rate``).

    Loss ``(1 / (2 y.size)) ||f - y||^2``; ``y_train_size=None`` means ``ntk_train_train.shape[0]`` (``trace_axes=()``
    kernels). Not the package's :func:`nnqs_fast.qsntk_eta_max` (``n / lambda_max`` for the paper's loss).
    """
    K = _k2(ntk_train_train, "ntk_train_train")
    if K.shape[0] != K.shape[1]:
        raise ShapeMismatchError(f"ntk_train_train must be square, got {K.shape}")
    factor = K.shape[0] if y_train_size is None else int(y_train_size)
    n = K.shape[0]
    lam = sla.eigvalsh(K, subset_by_index=[n - 1, n - 1])[-1]
    return float(2 * (1 + momentum) * factor / (lam + eps))


def _times(t: Any, learning_rate: float) -> tuple[np.ndarray, tuple[int, ...]]:
    ta = np.asarray(t, dtype=np.float64) * learning_rate
    return ta.reshape(-1, 1), ta.shape


class _Eig:
    def __init__(self, K: np.ndarray):
        w, V = np.linalg.eigh(K)
        self.w, self.V = w[None, :], V

    def expm1(self, t: np.ndarray, size: int) -> np.ndarray:  # (T, n)
        return np.expm1(-np.maximum(self.w, 0.) * t / size)

    def inv_expm1(self, t: np.ndarray, size: int) -> np.ndarray:
        return self.expm1(t, size) / np.abs(self.w)

    def apply(self, f: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``V f(t) V^T y`` for every time: ``(T, n, k)``."""
        return np.einsum("ji,ti,ki,kc->tjc", self.V, f, self.V, y, optimize=True)


def gradient_descent_mse(k_train_train: Any, y_train: Any, learning_rate: float = 1., diag_reg: float = 0.,
                         diag_reg_absolute_scale: bool = False, trace_axes: Any = (-1,)) -> Callable:
    """neural-tangents' ``nt.predict.gradient_descent_mse``: closed-form gradient flow on
    ``(1 / (2 y.size)) ||f - y||^2``, ``f(t) - y = exp(-eta K t / y.size) (f(0) - y)``.

    Returns ``predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None)`` giving ``fx_train_t`` or
    ``(fx_train_t, fx_test_t)`` (test predictions when ``fx_test_0`` is not None; ``fx_train_0=None`` skips the
    train set), with leading time axes of ``t``'s shape; ``t=None`` is infinite time (Cholesky solve).
    """
    _check_trace_axes(trace_axes)
    y = _y2(y_train)
    K = _k2(k_train_train, "k_train_train")
    if K.shape != (y.shape[0], y.shape[0]):
        raise ShapeMismatchError(f"k_train_train {K.shape} must be ({y.shape[0]}, {y.shape[0]}) for y_train {y.shape}")
    lr = check_finite_scalar(learning_rate, "learning_rate")
    Kr = _reg(K, diag_reg, diag_reg_absolute_scale)
    size = y.size
    cache: dict[str, Any] = {}

    def predict_fn(t: Any = None, fx_train_0: Any = 0., fx_test_0: Any = None, k_test_train: Any = None) -> Any:
        if fx_test_0 is not None and k_test_train is None:
            raise InvalidInputError("fx_test_0 is given but k_test_train is None (neural-tangents semantics: test "
                                    "predictions need both)")
        if fx_train_0 is None and fx_test_0 is None:
            raise InvalidInputError("both fx_train_0 and fx_test_0 are None: nothing to predict")
        f0 = None if fx_train_0 is None else np.broadcast_to(np.asarray(fx_train_0, np.float64), y.shape)
        ft0 = None
        Ktd = None
        if fx_test_0 is not None:
            Ktd = _k2(k_test_train, "k_test_train")
            if Ktd.shape[1] != y.shape[0]:
                raise ShapeMismatchError(f"k_test_train has {Ktd.shape[1]} columns, y_train {y.shape[0]} rows")
            ft0 = np.broadcast_to(np.asarray(fx_test_0, np.float64), (Ktd.shape[0], y.shape[1]))
        if t is None:
            if "cho" not in cache:
                cache["cho"] = sla.cho_factor(Kr, lower=False)
            train = y.copy()
            if ft0 is None:
                return train
            rhs = y if f0 is None else y - f0
            test = ft0 + Ktd @ sla.cho_solve(cache["cho"], rhs)
            return test if f0 is None else (train, test)
        if "eig" not in cache:
            cache["eig"] = _Eig(Kr)
        eig = cache["eig"]
        tt, tshape = _times(t, lr)
        rhs = -y if f0 is None else f0 - y
        out_train = out_test = None
        if f0 is not None:
            d = eig.apply(eig.expm1(tt, size), rhs)
            out_train = (f0[None] + d).reshape(tshape + y.shape)
        if ft0 is not None and Ktd is not None:
            d = eig.apply(eig.inv_expm1(tt, size), rhs)
            out_test = (ft0[None] + np.einsum("mn,tnc->tmc", Ktd, d)).reshape(tshape + ft0.shape)
        if out_train is not None and out_test is not None:
            return out_train, out_test
        return out_train if out_test is None else out_test

    return predict_fn


def _get_tuple(get: Any) -> tuple[tuple[str, ...], bool]:
    if get is None:
        return ("nngp", "ntk"), False
    if isinstance(get, str):
        names, single = (get,), True
    else:
        names, single = tuple(get), False
    for g in names:
        if g not in ("nngp", "ntk"):
            raise InvalidInputError(f"get must name 'nngp' and/or 'ntk', got {g!r}")
    return names, single


def gradient_descent_mse_ensemble(kernel_fn: Callable, x_train: Any, y_train: Any, learning_rate: float = 1.,
                                  diag_reg: float = 0.0, diag_reg_absolute_scale: bool = False,
                                  trace_axes: Any = (-1,), **kernel_fn_train_train_kwargs: Any) -> Callable:
    """neural-tangents' ``nt.predict.gradient_descent_mse_ensemble``: mean (and covariance) of an infinite ensemble
    trained by gradient flow on ``(1 / (2 y.size)) ||f - y||^2``.

    ``kernel_fn(x1, x2, get, **kwargs)`` returns an array for a string ``get`` (or an object with ``nngp`` /
    ``ntk`` attributes); the package's analytic ``kernel_fn``s qualify. Returns
    ``predict_fn(t=None, x_test=None, get=None, compute_cov=False)``: for a string ``get`` the mean (or a
    :data:`Gaussian` ``(mean, covariance)``), for a tuple (default ``("nngp", "ntk")``) a namedtuple
    ``Gaussians`` of them; ``x_test=None`` predicts on the train set.
    """
    _check_trace_axes(trace_axes)
    y = _y2(y_train)
    lr = check_finite_scalar(learning_rate, "learning_rate")
    size = y.size
    kdd: dict[str, np.ndarray] = {}
    eigs: dict[str, _Eig] = {}
    chos: dict[str, Any] = {}

    def kern(x1: Any, x2: Any, g: str, **kw: Any) -> np.ndarray:
        k = kernel_fn(x1, x2, g, **kw)
        return _k2(getattr(k, g) if hasattr(k, g) else k, f"kernel_fn(..., get={g!r})")

    def train(g: str) -> np.ndarray:
        if g not in kdd:
            kdd[g] = kern(x_train, None, g, **kernel_fn_train_train_kwargs)
            if kdd[g].shape != (y.shape[0], y.shape[0]):
                raise ShapeMismatchError(f"kernel_fn(x_train, None, {g!r}) has shape {kdd[g].shape}, expected "
                                         f"({y.shape[0]}, {y.shape[0]})")
        return kdd[g]

    def eig(g: str) -> _Eig:
        if g not in eigs:
            eigs[g] = _Eig(_reg(train(g), diag_reg, diag_reg_absolute_scale))
        return eigs[g]

    def solve(g: str, b: np.ndarray) -> np.ndarray:
        if g not in chos:
            chos[g] = sla.cho_factor(_reg(train(g), diag_reg, diag_reg_absolute_scale), lower=False)
        return sla.cho_solve(chos[g], b)

    def predict_fn(t: Any = None, x_test: Any = None, get: Any = None, compute_cov: bool = False,
                   **kernel_fn_test_test_kwargs: Any) -> Any:
        names, single = _get_tuple(get)
        need_nngp = "nngp" in names or compute_cov
        kw = {**kernel_fn_train_train_kwargs, **kernel_fn_test_test_kwargs}
        ktd: dict[str, np.ndarray] = {}
        ktt = None
        if x_test is not None:
            for g in (("nngp",) if need_nngp else ()) + (("ntk",) if "ntk" in names else ()):
                ktd[g] = kern(x_test, x_train, g, **kw)
            if compute_cov:
                ktt = kern(x_test, None, "nngp", **kw)
        out: dict[str, Any] = {}
        for g in names:
            if t is None:
                mean = y.copy() if x_test is None else ktd[g] @ solve(g, y)
                cov = None
                if compute_cov:
                    if x_test is None:
                        cov = np.zeros_like(train(g))
                    elif g == "nngp":
                        cov = ktt - ktd["nngp"] @ solve("nngp", ktd["nngp"].T)
                    else:
                        term_1 = solve("ntk", ktd["ntk"].T)                    # Theta^-1 Theta_dt
                        c = term_1.T @ train("nngp") @ term_1
                        term_2 = ktd["ntk"] @ solve("ntk", ktd["nngp"].T)     # Theta_td Theta^-1 K_dt
                        cov = c - (term_2 + term_2.T) + ktt
                out[g] = mean if cov is None else Gaussian(mean, cov)
                continue
            tt, tshape = _times(t, lr)
            e = eig(g)
            if x_test is None:
                mean = e.apply(-e.expm1(tt, size), y)
            else:
                mean = np.einsum("lj,tjc->tlc", ktd[g], e.apply(-e.inv_expm1(tt, size), y))
            mean = mean.reshape(tshape + mean.shape[1:])
            cov = None
            if compute_cov:
                V, lam = e.V, np.maximum(e.w, 0.)
                if x_test is None:
                    if g == "nngp":
                        cov = np.einsum("ji,ti,ki->tjk", V, lam * np.exp(-2 * lam * tt / size), V)
                    else:
                        E = np.einsum("mi,ti,ki->tmk", V, np.exp(-lam * tt / size), V)
                        cov = np.einsum("tmk,kl,tnl->tmn", E, train("nngp"), E)
                else:
                    assert ktt is not None  # compute_cov with x_test: fetched above
                    if g == "nngp":
                        A = ktd["nngp"] @ V
                        cov = ktt[None] - np.einsum("mi,ti,li->tml", A, -e.inv_expm1(2 * tt, size), A)
                    else:
                        neg = -e.inv_expm1(tt, size)
                        term_1 = np.einsum("mi,ti,ki,lk->tml", V, neg, V, ktd["ntk"])
                        term_2 = np.einsum("mi,ti,li->tml", ktd["ntk"] @ V, neg, ktd["nngp"] @ V)
                        term_2 = term_2 + np.swapaxes(term_2, 1, 2)
                        cov = np.einsum("tji,jk,tkl->til", term_1, train("nngp"), term_1) - term_2 + ktt[None]
                cov = cov.reshape(tshape + cov.shape[1:])
            out[g] = mean if cov is None else Gaussian(mean, cov)
        if single:
            return out[names[0]]
        return namedtuple("Gaussians", names)(*(out[g] for g in names))

    return predict_fn
