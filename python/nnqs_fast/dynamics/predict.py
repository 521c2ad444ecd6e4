"""Closed-form gradient-descent dynamics of the linearised ∞-NNQS (Eqs. 13–15) and NNGP inference.

Conventions (CONTRIBUTING.md, "Conventions")
---------------------------------
* Loss (Eq. 13): ``L = (1/n) Σ_{x∈B} |ψ_T(x) − ψ(x)|²`` with ``n = |B|`` the number of train points.
* Gradient descent on the parameters, ``θ ← θ − η ∇_θ L``. Time ``t`` is measured in gradient-descent steps.
* Decoupled ψ = ψ1 + iψ2 (zero mixing kernel, Supplementary II): with NTKs Θ1, Θ2 of ψ1, ψ2 the train errors
  ``e_j = ψ_j − ψ_{T,j}`` obey ``e_j(t) = exp(−(2η/n) Θ_j t) e_j(0)`` (continuous) or
  ``e_j(k) = (1 − (2η/n) Θ_j)^k e_j(0)`` (discrete steps, exact).
* Complex QS-NTK (Eq. 13): ``dΨ/dt = −(η/n) ΩM (Ψ − Ψ_T)``, Ψ = (ψ, ψ*), M = [[0, 1], [1, 0]]; ΩM is Hermitian
  PSD and ``ΩM = R Ω_RI R^H`` (R = [[1, i], [1, −i]]), so both forms describe the same flow. Discrete:
  ``Ψ ← Ψ − (η/n) ΩM (Ψ − Ψ_T)``.
* Test points follow Eq. 15: ``ψ_x(t) = ψ_x(0) + Ω_xB Ω_BB^{-1} (1 − e^{−ΩM τ}) (Ψ_T − Ψ(0))`` with the
  τ-scaling above; τ → ∞ gives kernel regression ``Ω_xB Ω_BB^{-1}`` on the initial residual.
* Maximal stable learning rate for discrete steps: ``η_max = n / λ_max(Θ)`` (min over Θ1, Θ2; equivalently
  ``2n / λ_max(ΩM)``). The continuous-time solution exists for every η (it is then just a time rescaling).
* ``diag_reg`` is added to the diagonal of the real-part kernels Θ1, Θ2 (i.e. Ω_RI + r·1, ΩM + 2r·1).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .._backend import FollowsInputs, dispatch, follows_inputs, implementation
from .._validation import as_array, check_choice, check_chunk_size, check_finite_scalar, check_positive_int
from ..errors import ConvergenceWarning, InvalidInputError, ShapeMismatchError
from ..kernels.spectrum import eta_max_from_lambda
from . import _krylov
from ._krylov import KRYLOV_MIN_N, KRYLOV_WORK_BUDGET, KrylovSpace, krylov_propagate
from ._spectral import SpectralFlow, apply, host_eigh
from ._structure import KernelSpec, as_initial, as_targets, check_same_form, omega_m, parse_kernel, parse_train_kernel

__all__ = ["qsntk_mse_predictor", "GradientDescentPredictor", "nngp_posterior", "GPInference", "Gaussian"]

#: default number of test rows of the test-train kernel handled at once
DEFAULT_TEST_CHUNK = 1024
#: evaluation methods of :func:`qsntk_mse_predictor` at finite times
METHODS = ("auto", "eigh", "krylov")


def _max_learning_rate(k_train_train: Any, n_train: int | None = None) -> float:
    """Largest stable learning rate ``η_max = n / λ_max(Θ_train)`` for discrete GD on the loss of Eq. 13.

    Accepts every kernel form of :func:`qsntk_mse_predictor` and defers to
    :func:`nnqs_fast.kernels.qsntk_eta_max` (the one home of the formula): a pair gives the minimum over
    Θ1, Θ2; Ω and Ω_RI give ``2n / λ_max(ΩM)`` (equal to ``n / λ_max(Ω_RI)``). A real ``(2n, 2n)`` array is read
    as Ω_RI only when ``n_train = n`` is given.
    """
    from ..kernels import qsntk_eta_max, qsntk_from_parts

    k = k_train_train
    if not (isinstance(k, (tuple, list)) or hasattr(k, "phi") or hasattr(k, "theta1")):
        a = as_array(k, "k_train_train", ndim=2, dtype=np.float64)
        n = n_train or (a.shape[0] if not np.iscomplexobj(a) else a.shape[0] // 2)
        spec = parse_train_kernel(a, n)
    else:
        spec = parse_kernel(k, "k_train_train", square=True)
    if spec.kind in ("single", "pair"):
        return float(qsntk_eta_max(*spec.mats))
    if spec.kind == "ri":
        o, n = spec.mats[0], spec.n_rows
        return float(qsntk_eta_max(qsntk_from_parts(o[:n, :n], o[n:, n:], o[:n, n:], o[n:, :n])))
    return float(qsntk_eta_max(omega_m(spec.mats[0]), omega_m=True))


# ---------------------------------------------------------------------------------------------------------------
# channels: how ψ maps onto the state vector of one SpectralFlow, for each kernel form
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Channel:
    flow: SpectralFlow
    enc: Callable[[np.ndarray], np.ndarray]       # ψ on train points -> state
    dec: Callable[[np.ndarray], np.ndarray]       # state (N_s, ...) -> contribution to ψ on train points
    test_rows: Callable[[KernelSpec], np.ndarray]  # test-train kernel chunk -> rows acting on the state
    enc_test: Callable[[np.ndarray], np.ndarray]  # ψ on test points -> test state
    dec_test: Callable[[np.ndarray], np.ndarray]  # test state -> contribution to ψ on test points


def _times(unit: complex) -> Callable[[np.ndarray], np.ndarray]:
    """``s -> unit * s``."""
    return lambda s: unit * s


def _rows_of(j: int) -> Callable[[KernelSpec], np.ndarray]:
    """Part ``j`` of a ``"pair"`` test-train chunk (the single matrix otherwise)."""
    return lambda s: s.mats[j] if s.kind == "pair" else s.mats[0]


def _build_channels(spec: KernelSpec, n: int, lr: float, diag_reg: float, discrete: bool,
                    eigh: Any = None) -> list[_Channel]:
    c_real = 2.0 * lr / n
    def ident(s: np.ndarray) -> np.ndarray:
        return s
    if spec.kind == "single":
        H = _add_diag(spec.mats[0], diag_reg)
        flow = SpectralFlow(H, c_real, discrete=discrete, what="the NTK Θ of the train points", eigh=eigh)
        return [_Channel(flow, ident, ident, lambda s: s.mats[0], ident, ident)]
    if spec.kind == "pair":
        out = []
        for j, (part, unit) in enumerate((("real", 1.0), ("imaginary", 1j))):
            H = _add_diag(spec.mats[j], diag_reg)
            flow = SpectralFlow(H, c_real, discrete=discrete, what=f"the {part}-part NTK Θ{j + 1} of the train points",
                                eigh=eigh)
            take = (np.real if j == 0 else np.imag)
            out.append(_Channel(flow, take, _times(unit), _rows_of(j), take, _times(unit)))
        return out
    if spec.kind == "ri":
        H = _add_diag(spec.mats[0], diag_reg)
        flow = SpectralFlow(H, c_real, discrete=discrete, what="the real-imaginary QS-NTK Ω_RI of the train points",
                            eigh=eigh)

        def enc(psi: np.ndarray) -> np.ndarray:
            return np.concatenate([psi.real, psi.imag])

        def dec(s: np.ndarray) -> np.ndarray:
            h = s.shape[0] // 2
            return s[:h] + 1j * s[h:]

        return [_Channel(flow, enc, dec, lambda s: s.mats[0], enc, dec)]
    # omega: Ψ = (ψ, ψ*), H = ΩM (Hermitian), rate η/n
    H = _add_diag(omega_m(spec.mats[0]), 2.0 * diag_reg)
    flow = SpectralFlow(H, lr / n, discrete=discrete, what="the QS-NTK ΩM of the train points", eigh=eigh)

    def enc_o(psi: np.ndarray) -> np.ndarray:
        return np.concatenate([psi, psi.conj()])

    def dec_o(s: np.ndarray) -> np.ndarray:
        return s[: s.shape[0] // 2]

    def rows_o(s: KernelSpec) -> np.ndarray:
        top = s.mats[0][: s.n_rows]           # ψ rows of Ω_xB: [Θ_xB, Φ_xB]
        return omega_m(top)                    # (Ω_xB M) rows: [Φ_xB, Θ_xB]

    return [_Channel(flow, enc_o, dec_o, rows_o, ident, ident)]


def _add_diag(H: np.ndarray, r: float) -> np.ndarray:
    if r == 0.0:
        return H
    H = np.array(H, copy=True)
    H[np.diag_indices_from(H)] += r
    return H


def _check_times(t: Any, discrete: bool) -> tuple[np.ndarray | None, bool]:
    """Returns (times as 1-d float array or None for ∞, scalar?)."""
    if t is None:
        return None, True
    arr = as_array(t, "t", dtype=np.float64, allow_complex=False, finite=False)
    if np.any(np.isnan(arr)):
        raise InvalidInputError("t contains NaN")
    if arr.ndim > 1:
        raise ShapeMismatchError(f"t must be a scalar or a 1-d array of times, got shape {arr.shape}")
    if np.any(arr < 0):
        raise InvalidInputError(f"t must be >= 0 (training time in gradient-descent steps), got min {arr.min()}")
    if discrete and np.any((arr != np.round(arr)) & np.isfinite(arr)):
        raise InvalidInputError("discrete=True predicts after whole gradient-descent steps: t must be integers")
    return np.atleast_1d(arr), arr.ndim == 0


class _TestSource:
    """Rows of the test-train kernel, from an array-like structure or a callable ``k(start, stop)``."""

    def __init__(self, k: Any, train: KernelSpec, n_test: int | None, chunk_size: int | None) -> None:
        self.train = train
        self.chunk = check_chunk_size(chunk_size) or DEFAULT_TEST_CHUNK
        if callable(k) and not hasattr(k, "__array__"):
            if n_test is None:
                raise InvalidInputError("k_test_train is a callable: pass n_test (number of test points) or an "
                                        "array fx_test_0")
            self.fn = k
            self.spec: Any = None
            self.m = check_positive_int(n_test, "n_test")
        else:
            self.fn = None
            self.spec = parse_kernel(k, "k_test_train", n_cols=train.n_rows, square=False)
            check_same_form(train, self.spec, "k_test_train")
            self.m = self.spec.n_rows
            if n_test is not None and n_test != self.m:
                raise ShapeMismatchError(f"n_test={n_test} but k_test_train has {self.m} test points")

    def chunks(self):
        for a in range(0, self.m, self.chunk):
            b = min(a + self.chunk, self.m)
            if self.fn is not None:
                s = parse_kernel(self.fn(a, b), f"k_test_train({a}, {b})", n_cols=self.train.n_rows, square=False)
                check_same_form(self.train, s, "k_test_train chunk")
                if s.n_rows != b - a:
                    raise ShapeMismatchError(f"k_test_train({a}, {b}) returned {s.n_rows} rows, expected {b - a}")
            else:
                s = _slice_spec(self.spec, a, b)
            yield a, b, s


def _slice_spec(spec: KernelSpec, a: int, b: int) -> KernelSpec:
    if spec.kind in ("single", "pair"):
        return KernelSpec(spec.kind, tuple(m[a:b] for m in spec.mats), b - a)
    m, h = spec.mats[0], spec.n_rows
    return KernelSpec(spec.kind, (np.concatenate([m[a:b], m[h + a:h + b]]),), b - a)


class GradientDescentPredictor(FollowsInputs):
    """``predict_fn`` returned by :func:`qsntk_mse_predictor` (callable; caches one factorisation per kernel).

    ``eigh``: the eigensolver of the backend (``"dynamics.eigh"``; default LAPACK). ``method``: how finite times
    are evaluated (``"auto" | "eigh" | "krylov"``, see :func:`qsntk_mse_predictor`)."""

    def __init__(self, spec: KernelSpec, y: np.ndarray, learning_rate: float, diag_reg: float, discrete: bool,
                 eigh: Any = None, method: str = "auto"):
        self.kind = spec.kind
        self.n = spec.n_rows
        self.y = y
        self.learning_rate = learning_rate
        self.diag_reg = diag_reg
        self.discrete = discrete
        self.method = check_choice(method, "method", METHODS)
        self._spec = spec
        self._channels = _build_channels(spec, self.n, learning_rate, diag_reg, discrete, eigh)
        host = eigh is None or eigh is host_eigh
        for ch in self._channels:
            ch.flow.krylov = self.method == "krylov" or (self.method == "auto" and host
                                                         and ch.flow.n >= KRYLOV_MIN_N)
        self._krylov_cache: list[tuple[np.ndarray, KrylovSpace] | None] = [None] * len(self._channels)
        self._krylov_work = [0] * len(self._channels)
        self._checked = False

    def _uses_krylov(self, i: int) -> bool:
        """The documented rule of ``method="auto"`` (see :func:`qsntk_mse_predictor`) for channel ``i``."""
        flow = self._channels[i].flow
        if not flow.krylov or flow._eig is not None:  # eigh asked for, device eigensolver, small n, or cached
            return False
        return self.method == "krylov" or self._krylov_work[i] < KRYLOV_WORK_BUDGET * flow.n

    def _krylov(self, i: int, s0: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(p(H, t) s0, g(H, t) s0)`` as ``(N_s, T)`` arrays from a Krylov space of ``H`` (module ``_krylov``);
        ``t = 0`` exactly, ``t = ∞`` by the Cholesky solve. ``None`` (with a warning) when it did not converge."""
        flow = self._channels[i].flow
        split = False
        if np.iscomplexobj(s0) and not np.iscomplexobj(flow.H):  # real H: real and imaginary parts, one block
            split = bool(np.any(s0.imag))
            s0 = s0 if split else s0.real                   # real targets and ψ(0): one real column
        S = np.stack([s0.real, s0.imag], axis=1) if split else s0[:, None]
        cached = self._krylov_cache[i]
        if cached is not None and cached[0].shape == S.shape and np.array_equal(cached[0], S):
            space = cached[1]
        else:
            space = KrylovSpace(flow.H, S, max_dim=_krylov.max_dimension(flow.n))
            self._krylov_cache[i] = (S.copy(), space)
        n_s, b, T = S.shape[0], S.shape[1], times.size
        PS = np.zeros((n_s, T, b), S.dtype)
        GS = np.zeros((n_s, T, b), S.dtype)
        PS[:, times == 0, :] = S[:, None, :]
        inf = np.isinf(times)
        if np.any(inf):
            GS[:, inf, :] = flow.solve(S)[:, None, :]
        fin = (times > 0) & ~inf
        if np.any(fin):
            before = space.matvecs
            out = krylov_propagate(space, flow.c, times[fin], flow.discrete, what=flow.what)
            self._krylov_work[i] += space.matvecs - before
            if out is None:
                warnings.warn(ConvergenceWarning.krylov(flow.what, space.p, float(times[fin].max())), stacklevel=3)
                self._krylov_cache[i] = None
                return None
            PS[:, fin], GS[:, fin] = out
        if split:
            return PS[:, :, 0] + 1j * PS[:, :, 1], GS[:, :, 0] + 1j * GS[:, :, 1]
        return PS[:, :, 0], GS[:, :, 0]

    @property
    def max_learning_rate(self) -> float:
        """``η_max`` of these kernels (from the cached eigendecomposition; computes it if needed)."""
        # each channel steps e <- (I - c H) e with c = (2 η / n) per unit η: η_max = n / λ_max, n = 2 η / c
        return float(min(eta_max_from_lambda(ch.flow.lam_max, 2.0 * self.learning_rate / ch.flow.c, what=ch.flow.what)
                         for ch in self._channels))

    def _check_lr(self) -> None:
        if self.discrete and not self._checked:
            eta_max = self.max_learning_rate
            for ch in self._channels:
                ch.flow.check_discrete_stable(self.learning_rate, eta_max)
            self._checked = True

    @follows_inputs
    def __call__(self, t: Any = None, fx_train_0: Any = 0.0, fx_test_0: Any = None, k_test_train: Any = None, *,
                 n_test: int | None = None, chunk_size: int | None = None) -> Any:
        """Predicted ψ on the train points (and the test points when ``k_test_train`` is given).

        Args:
          t: training time in gradient-descent steps: scalar, 1-d array, or ``None`` for τ → ∞. With
            ``discrete=True`` times must be whole numbers of steps.
          fx_train_0: ψ(0) on the train points (complex, scalar or ``(n,)``); 0 gives the ensemble mean μ (Eq. 15).
          fx_test_0: ψ(0) on the test points (scalar or ``(m,)``; default 0).
          k_test_train: kernel between test and train points, in the same form as ``k_train_train`` (rows = test
            points), or a callable ``k(start, stop)`` returning the rows ``start:stop`` in that form (then pass
            ``n_test`` or an array ``fx_test_0``); consumed ``chunk_size`` rows at a time.

        Returns:
          ``fx_train_t`` (complex, ``(n,)`` or ``(T, n)``), or ``(fx_train_t, fx_test_t)`` with a test kernel.
        """
        times, scalar = _check_times(t, self.discrete)
        f0 = as_initial(fx_train_0, self.n, "fx_train_0")
        e0 = f0 - self.y
        self._check_lr()  # t=None (the tau -> inf limit) needs a stable rate too: above eta_max there is no limit
        train = np.zeros((1 if times is None else times.size, self.n), np.complex128)
        Ws = []
        for i, ch in enumerate(self._channels):
            s0 = ch.enc(e0)
            if times is None:
                W = ch.flow.solve(s0)[:, None]
                train += ch.dec(ch.enc(self.y)[:, None]).T
                Ws.append(W)
                continue
            res = self._krylov(i, s0, times) if self._uses_krylov(i) else None
            if res is None:                              # the eigenbasis (cached after the first call)
                if np.any(np.isinf(times)):
                    ch.flow.check_invertible()
                z = ch.flow.project(s0)
                P, G = ch.flow.factors(times)
                zc = z[:, None]
                res = ch.flow.expand(P * zc), ch.flow.expand(G * zc)
            train += ch.dec(ch.enc(self.y)[:, None] + res[0]).T
            Ws.append(res[1])
        train_out = train[0] if scalar else train
        if k_test_train is None:
            return train_out
        if fx_test_0 is not None and n_test is None and np.ndim(fx_test_0) == 1:
            n_test = int(np.shape(fx_test_0)[0])
        src = _TestSource(k_test_train, self._spec, n_test, chunk_size)
        ft0 = as_initial(0.0 if fx_test_0 is None else fx_test_0, src.m, "fx_test_0")
        test = np.empty((train.shape[0], src.m), np.complex128)
        for a, b, s in src.chunks():
            acc = np.zeros((b - a, train.shape[0]), np.complex128)
            for ch, W in zip(self._channels, Ws):
                rows = ch.test_rows(s)
                st0 = ch.enc_test(ft0[a:b])
                acc += ch.dec_test(st0[:, None] - apply(rows, W))
            test[:, a:b] = acc.T
        return train_out, (test[0] if scalar else test)


@dispatch("dynamics.gradient_descent_mse")
def qsntk_mse_predictor(k_train_train: Any, y_train: Any, learning_rate: float, diag_reg: float = 0.0,
                         discrete: bool = False, backend: str = "auto", *,
                         method: str = "auto") -> GradientDescentPredictor:
    """Exact training dynamics of the linearised ∞-NNQS under full-batch GD on the loss of Eq. 13.

    Implements Eqs. 13–15: the train error decays as ``exp(−(2η/n) Θ t)`` per real part (decoupled) or
    ``exp(−(η/n) ΩM t)`` (complex QS-NTK), test points follow the kernel-regression solution of Eq. 15.
    Loss ``L = (1/n) Σ_B |ψ_T − ψ|²``; parameter update ``θ ← θ − η ∇L``; time in gradient-descent steps
    (``discrete=True``: exact ``(1 − (2η/n) Θ)^k`` propagator after ``k`` whole steps).

    Args:
      k_train_train: the train-train kernel, one of: a real ``(n, n)`` NTK used for both ψ1 and ψ2; a pair
        ``(Θ1, Θ2)`` (decoupled, zero mixing); a real ``(2n, 2n)`` Ω_RI (Eq. S6); a complex ``(2n, 2n)`` QS-NTK
        Ω = [[Θ, Φ], [Φ*, Θ*]] (Eq. 8); or a QS-NTK object with ``theta1/theta2/mixing`` or ``theta/phi``.
      y_train: complex target amplitudes ψ_T on the train points, shape ``(n,)``.
      learning_rate: η. With ``discrete=True`` it must be below ``η_max = n / λ_max`` (else
        :class:`~nnqs_fast.errors.LearningRateTooLargeError`); continuous time accepts any η > 0.
      diag_reg: added to the diagonal of the real-part kernels (Θ1, Θ2; i.e. Ω_RI + r, ΩM + 2r).
      discrete: continuous gradient flow (False) or whole gradient-descent steps (True).
      backend: ``"auto" | "cpu" | "cuda"``.
      method: how finite times are evaluated (every method gives the same result to ~1e-12 relative):

        * ``"eigh"``: one float64 eigendecomposition per distinct kernel (computed at the first finite ``t``,
          cached and reused for every later call, any ``fx_train_0``); right for many calls with different
          initial functions, or with the CUDA backend (cuSOLVER).
        * ``"krylov"``: no eigendecomposition. Block Lanczos with full reorthogonalisation on the kernel,
          started from the initial residual ``e0 = ψ_B(0) − ψ_T`` (its real and imaginary parts as one block),
          evaluates ``exp(−(2η/n)Θt) e0`` (resp. ``(1 − (2η/n)Θ)^k e0``) and ``Θ^{-1}(1 − ·) e0`` for all
          requested times from the same basis (both are entire functions of Θ: no inverse at finite ``t``); it
          stops when the result changes by less than 1e-12 relative between successive dimensions, ``t = 0`` is
          exact and ``t = ∞`` is a Cholesky solve (module ``nnqs_fast.dynamics._krylov``). Cost: tens to a few
          hundred matrix–vector products (n = 2400 ReLU NTK, 50 times up to 10⁴ steps at 0.9 η_max: ~70, under
          10 % of one ``eigh``). The space is kept for later calls with the same ``fx_train_0``. If it has not
          converged at ``max(600, n/4)`` vectors, a :class:`~nnqs_fast.errors.ConvergenceWarning` is issued and
          the eigendecomposition is used (and cached). Discrete steps check η against ``λ_max`` from Lanczos.
        * ``"auto"`` (default): ``"krylov"`` when the backend's eigensolver is the host LAPACK one, the kernel has
          at least ``KRYLOV_MIN_N = 1024`` rows and no eigendecomposition is cached, until the Krylov work spent on
          this predictor reaches ``n/2`` matrix–vector products (about half an ``eigh``); then ``"eigh"``.

    Returns:
      ``predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None)``; see
      :meth:`GradientDescentPredictor.__call__`. ``t=None`` (τ → ∞) uses a Cholesky solve unless the
      eigendecomposition is already cached. Singular or indefinite kernels raise
      :class:`~nnqs_fast.errors.KernelNotPositiveDefiniteError` with the smallest eigenvalue and a ``diag_reg``
      (the Krylov path detects indefiniteness from its Ritz values, i.e. in the directions ``e0`` excites).
    """
    y = as_targets(y_train)
    lr = check_finite_scalar(learning_rate, "learning_rate", positive=True)
    r = check_finite_scalar(diag_reg, "diag_reg", nonnegative=True)
    spec = parse_train_kernel(k_train_train, y.shape[0])
    return GradientDescentPredictor(spec, y, lr, r, bool(discrete), implementation("dynamics.eigh", backend),
                                    method)


# ---------------------------------------------------------------------------------------------------------------
# NNGP Bayesian inference
# ---------------------------------------------------------------------------------------------------------------
class Gaussian(NamedTuple):
    """Gaussian prediction for ψ = ψ1 + iψ2 with independent real parts: mean (complex) and the covariances of
    ψ1 and ψ2 (``(m,)`` variances or ``(m, m)`` matrices; leading time axis when several times are asked for).
    ``E|ψ_x − mean_x|² = cov_re[x] + cov_im[x]`` (variance form)."""

    mean: np.ndarray
    cov_re: np.ndarray | None
    cov_im: np.ndarray | None


class GPInference(FollowsInputs):
    """``predict_fn`` returned by :func:`nngp_posterior` (``eigh``: the backend's eigensolver, default LAPACK)."""

    def __init__(self, spec: KernelSpec, y: np.ndarray, diag_reg: float, eigh: Any = None) -> None:
        self.spec = spec
        self.y = y
        self.diag_reg = diag_reg
        n = spec.n_rows
        if spec.kind == "single":
            f = SpectralFlow(_add_diag(spec.mats[0], diag_reg), 1.0, discrete=False,
                             what="the NNGP kernel of the train points", eigh=eigh)
            self._parts = [(f, f)]
        elif spec.kind == "pair":
            self._parts = [(SpectralFlow(_add_diag(m, diag_reg), 1.0, discrete=False,
                                         what=f"the {p}-part NNGP kernel of the train points", eigh=eigh),) * 2
                           for m, p in zip(spec.mats, ("real", "imaginary"))]
        else:
            raise InvalidInputError("nngp_posterior takes one real NNGP kernel or a pair (K_re, K_im); the complex / "
                                    "mixed forms have no independent real parts")
        self.n = n

    @follows_inputs
    def __call__(self, k_test_train: Any = None, k_test_test: Any = None, *, get_cov: str | None = "variance",
                 ) -> Gaussian:
        """Posterior on the test points (train points when ``k_test_train`` is None):

        ``mean = K_xB (K_BB + r)^{-1} ψ_T``, ``cov = K_xx − K_xB (K_BB + r)^{-1} K_Bx`` for each real part.
        ``get_cov``: ``"variance"`` (needs the diagonal of ``k_test_test`` or the full matrix), ``"full"`` or None.
        """
        if get_cov not in ("variance", "full", None):
            raise InvalidInputError(f"get_cov must be 'variance', 'full' or None, got {get_cov!r}")
        train_only = k_test_train is None
        kxx: Any = None
        if train_only:
            kx = self.spec
            kxx = self.spec
        else:
            kx = parse_kernel(k_test_train, "k_test_train", n_cols=self.n, square=False)
            check_same_form(self.spec, kx, "k_test_train")
            kxx = None
            if get_cov is not None:
                if k_test_test is None:
                    raise InvalidInputError("get_cov needs k_test_test (the full matrix, or its diagonal for "
                                            "get_cov='variance')")
                kxx = _parse_test_test(k_test_test, kx.n_rows, self.spec.kind)
        parts = [np.real(self.y), np.imag(self.y)]
        mean = np.zeros(kx.n_rows, np.complex128)
        covs: list[np.ndarray | None] = [None, None]
        for j in range(2):
            flow = self._parts[0 if len(self._parts) == 1 else j][0]
            Kx = kx.mats[0 if len(kx.mats) == 1 else j]
            alpha = flow.solve(parts[j])
            mean += (1.0 if j == 0 else 1j) * (Kx @ alpha)
            if get_cov is None:
                continue
            if len(self._parts) == 1 and j == 1:
                covs[1] = covs[0]
                continue
            B = flow.solve(Kx.T)  # (n, m)
            if train_only:
                Kxx = self.spec.mats[0 if len(self.spec.mats) == 1 else j]
                kdiag = np.diag(Kxx).copy() if get_cov == "variance" else Kxx
            else:
                kk = kxx[0 if len(kxx) == 1 else j]
                kdiag = kk
            if get_cov == "variance":
                kd = kdiag if kdiag.ndim == 1 else np.diag(kdiag)
                covs[j] = kd - np.einsum("xi,ix->x", Kx, B)
            else:
                if kdiag.ndim != 2:
                    raise InvalidInputError("get_cov='full' needs the full k_test_test matrix")
                covs[j] = kdiag - Kx @ B
        return Gaussian(mean, covs[0], covs[1])


def _parse_test_test(k: Any, m: int, kind: str) -> tuple[np.ndarray, ...]:
    items = k if isinstance(k, (tuple, list)) else (k,)
    out = []
    for i, a in enumerate(items):
        a = as_array(a, f"k_test_test[{i}]", dtype=np.float64, allow_complex=False)
        if a.shape not in ((m,), (m, m)):
            raise ShapeMismatchError(f"k_test_test must have shape ({m},) (diagonal) or ({m}, {m}), got {a.shape}")
        out.append(a)
    if len(out) == 2 and kind == "single":
        out = out[:1]
    return tuple(out)


@dispatch("dynamics.gp_inference")
def nngp_posterior(k_train_train: Any, y_train: Any, diag_reg: float = 0.0, backend: str = "auto") -> GPInference:
    """NNGP Bayesian inference (the paper's "trained with Bayesian inference via the NNGP kernel").

    ψ1 ~ GP(0, K1) and ψ2 ~ GP(0, K2) independently (one real NNGP kernel for both parts, or a pair), observed
    at the train points with noise variance ``diag_reg``: the posterior mean ``K_xB (K + r)^{-1} ψ_T`` and
    covariance ``K_xx − K_xB (K + r)^{-1} K_Bx``. Equals the τ → ∞ limit of
    :func:`qsntk_mse_ensemble` when the NTK equals the NNGP kernel and ``diag_reg = 0``.
    Returns ``predict_fn(k_test_train=None, k_test_test=None, get_cov="variance") -> Gaussian``.
    """
    y = as_targets(y_train)
    r = check_finite_scalar(diag_reg, "diag_reg", nonnegative=True)
    spec = parse_train_kernel(k_train_train, y.shape[0])
    return GPInference(spec, y, r, implementation("dynamics.eigh", backend))
