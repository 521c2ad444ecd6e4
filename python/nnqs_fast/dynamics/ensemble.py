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

When the test set is the complement of the train set in a 2^L spin basis and the kernels are XOR kernels
K(i, j) = k_0(i ⊕ j) (the analytic kernels on ±1 inputs), :meth:`EnsemblePredictor.losses_xor` replaces that pass
by train-only O(n³) products and fast Walsh–Hadamard transforms (same values; see its docstring).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import FollowsInputs, core_module, dispatch, follows_inputs, implementation
from .._linalg import SINGLE_THREAD_MIN_N, symmetrize_upper, syr2k_accumulate, syrk_accumulate, trmm
from .._validation import as_array, check_chunk_size, check_finite_scalar, check_hermitian, check_psd
from ..errors import InvalidInputError, ShapeMismatchError
from ..kernels.spectrum import eta_max_from_lambda
from ._spectral import SpectralFlow, apply
from ._structure import KernelSpec, as_targets, parse_kernel, parse_train_kernel, xor_apply, xor_gather, xor_spectrum
from .predict import DEFAULT_TEST_CHUNK, Gaussian, _check_times

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
        #: ``(L, s)`` with ``L Lᵀ = K + s·1``: the PSD certificate of K (``check_psd(..., factor=True)``), kept for
        #: the τ → ∞ covariance up to ``SINGLE_THREAD_MIN_N`` rows (above: recomputed there, to hold no extra n²)
        self.chol: tuple[np.ndarray, float] | None = None

    def nngp_factor(self) -> tuple[np.ndarray, float]:
        """``(L, s)``, ``L Lᵀ = K + s·1`` (cached certificate, or certified again)."""
        fac = self.chol
        if fac is None:  # real K: check_psd(factor=True) always returns a factor
            fac = check_psd(self.K, "nngp_train_train", check_symmetric=False, factor=True)
        return fac  # type: ignore[return-value]

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
        self.diag_reg = diag_reg
        self.discrete = discrete
        # a covariance: an indefinite NNGP gave negative variances and a negative L_gamma. The symmetry was checked
        # by parse_train_kernel; the certificate's Cholesky factor serves the τ → ∞ covariance (_at_infinity)
        facs = [check_psd(m, "nngp_train_train", check_symmetric=False, factor=True) for m in nngp.mats]
        keep = self.n <= SINGLE_THREAD_MIN_N
        c = 2.0 * learning_rate / self.n
        shared = nngp.kind == "single" and ntk.kind == "single"
        if shared:
            flow = SpectralFlow(ntk.mats[0], c, discrete=discrete, what="the NTK Θ of the train points", eigh=eigh,
                                shift=diag_reg)
            self._parts = [_Part(nngp.mats[0], flow, y, 1.0, 2)]
            self._parts[0].chol = facs[0] if keep else None
        else:
            (k1, k2), (t1, t2) = _pair_mats(nngp), _pair_mats(ntk)
            f1 = SpectralFlow(t1, c, discrete=discrete, what="the real-part NTK Θ1", eigh=eigh, shift=diag_reg)
            f2 = f1 if t1 is t2 else SpectralFlow(t2, c, discrete=discrete, what="the imaginary-part NTK Θ2",
                                                  eigh=eigh, shift=diag_reg)
            self._parts = [_Part(k1, f1, y.real.copy(), 1.0, 1), _Part(k2, f2, y.imag.copy(), 1j, 1)]
            if keep:
                self._parts[0].chol, self._parts[1].chol = facs[0], facs[-1]
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
        """τ → ∞ without an eigendecomposition (one cached Cholesky factor of each Θ_j, and of each K_j).

        On the train points μ = y and the covariance vanishes identically (T_B(∞) = 1). On test points, with
        ``B = Θ^{-1} Θ_Bx`` (one triangular solve pair), Eq. 15 gives ``μ_x = Θ_xB Θ^{-1} y`` and

            Cov = K_xx − (K_xB B + Bᵀ K_Bx) + Bᵀ K_BB B,    Bᵀ K_BB B = (Lᵀ B)ᵀ (Lᵀ B) − s Bᵀ B,

        with ``L Lᵀ = K_BB + s·1`` the Cholesky factor that certified K_BB positive semi-definite (``s = 0`` when K_BB
        is positive definite; :func:`nnqs_fast._validation.check_psd`). Cost after the solve: one SYR2K (the
        bracket, the flops of one GEMM), one TRMM (half a GEMM) and one SYRK (half a GEMM; two when ``s > 0``),
        all into one ``m x m`` buffer holding K_xx, instead of the three GEMMs ``K_xB B``, ``K_BB B`` and
        ``Bᵀ (K_BB B)``. The variance reads the diagonals only (no ``m x m`` array):
        ``diag K_xx − 2 Σ_b (K_Bx ∘ B) + Σ_b (Lᵀ B)² − s Σ_b B²``.
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
            B = np.asfortranarray(p.flow.solve(tx.T))     # Θ^{-1} Θ_Bx, (n, m); LAPACK's result is Fortran-ordered
            L, s = p.nngp_factor()                        # L Lᵀ = K_BB + s·1
            kbx = kx[j].T                                 # K_Bx (n, m), a view
            if get_cov == "full":
                # K_xx (symmetric: _test_test) into one Fortran-ordered buffer; for a C-ordered K_xx, K_xxᵀ is the
                # Fortran-ordered copy source (a memcpy)
                C = np.array(kxx[j].T if kxx[j].flags.c_contiguous else kxx[j], np.float64, order="F", copy=True)
                syr2k_accumulate(C, kbx, B, alpha=-1.0)   # − (K_xB B + Bᵀ K_Bx)           (upper triangle)
                if s:
                    syrk_accumulate(C, B, alpha=-s)       # − s Bᵀ B
                W = trmm(L, B, overwrite_b=True)          # Lᵀ B, in place of B
                syrk_accumulate(C, W)                     # + (Lᵀ B)ᵀ (Lᵀ B)
                C = symmetrize_upper(C).T                 # symmetric: its transpose is the C-ordered result
            else:
                C = kxx[j] - 2.0 * np.einsum("bx,bx->x", kbx, B)
                if s:
                    C -= s * np.einsum("bx,bx->x", B, B)
                W = trmm(L, B, overwrite_b=True)
                C += np.einsum("bx,bx->x", W, W)
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
        zs = self._mean_coeffs(times)
        cs = check_chunk_size(chunk_size) or DEFAULT_TEST_CHUNK
        out = np.zeros((times.size, m), np.complex128)
        for a in range(0, m, cs):
            b = min(a + cs, m)
            t_rows = _parse_rows(src, "ntk_test_train", self.n, a, b)
            for j, p in enumerate(self._parts):
                out[:, a:b] += p.unit * apply(t_rows[j], zs[j]).T
        return out[0] if scalar else out

    # ------------------------------------------------------------------------------------------------------
    def _mean_coeffs(self, times: np.ndarray) -> list[np.ndarray]:
        """Per part, ``z(t) = V g(t) Vᵀ y`` ``(n, T)``: the test mean is ``μ_x(t) = Θ_xB z(t)`` (Eq. 15)."""
        zs = []
        for p in self._parts:
            if np.all(np.isinf(times)):                   # g(∞) = 1/λ: Θ^{-1} y by the Cholesky solve
                zs.append(np.repeat(p.flow.solve(p.y)[:, None], times.size, axis=1))
                continue
            G = p.factors(times)[1]
            zs.append(apply(p.flow.eig()[1], G * p.w[:, None]))   # V g(t) Vᵀ y: (n, T)
        return zs

    def _train_losses(self, times: np.ndarray) -> tuple[dict[str, Any], list[tuple[np.ndarray, np.ndarray]]]:
        """Train L_μ, L_γ, L_Ψl over ``times`` (O(n) per time in the eigenbasis) and the factors ``(P, G)``."""
        lmu = np.zeros(times.size)
        lgam = np.zeros(times.size)
        facs = []
        for p in self._parts:
            P, G = p.factors(times)
            facs.append((P, G))
            lmu += np.einsum("kt,k->t", P ** 2, np.abs(p.w) ** 2) / self.n
            lgam += p.mult * np.einsum("kt,k->t", P ** 2, np.diag(p.Q)) / self.n
        return dict(L_mu_train=lmu, L_gamma_train=lgam, L_psi_train=lmu + lgam), facs

    # ---- test set = the complement of the train set in a 2^L basis, XOR kernels ------------------------------
    def _xor_setup(self, train_idx: Any, nngp_row: Any, ntk_row: Any) -> tuple[np.ndarray, np.ndarray, Any, Any]:
        """Validate the XOR-structured inputs; returns ``(train, test, nngp tables, ntk tables)`` per part."""
        from .._validation import check_index_array

        kt = _xor_tables(nngp_row, "nngp_row", len(self._parts))
        tt = _xor_tables(ntk_row, "ntk_row", len(self._parts))
        D = kt[0].shape[0]
        if D < 2 or D & (D - 1) or tt[0].shape[0] != D:
            raise ShapeMismatchError(f"the XOR tables must have length 2^L (the basis size), got {kt[0].shape[0]} "
                                     f"and {tt[0].shape[0]}")
        tr = check_index_array(train_idx, "train_idx", size=D)
        if tr.shape != (self.n,) or np.any(np.diff(tr) <= 0):
            raise InvalidInputError(f"train_idx must be {self.n} strictly increasing basis indices (the train points "
                                    "of this predictor, in its order)")
        mask = np.ones(D, bool)
        mask[tr] = False
        te = np.flatnonzero(mask)
        if te.size == 0:
            raise InvalidInputError("the train set is the whole basis: no test points")
        # the predictor's train kernels must be these tables restricted to the train set (sampled rows)
        rs = np.unique(np.concatenate([np.arange(min(8, self.n)), np.arange(max(0, self.n - 8), self.n),
                                       np.linspace(0, self.n - 1, 16).astype(np.int64)]))
        for j, p in enumerate(self._parts):
            want_k = xor_gather(kt[j], tr[rs], tr)
            have_k = np.asarray(p.K[rs])
            want_t = xor_gather(tt[j], tr[rs], tr)
            want_t[np.arange(rs.size), rs] += self.diag_reg
            if p.flow.H is not None:
                have_t = np.asarray(p.flow.H[rs])
            else:
                lam, V = p.flow.eig()
                have_t = (V[rs] * lam) @ V.T
            for nm, have, want in (("NNGP", have_k, want_k), ("NTK", have_t, want_t)):
                scale = float(np.max(np.abs(want)))
                if np.max(np.abs(have - want)) > 1e-8 * scale:
                    raise InvalidInputError(f"the predictor's train-train {nm} is not the XOR table restricted to "
                                            "train_idx (K(i, j) = k_0(i ⊕ j)); pass the tables of the same kernel")
        return tr, te, kt, tt

    @follows_inputs
    def losses_xor(self, t: Any, y: Any, train_idx: Any, nngp_row: Any, ntk_row: Any, *,
                   timings: dict[str, float] | None = None) -> dict[str, Any]:
        """:meth:`losses` (Eqs. 16–18, same keys and values) when the test set is the complement of the train set
        in a ``D = 2^L`` spin basis and both kernels are XOR kernels ``K(i, j) = k_0(i ⊕ j)`` over the full basis
        (the analytic kernels on ±1 inputs: :func:`~nnqs_fast.dynamics._structure.is_xor_basis`).

        Args:
          t: time(s) in steps (scalar, 1-d array, or None for τ → ∞).
          y: the complex targets on the FULL basis ``(D,)`` (``y[train_idx]`` must be this predictor's targets).
          train_idx: the train points' basis indices, strictly increasing, in the predictor's order.
          nngp_row, ntk_row: the first rows ``k_0 = K(0, ·)`` of the full-basis NNGP and NTK (or pairs per part).
          timings: optional dict that receives the seconds of each phase.

        L_μ on the test set is read off the test means ``μ_T(t) = [Θ_full z̃(t)]_T`` (:meth:`test_mean_xor`: two
        fast Walsh–Hadamard transforms per time; exact, no cancellation). For L_γ the test sums become train-only
        matrices (``T`` the test set, ``Θ_full = Ĥ diag(κ_Θ) Ĥ``, ``Ĥ`` the normalised Walsh–Hadamard matrix,
        ``Θ_BB = V diag(λ − r) Vᵀ`` with ``r = diag_reg``)::

            Σ_{x∈T} Θ_Bx Θ_xB = [Θ_full²]_BB − Θ_BB²             ->  S2 = Vᵀ [Θ_full²]_BB V − diag((λ − r)²)
            Σ_{x∈T} Θ_Bx K_xB = [Θ_full K_full]_BB − Θ_BB K_BB   ->  s1 = diag(Vᵀ[Θ_full K_full]_BB V) − (λ − r) Q_kk

        ``Θ_full²`` is the XOR kernel with spectrum ``κ_Θ²``; ``diag(Vᵀ[Θ_full K_full]_BB V)_k =
        Σ_s κ_Θ(s) κ_K(s) (Ĥ ṽ_k)(s)²`` (``ṽ_k`` the eigenvector padded with zeros); ``Σ_x K_xx = m k_0(0)``.
        Cost: two congruences ``Vᵀ A V`` (:func:`nnqs_fast._linalg.congruence`, ``3n³`` flops each, for ``Q`` and
        ``S2``) and ``n`` fast Walsh–Hadamard transforms of length ``D``, instead of the ``5 m n²``-flop pass over
        the test rows (and no test-train kernel evaluation). Precision: the subtraction in ``S2`` loses about
        ``‖Θ_full‖² / ‖Θ_TB‖²`` (≈ D/m) relative digits against the streamed sum; the loss values agree with
        :meth:`losses` to ~1e-10 relative (tested).
        """
        import time

        from .._linalg import congruence

        tm = timings if timings is not None else {}
        times, scalar = self._times(t)
        tr, te, kt, tt = self._xor_setup(train_idx, nngp_row, ntk_row)
        D, m = kt[0].shape[0], te.size
        yt = as_targets(y, "y")
        if yt.shape != (D,):
            raise ShapeMismatchError(f"y must hold the targets on the full basis ({D},), got {yt.shape}")
        if not np.allclose(yt[tr], self.y, rtol=1e-12, atol=1e-300):
            raise InvalidInputError("y[train_idx] differs from the predictor's train targets")
        t0 = time.perf_counter()
        for p in self._parts:
            p.flow.eig()
        tm["eigh"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p in self._parts:                   # Q = Vᵀ K V (blocked, in one buffer)
            if p._Q is None:
                p._Q = congruence(p.flow.eig()[1], p.K)
        tm["nngp_eigenbasis"] = time.perf_counter() - t0
        out, facs = self._train_losses(times)
        t0 = time.perf_counter()            # L_μ from the test means themselves (no cancellation at small λ)
        mean = self._xor_mean(times, tr, tt)[:, te]
        lmu_t = np.mean(np.abs(mean - yt[te][None, :]) ** 2, axis=1)
        del mean
        tm["test_mean"] = time.perf_counter() - t0
        lgam_t = np.zeros(times.size)
        for j, (p, (_P, G)) in enumerate(zip(self._parts, facs)):
            lam, V = p.flow.eig()
            mu = lam - self.diag_reg                          # eigenvalues of Θ_BB
            kap_t, kap_k = xor_spectrum(tt[j]), xor_spectrum(kt[j])
            t0 = time.perf_counter()
            f_row = xor_spectrum(kap_t ** 2) / D              # first row of Θ_full² (spectrum κ_Θ²)
            S2 = congruence(V, lambda a, b, f=f_row: xor_gather(f, tr[a:b], tr))
            S2[np.diag_indices_from(S2)] -= mu ** 2
            tm["test_sums"] = tm.get("test_sums", 0.0) + time.perf_counter() - t0
            t0 = time.perf_counter()
            s1 = _xor_diag_congruence(V, tr, D, kap_t * kap_k) - mu * np.diag(p.Q)
            tm["test_vectors"] = tm.get("test_vectors", 0.0) + time.perf_counter() - t0
            lgam_t += _test_lgamma(p, G, S2, s1, float(m * kt[j][0]), m)
            del S2
        out.update(L_mu_test=lmu_t, L_gamma_test=lgam_t, L_psi_test=lmu_t + lgam_t)
        if scalar:
            out = {k: float(v[0]) for k, v in out.items()}
        return out

    @follows_inputs
    def test_mean_xor(self, t: Any, train_idx: Any, ntk_row: Any) -> np.ndarray:
        """:meth:`test_mean` on the complement of ``train_idx`` (ascending basis order) for an XOR NTK
        ``Θ(i, j) = k_0(i ⊕ j)`` (``ntk_row = k_0``, or a pair per part): ``μ_T(t) = [Θ_full z̃(t)]_T`` with
        ``z(t) = V g(t) Vᵀ y`` padded with zeros off the train set, two fast Walsh–Hadamard transforms per time
        instead of the test-train rows. Returns complex ``(T, m)`` (``(m,)`` for a scalar ``t``)."""
        times, scalar = self._times(t)
        tt = _xor_tables(ntk_row, "ntk_row", len(self._parts))
        D = tt[0].shape[0]
        from .._validation import check_index_array

        tr = check_index_array(train_idx, "train_idx", size=D)
        if tr.shape != (self.n,) or np.any(np.diff(tr) <= 0):
            raise InvalidInputError(f"train_idx must be {self.n} strictly increasing basis indices")
        mask = np.ones(D, bool)
        mask[tr] = False
        out = self._xor_mean(times, tr, tt)[:, mask]
        return out[0] if scalar else out

    def _xor_mean(self, times: np.ndarray, tr: np.ndarray, tt: list[np.ndarray]) -> np.ndarray:
        """``Θ_full z̃(t)`` over the full basis ``(T, D)`` (z̃: :meth:`_mean_coeffs` padded with zeros)."""
        D = tt[0].shape[0]
        out = np.zeros((times.size, D), np.complex128)
        for j, (p, z) in enumerate(zip(self._parts, self._mean_coeffs(times))):
            zt = np.zeros((times.size, D), z.dtype)
            zt[:, tr] = z.T
            out += p.unit * xor_apply(xor_spectrum(tt[j]), zt)
        return out

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
        out, facs = self._train_losses(times)
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
                kd = float(np.sum(kdiag[0] if p.mult == 2 else kdiag[j]))
                S2 = symmetrize_upper(acc[j]["S2"])
                lmu_t += _test_lmu(p, G, S2, acc[j]["u"], float(np.sum(np.abs(ypart) ** 2)), m)
                lgam_t += _test_lgamma(p, G, S2, acc[j]["s1"], kd, m)
            out.update(L_mu_test=lmu_t, L_gamma_test=lgam_t, L_psi_test=lmu_t + lgam_t)
        if scalar:
            out = {k: float(v[0]) for k, v in out.items()}
        return out


def _test_lmu(p: _Part, G: np.ndarray, S2: np.ndarray, u: np.ndarray, y2: float, m: int) -> np.ndarray:
    """The test L_μ contribution of one real part (Eq. 16) from the test sums in the NTK eigenbasis (see
    :meth:`EnsemblePredictor.losses`): ``S2 = Σ_x (Θ_xB V)ᵀ(Θ_xB V)``, ``u = Σ_x (Θ_xB V)ᵀ y_x``,
    ``y2 = Σ_x |y_x|²`` over the ``m`` test points. Returns L_μ over times."""
    A = G * p.w[:, None]                              # (n, T): coefficients of μ_x in Θ_xB V
    quad = np.real(np.einsum("kt,kt->t", A.conj(), apply(S2, A)))
    cross = np.real(np.einsum("k,kt->t", u.conj(), A))
    return (quad - 2.0 * cross + y2) / m


def _test_lgamma(p: _Part, G: np.ndarray, S2: np.ndarray, s1: np.ndarray, kd: float, m: int) -> np.ndarray:
    """The test L_γ contribution of one real part (Eq. 18): ``S2`` as in :func:`_test_lmu`,
    ``s1 = diag Σ_x (Θ_xB V)ᵀ(K_xB V)``, ``kd = Σ_x K_xx``. Destroys ``S2`` (the Hadamard product with Q in place:
    no n² temporary). Returns L_γ over times."""
    S2 *= p.Q
    var = kd - 2.0 * np.einsum("kt,k->t", G, s1) + np.einsum("kt,kt->t", G, S2 @ G)
    return p.mult * var / m


def _xor_tables(k: Any, name: str, parts: int) -> list[np.ndarray]:
    items = list(k) if isinstance(k, (tuple, list)) else [k]
    if len(items) not in (1, 2):
        raise InvalidInputError(f"{name} must be one real table k_0 (length 2^L) or a pair (Re part, Im part)")
    out = [as_array(a, f"{name}[{i}]", ndim=1, dtype=np.float64, allow_complex=False) for i, a in enumerate(items)]
    if len(out) == 2 and out[0].shape != out[1].shape:
        raise ShapeMismatchError(f"{name}: the two tables differ in length ({out[0].shape}, {out[1].shape})")
    if parts == 1 and len(out) == 2 and not np.array_equal(out[0], out[1]):
        raise InvalidInputError(f"{name} is a pair of different tables but the predictor shares one kernel "
                                "between ψ1 and ψ2")
    return out * 2 if len(out) == 1 else out


def _xor_diag_congruence(V: np.ndarray, tr: np.ndarray, D: int, spec: np.ndarray) -> np.ndarray:
    """``diag(Vᵀ A_BB V)`` for the full-basis XOR kernel ``A = Ĥ diag(spec) Ĥ`` restricted to the train set ``tr``:
    ``Σ_s spec(s) (Ĥ ṽ_k)(s)²`` with ``ṽ_k`` the k-th column of V padded with zeros (``_core.xor_diag_congruence``:
    fast Walsh–Hadamard transforms of eight columns per SIMD panel, ``O(n D log D)`` instead of an ``n³`` product)."""
    spec = np.ascontiguousarray(spec, dtype=np.float64)
    if spec.shape != (D,):
        raise ShapeMismatchError(f"the XOR spectrum must have length {D}, got {spec.shape}")
    if V.dtype != np.float64 or any(st < 0 or st % 8 for st in V.strides):
        V = np.array(V, np.float64)
    # V is read in place, in LAPACK's column order
    return core_module().xor_diag_congruence(V, np.asarray(tr, np.int64), spec)

def _test_test(k: Any, m: int, get_cov: str) -> tuple[np.ndarray, np.ndarray]:
    items = k if isinstance(k, (tuple, list)) else (k, k)
    if len(items) != 2:
        raise InvalidInputError("nngp_test_test must be one real array or a pair")
    out = []
    for i, a in enumerate(items):
        a = as_array(a, f"nngp_test_test[{i}]", dtype=np.float64, allow_complex=False)
        if a.shape == (m, m):
            if get_cov == "full" and (i == 0 or a is not items[0]):   # a covariance: one symmetry pass per matrix
                check_hermitian(a, f"nngp_test_test[{i}]" if isinstance(k, (tuple, list)) else "nngp_test_test")
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
