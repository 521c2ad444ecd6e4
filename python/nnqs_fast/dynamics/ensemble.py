"""The infinite ensemble of linearised networks: mean μ_x(τ), covariance, and the losses of Eqs. 16–18.

Each real part ψ_j (j = 1: Re ψ, j = 2: Im ψ) of the ensemble starts as an independent Gaussian process
ψ_j(0) ~ GP(0, K_j) (the NNGP kernel) and evolves linearly under its NTK Θ_j (decoupled dynamics, Eq. 14):

    ψ_j,x(t) = μ_j,x(t) + γ_j,x(t),    μ_j,x(t) = T_x(t) y_j,    γ_j,x(t) = ψ_j,x(0) − T_x(t) ψ_j,B(0),
    T_x(t) = Θ_xB Θ^{-1} (1 − e^{−(2η/n) Θ t})        (test point x; continuous time, steps as time unit)
    T_B(t) = 1 − e^{−(2η/n) Θ t}                      (train points)

(Eq. 15; Lee et al. 2019, Eq. 16). Discrete steps replace e^{−cΘt} by (1 − cΘ)^k. Hence
E[ψ_x(t)] = μ_x(t) and Cov[ψ_j(t)]_{xx'} = K_xx' − T_x K_Bx' − K_xB T_x'ᵀ + T_x K_BB T_x'ᵀ.

Losses over a set S of points (train S = B or test):

    L_μ = (1/|S|) Σ_{x∈S} |μ_x − ψ_T,x|²                                      (Eq. 16)
    L_γ = (1/|S|) Σ_{x∈S} E|γ_x|² = (1/|S|) Σ_x (Var ψ1,x + Var ψ2,x)          (Eq. 18)
    L_Ψl = L_μ + L_γ   (the K → ∞ limit of Eq. 17)

The loss evaluation never forms per-time n×n products: in the eigenbasis Θ = V diag(λ) Vᵀ the train losses
are O(n) per time and the test losses O(n²) per time after an O(m n²) pass over the test-train kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import FollowsInputs, dispatch, follows_inputs, implementation
from .._linalg import symmetrize_upper, syrk_accumulate
from .._validation import as_array, check_chunk_size, check_finite_scalar, check_psd
from ..errors import InvalidInputError, ShapeMismatchError
from ..kernels.spectrum import eta_max_from_lambda
from ._spectral import SpectralFlow, apply
from ._structure import KernelSpec, as_targets, parse_kernel, parse_train_kernel
from .predict import DEFAULT_TEST_CHUNK, Gaussian, _add_diag, _check_times

__all__ = ["qsntk_mse_ensemble", "EnsemblePredictor"]


class _Part:
    """One real part (or both, when they share kernels): NNGP K, NTK flow, targets, variance multiplicity."""

    def __init__(self, K: np.ndarray, flow: SpectralFlow, y: np.ndarray, unit: complex, mult: int) -> None:
        self.K = K
        self.flow = flow
        self.y = y          # complex when shared (both parts), real otherwise
        self.unit = unit    # how the mean of this part enters ψ
        self.mult = mult    # how many real parts share this variance (2 for a shared kernel)
        self._Q: np.ndarray | None = None
        self._w: np.ndarray | None = None

    @property
    def Q(self) -> np.ndarray:
        """Vᵀ K V (NNGP in the NTK eigenbasis)."""
        if self._Q is None:
            V = self.flow.eig()[1]
            self._Q = V.T @ (self.K @ V)
        return self._Q

    @property
    def w(self) -> np.ndarray:
        if self._w is None:
            self._w = self.flow.project(self.y)
        return self._w

    def factors(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if np.any(np.isinf(times)):
            self.flow.check_invertible()
        P, G = self.flow.factors(times)
        return np.nan_to_num(P, nan=0.0), G


def _pair_mats(spec: KernelSpec) -> tuple[np.ndarray, np.ndarray]:
    return (spec.mats[0], spec.mats[0]) if spec.kind == "single" else (spec.mats[0], spec.mats[1])


def _parse_rows(k: Any, name: str, n: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    if callable(k) and not hasattr(k, "__array__"):
        s = parse_kernel(k(a, b), f"{name}({a}, {b})", n_cols=n, square=False)
        if s.n_rows != b - a:
            raise ShapeMismatchError(f"{name}({a}, {b}) returned {s.n_rows} rows, expected {b - a}")
    else:
        s = k
        s = KernelSpec(s.kind, tuple(m[a:b] for m in s.mats), b - a)
    if s.kind not in ("single", "pair"):
        raise InvalidInputError(f"{name} must be one real kernel or a pair (K_re, K_im)")
    return _pair_mats(s)


class EnsemblePredictor(FollowsInputs):
    """Returned by :func:`qsntk_mse_ensemble`: call it for μ and covariances, or use :meth:`losses`.
    ``eigh``: the backend's eigensolver (``"dynamics.eigh"``; default LAPACK)."""

    def __init__(self, nngp: KernelSpec, ntk: KernelSpec, y: np.ndarray, learning_rate: float, diag_reg: float,
                 discrete: bool, eigh: Any = None) -> None:
        self.n = y.shape[0]
        self.y = y
        self.learning_rate = learning_rate
        self.discrete = discrete
        for m in nngp.mats:  # a covariance: an indefinite NNGP gave negative variances and a negative L_gamma
            if isinstance(m, np.ndarray) and not np.iscomplexobj(m):
                check_psd(m, "nngp_train_train")
        c = 2.0 * learning_rate / self.n
        shared = nngp.kind == "single" and ntk.kind == "single"
        if shared:
            flow = SpectralFlow(_add_diag(ntk.mats[0], diag_reg), c, discrete=discrete,
                                what="the NTK Θ of the train points", eigh=eigh)
            self._parts = [_Part(nngp.mats[0], flow, y, 1.0, 2)]
        else:
            (k1, k2), (t1, t2) = _pair_mats(nngp), _pair_mats(ntk)
            f1 = SpectralFlow(_add_diag(t1, diag_reg), c, discrete=discrete, what="the real-part NTK Θ1", eigh=eigh)
            f2 = f1 if t1 is t2 else SpectralFlow(_add_diag(t2, diag_reg), c, discrete=discrete,
                                                  what="the imaginary-part NTK Θ2", eigh=eigh)
            self._parts = [_Part(k1, f1, y.real.copy(), 1.0, 1), _Part(k2, f2, y.imag.copy(), 1j, 1)]
        self._nngp_kind, self._checked = nngp.kind, False

    def _times(self, t: Any) -> tuple[np.ndarray, bool]:
        times, scalar = _check_times(t, self.discrete)
        if times is None:
            times = np.array([np.inf])
        if self.discrete and not self._checked:
            for p in self._parts:
                eta_max = eta_max_from_lambda(p.flow.lam_max, 2.0 * self.learning_rate / p.flow.c, what=p.flow.what)
                p.flow.check_discrete_stable(self.learning_rate, eta_max)
            self._checked = True
        return times, scalar

    # ------------------------------------------------------------------------------------------------------
    @follows_inputs
    def __call__(self, t: Any = None, nngp_test_train: Any = None, ntk_test_train: Any = None,
                 nngp_test_test: Any = None, *, get_cov: str | None = "variance") -> Any:
        """Mean and covariance of the ensemble at time(s) ``t`` (steps; ``None`` = τ → ∞).

        Returns a :class:`Gaussian` for the train points, or ``(train, test)`` when the test-train kernels are
        given. ``get_cov``: ``"variance"`` (per-point variances of ψ1 and ψ2), ``"full"`` (covariance matrices;
        needs the full ``nngp_test_test``) or None. Leading time axis when ``t`` is an array. Per-time cost is
        O(n³) for train variances; use :meth:`losses` for loss curves.
        """
        if get_cov not in ("variance", "full", None):
            raise InvalidInputError(f"get_cov must be 'variance', 'full' or None, got {get_cov!r}")
        times, scalar = self._times(t)
        if np.all(np.isinf(times)):
            return self._at_infinity(times.size, scalar, nngp_test_train, ntk_test_train, nngp_test_test, get_cov)
        times, scalar = self._times(t)
        T = times.size
        mean = np.zeros((T, self.n), np.complex128)
        covs: list[np.ndarray | None] = [None, None]
        for j, p in enumerate(self._parts):
            P, G = p.factors(times)
            V = p.flow.eig()[1]
            mean += p.unit * (p.y[None, :] - apply(V, P * p.w[:, None]).T)
            if get_cov is not None:
                out = []
                for i in range(T):
                    A = V * P[:, i][None, :]
                    C = A @ p.Q @ A.T if get_cov == "full" else np.einsum("ik,ik->i", A @ p.Q, A)
                    out.append(C)
                covs[j] = np.stack(out)
        if len(self._parts) == 1 and get_cov is not None:
            covs[1] = covs[0]
        train = Gaussian(*[None if a is None else (a[0] if scalar else a) for a in (mean, *covs)])  # type: ignore[arg-type]
        if ntk_test_train is None:
            return train
        m, (t1, t2), kx, kxx = self._test_kernels(nngp_test_train, ntk_test_train, nngp_test_test, get_cov)
        tmean = np.zeros((T, m), np.complex128)
        tcovs: list[np.ndarray | None] = [None, None]
        for j, p in enumerate(self._parts):
            P, G = p.factors(times)
            V = p.flow.eig()[1]
            tx = t1 if j == 0 else t2
            if get_cov is None:  # mean only: Θ_xB (V (G w)), O(m n T) instead of the O(m n²) product Θ_xB V
                tmean += p.unit * apply(tx, apply(V, G * p.w[:, None])).T
                continue
            Px = tx @ V  # Θ_xB V
            tmean += p.unit * apply(Px, G * p.w[:, None]).T
            Rx = (kx[j]) @ V                   # K_xB V
            out = []
            for i in range(T):
                Pg = Px * G[:, i][None, :]
                if get_cov == "full":
                    C = kxx[j] - Pg @ Rx.T - Rx @ Pg.T + Pg @ p.Q @ Pg.T
                else:
                    C = kxx[j] - 2.0 * np.einsum("xk,xk->x", Pg, Rx) + np.einsum("xk,xk->x", Pg @ p.Q, Pg)
                out.append(C)
            tcovs[j] = np.stack(out)
        if len(self._parts) == 1 and get_cov is not None:
            tcovs[1] = tcovs[0]
        test = Gaussian(*[None if a is None else (a[0] if scalar else a) for a in (tmean, *tcovs)])  # type: ignore[arg-type]
        return train, test

    def _test_kernels(self, nngp_test_train: Any, ntk_test_train: Any, nngp_test_test: Any,
                      get_cov: str | None) -> tuple[int, tuple[np.ndarray, np.ndarray], Any, Any]:
        if nngp_test_train is None and get_cov is not None:
            raise InvalidInputError("the test covariance needs nngp_test_train (and nngp_test_test)")
        ntk_x = parse_kernel(ntk_test_train, "ntk_test_train", n_cols=self.n, square=False)
        m = ntk_x.n_rows
        kx: Any = None
        if nngp_test_train is not None:
            kx = _pair_mats(parse_kernel(nngp_test_train, "nngp_test_train", n_cols=self.n, square=False))
        kxx: Any = None
        if get_cov is not None:
            if nngp_test_test is None:
                raise InvalidInputError("get_cov needs nngp_test_test (full matrix, or diagonal for 'variance')")
            kxx = _test_test(nngp_test_test, m, get_cov)
        return m, _pair_mats(ntk_x), kx, kxx

    def _at_infinity(self, T: int, scalar: bool, nngp_test_train: Any, ntk_test_train: Any, nngp_test_test: Any,
                     get_cov: str | None) -> Any:
        """τ → ∞ without an eigendecomposition (one cached Cholesky factor of each Θ_j).

        On the train points μ = y and the covariance vanishes identically (T_B(∞) = 1). On test points, with
        ``B = Θ^{-1} Θ_Bx`` (one triangular solve pair) and ``E = ½ K_BB B − K_Bx``, Eq. 15 gives
        ``μ_x = Θ_xB Θ^{-1} y`` and ``Cov = K_xx − Bᵀ K_Bx − K_xB B + Bᵀ K_BB B = K_xx + Bᵀ E + (Bᵀ E)ᵀ``
        (K_BB symmetric), i.e. two GEMMs; the variance needs only ``diag(Bᵀ E)`` (one GEMM, K_BB B).
        """
        def rep(a: np.ndarray) -> np.ndarray:
            return a if scalar else np.broadcast_to(a, (T, *a.shape)).copy()

        for p in self._parts:   # Θ^{-1} must exist (raises KernelNotPositiveDefiniteError otherwise)
            p.flow.solve(np.zeros(self.n))
        zero = None if get_cov is None else np.zeros((self.n, self.n) if get_cov == "full" else self.n)
        train_cov = None if zero is None else rep(zero)
        train = Gaussian(rep(self.y.copy()), train_cov, train_cov if len(self._parts) == 1 else
                         (None if zero is None else rep(zero)))
        if ntk_test_train is None:
            return train
        m, (t1, t2), kx, kxx = self._test_kernels(nngp_test_train, ntk_test_train, nngp_test_test, get_cov)
        tmean = np.zeros(m, np.complex128)
        tcovs: list[np.ndarray | None] = [None, None]
        for j, p in enumerate(self._parts):
            tx = t1 if j == 0 else t2
            tmean += p.unit * apply(tx, p.flow.solve(p.y))
            if get_cov is None:
                continue
            B = p.flow.solve(tx.T)                        # Θ^{-1} Θ_Bx, (n, m)
            E = p.K @ B
            E *= 0.5
            E -= kx[j].T                                  # ½ K_BB B − K_Bx
            if get_cov == "full":
                F = B.T @ E
                C = F + F.T
                C += kxx[j]
            else:
                C = kxx[j] + 2.0 * np.einsum("bx,bx->x", B, E)
            tcovs[j] = C
        if len(self._parts) == 1 and get_cov is not None:
            tcovs[1] = tcovs[0]
        test = Gaussian(rep(tmean), *[None if c is None else rep(c) for c in tcovs])
        return train, test

    @follows_inputs
    def test_mean(self, t: Any, ntk_test_train: Any, n_test: int | None = None, *,
                  chunk_size: int | None = None) -> np.ndarray:
        """Mean μ_x(t) = Θ_xB V g(t) Vᵀ y on test points only (Eq. 15), streamed over row blocks.

        ``ntk_test_train``: an ``(m, n)`` kernel (or pair) or a callable ``k(start, stop)`` returning those rows
        (then ``n_test`` is required). Costs O(m n T) after one O(n² T) product; never forms Θ_xB V. Returns
        complex ``(T, m)`` (``(m,)`` for a scalar ``t``).
        """
        times, scalar = self._times(t)
        if callable(ntk_test_train) and not hasattr(ntk_test_train, "__array__"):
            if n_test is None:
                raise InvalidInputError("ntk_test_train is a callable: pass n_test (number of test points)")
            src: Any = ntk_test_train
            m = int(n_test)
        else:
            src = parse_kernel(ntk_test_train, "ntk_test_train", n_cols=self.n, square=False)
            m = src.n_rows
        zs = []
        for p in self._parts:
            if np.all(np.isinf(times)):                   # g(∞) = 1/λ: Θ^{-1} y by the Cholesky solve
                zs.append(np.repeat(p.flow.solve(p.y)[:, None], times.size, axis=1))
                continue
            G = p.factors(times)[1]
            zs.append(apply(p.flow.eig()[1], G * p.w[:, None]))   # V g(t) Vᵀ y: (n, T)
        cs = check_chunk_size(chunk_size) or DEFAULT_TEST_CHUNK
        out = np.zeros((times.size, m), np.complex128)
        for a in range(0, m, cs):
            b = min(a + cs, m)
            t_rows = _parse_rows(src, "ntk_test_train", self.n, a, b)
            for j, p in enumerate(self._parts):
                out[:, a:b] += p.unit * apply(t_rows[j], zs[j]).T
        return out[0] if scalar else out

    # ------------------------------------------------------------------------------------------------------
    @follows_inputs
    def losses(self, t: Any = None, y_test: Any = None, nngp_test_train: Any = None, ntk_test_train: Any = None,
               nngp_test_diag: Any = None, *, chunk_size: int | None = None) -> dict[str, Any]:
        """L_μ, L_γ and L_Ψl = L_μ + L_γ (Eqs. 16–18) on the train set and, with test data, the test set.

        Args:
          t: time(s) in steps (scalar, 1-d array, or None for τ → ∞).
          y_test: complex targets on the test points, ``(m,)``.
          nngp_test_train, ntk_test_train: test-train NNGP and NTK kernels (one real kernel for both parts or a
            pair), arrays ``(m, n)`` or callables ``k(start, stop)`` returning those rows (consumed in chunks).
          nngp_test_diag: the NNGP kernel's diagonal on the test points ``(m,)`` (or a pair, or full matrices).

        Returns: dict with ``L_mu_train, L_gamma_train, L_psi_train`` (+ ``_test``), floats or arrays over t.
        """
        times, scalar = self._times(t)
        out: dict[str, Any] = {}
        lmu = np.zeros(times.size)
        lgam = np.zeros(times.size)
        facs = []
        for p in self._parts:
            P, G = p.factors(times)
            facs.append((P, G))
            lmu += np.einsum("kt,k->t", P ** 2, np.abs(p.w) ** 2) / self.n
            lgam += p.mult * np.einsum("kt,k->t", P ** 2, np.diag(p.Q)) / self.n
        out.update(L_mu_train=lmu, L_gamma_train=lgam, L_psi_train=lmu + lgam)
        if ntk_test_train is not None or y_test is not None:
            if y_test is None or ntk_test_train is None or nngp_test_train is None or nngp_test_diag is None:
                raise InvalidInputError("test losses need y_test, nngp_test_train, ntk_test_train and nngp_test_diag")
            yt = as_targets(y_test, "y_test")
            m = yt.shape[0]
            kdiag = _test_test(nngp_test_diag, m, "variance")
            kdiag = (kdiag[0], kdiag[0]) if len(kdiag) == 1 else kdiag
            cs = check_chunk_size(chunk_size) or DEFAULT_TEST_CHUNK
            ntk_src = ntk_test_train if callable(ntk_test_train) and not hasattr(ntk_test_train, "__array__") \
                else parse_kernel(ntk_test_train, "ntk_test_train", n_cols=self.n, square=False)
            nngp_src = nngp_test_train if callable(nngp_test_train) and not hasattr(nngp_test_train, "__array__") \
                else parse_kernel(nngp_test_train, "nngp_test_train", n_cols=self.n, square=False)
            for src in (ntk_src, nngp_src):
                if isinstance(src, KernelSpec) and src.n_rows != m:
                    raise ShapeMismatchError(f"test kernels have {src.n_rows} rows but y_test has {m} points")
            acc: list[dict[str, Any]] = [dict(S2=0.0, s1=0.0, u=0.0) for _ in self._parts]
            for a in range(0, m, cs):
                b = min(a + cs, m)
                t_rows = _parse_rows(ntk_src, "ntk_test_train", self.n, a, b)
                k_rows = _parse_rows(nngp_src, "nngp_test_train", self.n, a, b)
                for j, p in enumerate(self._parts):
                    V = p.flow.eig()[1]
                    Px = t_rows[j] @ V
                    Rx = k_rows[j] @ V
                    ypart = yt[a:b] if p.mult == 2 else (yt[a:b].real if j == 0 else yt[a:b].imag)
                    acc[j]["S2"] = syrk_accumulate(acc[j]["S2"] if b > cs else None, Px)  # in place, no n² temp
                    acc[j]["s1"] = acc[j]["s1"] + np.einsum("xk,xk->k", Px, Rx)
                    acc[j]["u"] = acc[j]["u"] + apply(Px.T, ypart)
            lmu_t = np.zeros(times.size)
            lgam_t = np.zeros(times.size)
            for j, (p, (_P, G)) in enumerate(zip(self._parts, facs)):
                ypart = yt if p.mult == 2 else (yt.real if j == 0 else yt.imag)
                S2, s1, u = symmetrize_upper(acc[j]["S2"]), acc[j]["s1"], acc[j]["u"]
                A = G * p.w[:, None]                              # (n, T): coefficients of μ_x in Px
                quad = np.real(np.einsum("kt,kt->t", A.conj(), apply(S2, A)))
                cross = np.real(np.einsum("k,kt->t", u.conj(), A))
                lmu_t += (quad - 2.0 * cross + float(np.sum(np.abs(ypart) ** 2))) / m
                kd = float(np.sum(kdiag[0] if p.mult == 2 else kdiag[j]))
                S2 *= p.Q  # S2 is not used again: the Hadamard product in place (no n² temporary)
                var = kd - 2.0 * np.einsum("kt,k->t", G, s1) + np.einsum("kt,kt->t", G, S2 @ G)
                lgam_t += p.mult * var / m
            out.update(L_mu_test=lmu_t, L_gamma_test=lgam_t, L_psi_test=lmu_t + lgam_t)
        if scalar:
            out = {k: float(v[0]) for k, v in out.items()}
        return out


def _test_test(k: Any, m: int, get_cov: str) -> tuple[np.ndarray, np.ndarray]:
    items = k if isinstance(k, (tuple, list)) else (k, k)
    if len(items) != 2:
        raise InvalidInputError("nngp_test_test must be one real array or a pair")
    out = []
    for i, a in enumerate(items):
        a = as_array(a, f"nngp_test_test[{i}]", dtype=np.float64, allow_complex=False)
        if a.shape == (m, m):
            out.append(np.diag(a).copy() if get_cov == "variance" else a)
        elif a.shape == (m,) and get_cov == "variance":
            out.append(a)
        else:
            need = f"({m}, {m})" + ("" if get_cov == "full" else f" or ({m},)")
            raise ShapeMismatchError(f"nngp_test_test must have shape {need}, got {a.shape}")
    return out[0], out[1]


@dispatch("dynamics.gradient_descent_mse_ensemble")
def qsntk_mse_ensemble(nngp_train_train: Any, ntk_train_train: Any, y_train: Any,
                       learning_rate: float, diag_reg: float = 0.0, discrete: bool = False,
                       backend: str = "auto") -> EnsemblePredictor:
    """Infinite ensemble of linearised ∞-NNQS trained by GD on L = (1/n) Σ_B |ψ_T − ψ|² (Eqs. 14–18).

    The paper's conventions, hence not neural-tangents' name: NT's ``gradient_descent_mse_ensemble(kernel_fn,
    x_train, y_train)`` (loss ``||f − y||²/(2 y.size)``, relative ``diag_reg``) is
    :func:`nnqs_fast.nt.predict.gradient_descent_mse_ensemble`; conversion table in docs/interop.md.

    ψ1 and ψ2 are independent: ψ_j(0) ~ GP(0, K_j) (NNGP kernel ``nngp_train_train``: one real ``(n, n)`` array
    for both parts or a pair) and each evolves under its NTK Θ_j (``ntk_train_train``, same forms) with rate
    ``2η/n`` per gradient-descent step (continuous time, or exact whole steps with ``discrete=True``; then η must
    be below n / λ_max(Θ)). ``diag_reg`` is added to the NTK diagonal. Returns an :class:`EnsemblePredictor`.
    """
    y = as_targets(y_train)
    lr = check_finite_scalar(learning_rate, "learning_rate", positive=True)
    r = check_finite_scalar(diag_reg, "diag_reg", nonnegative=True)
    n = y.shape[0]
    nngp = parse_train_kernel(nngp_train_train, n, "nngp_train_train")
    ntk = parse_train_kernel(ntk_train_train, n, "ntk_train_train")
    for s, nm in ((nngp, "nngp_train_train"), (ntk, "ntk_train_train")):
        if s.kind not in ("single", "pair"):
            raise InvalidInputError(f"{nm} must be one real (n, n) kernel or a pair (K_re, K_im) for the ensemble "
                                    "(independent real parts); got the " + s.kind + " form")
    return EnsemblePredictor(nngp, ntk, y, lr, r, bool(discrete), implementation("dynamics.eigh", backend))
