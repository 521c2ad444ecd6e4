"""Losses of the wavefunction in function space: value and Wirtinger gradient (Eqs. 13, 16–18 and beyond).

Two layers, one home per formula:

* functions on predicted states: :func:`mse_loss` (Eq. 13 normalisation: the mean over the points of the set,
  ``(1/|S|) Σ_{x∈S} |·|²``), :func:`fidelity`, :func:`assemble_state`;
* loss objects for gradient descent in function space (:class:`MSELoss`, :class:`EnergyLoss`,
  :class:`InfidelityLoss`, :class:`TomographyLoss`), each with ``value(psi)`` and ``grad(psi)``.

Convention (every loss object): ``psi`` is ``(..., D)`` complex, the amplitudes on the loss's basis set ``B``
(leading axes are independent states, e.g. ensemble members). ``grad`` returns the **Wirtinger derivative**
``∂L/∂ψ*(x) = ½ (∂L/∂ψ1(x) + i ∂L/∂ψ2(x))`` for ``ψ = ψ1 + iψ2`` (``ψ`` and ``ψ*`` treated as independent);
for a real loss ``∂L/∂ψ = (∂L/∂ψ*)*``, and the real gradient is ``(∂L/∂ψ1, ∂L/∂ψ2) = 2 (Re, Im) ∂L/∂ψ*``.
Gradient descent on real parameters moves ψ as ``dψ/dt = −η Σ_{x'} [Θ(x,x') ∂L/∂ψ(x') + Φ(x,x') ∂L/∂ψ*(x')]``
(docs/groundstate.md; :mod:`nnqs_fast.dynamics.flow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._random import rng
from .._validation import as_array, check_finite_output, check_index_array, check_positive_int
from ..errors import InvalidInputError, NonFiniteError, ShapeMismatchError
from ._walsh import fwht_rows

__all__ = ["mse_loss", "fidelity", "assemble_state", "FunctionSpaceLoss", "MSELoss", "EnergyLoss",
           "InfidelityLoss", "TomographyLoss", "as_operator", "energy", "spectral_range", "hadamard_transform"]


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


# ---------------------------------------------------------------------------------------------------------------
# loss objects in function space
# ---------------------------------------------------------------------------------------------------------------
def _states(psi: Any, dim: int, name: str = "psi") -> np.ndarray:
    p = as_array(psi, name).astype(np.complex128, copy=False)
    if p.ndim == 0 or p.shape[-1] != dim:
        raise ShapeMismatchError(f"{name} must have {dim} basis amplitudes on its last axis, got shape {p.shape}")
    return p


def _norm2(p: np.ndarray) -> np.ndarray:
    n = np.sum(p.real ** 2 + p.imag ** 2, axis=-1)
    if np.any(n == 0):
        raise InvalidInputError("a state has norm 0: the loss is undefined (re-draw the initial state)")
    return n


def _out(v: np.ndarray) -> np.ndarray | float:
    return float(v) if np.ndim(v) == 0 else v


class FunctionSpaceLoss:
    """A real loss ``L[ψ]`` of the amplitudes on a basis set of ``dim`` states (see the module docstring).

    Subclasses implement ``value_and_grad(psi) -> (L, ∂L/∂ψ*)`` for ``psi`` of shape ``(..., dim)``.
    """

    name: str = "loss"
    dim: int

    def value_and_grad(self, psi: Any) -> tuple[np.ndarray | float, np.ndarray]:
        """``(L, ∂L/∂ψ*)`` for ``psi`` of shape ``(..., dim)`` (validated)."""
        return self._vg(_states(psi, self.dim))

    def _vg(self, p: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
        """The formula on a validated complex128 ``p`` (hot loops call this once the states are known good)."""
        raise NotImplementedError

    def value(self, psi: Any) -> np.ndarray | float:
        """``L[ψ]`` over the last axis."""
        return self.value_and_grad(psi)[0]

    def grad(self, psi: Any) -> np.ndarray:
        """The Wirtinger gradient ``∂L/∂ψ*`` (same shape as ``psi``)."""
        return self.value_and_grad(psi)[1]

    def config(self) -> dict[str, Any]:
        """The parameters that define the loss (recorded in result files)."""
        return {"loss": self.name, "dim": self.dim}

    def curvature(self) -> float:
        """``c`` with the real Hessian of ``L`` bounded by ``2c/⟨ψ|ψ⟩`` on the tangent space near a minimum (sets
        the stable learning rate of :func:`nnqs_fast.dynamics.flow.flow_learning_rate`)."""
        raise NotImplementedError(f"the {self.name} loss has no curvature bound; give the learning rate")


def hot_value_and_grad(loss: FunctionSpaceLoss) -> Any:
    """The unchecked ``_vg`` of a built-in loss (hot loops validate the states once), else ``value_and_grad``
    (a user's subclass that implements only that)."""
    return loss._vg if type(loss)._vg is not FunctionSpaceLoss._vg else loss.value_and_grad


class MSELoss(FunctionSpaceLoss):
    """The supervised loss of Eq. 13, ``L = (1/n) Σ_x |ψ_T(x) − ψ(x)|²`` over the ``n`` train points;
    ``∂L/∂ψ* = (ψ − ψ_T)/n``. Its gradient flow is the closed form of
    :func:`nnqs_fast.dynamics.qsntk_mse_predictor` (the fast path for this loss)."""

    name = "mse"

    def __init__(self, target: Any) -> None:
        self.target = as_array(target, "target", ndim=1).astype(np.complex128)
        self.dim = int(self.target.size)

    def _vg(self, p: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
        return mse_loss(p, self.target), (p - self.target) / self.dim


def as_operator(H: Any, dim: int | None = None, name: str = "H") -> Any:
    """A Hermitian operator on the basis: a SciPy sparse matrix (kept sparse, CSR), a dense array, or any
    :class:`scipy.sparse.linalg.LinearOperator` (taken to be Hermitian; only ``matmat`` is used). Sparse and
    dense operators are checked for Hermiticity."""
    if isinstance(H, spla.LinearOperator):
        op = H
    elif sp.issparse(H):
        op = sp.csr_matrix(H)
        if op.dtype.kind not in "fc":
            op = op.astype(np.float64)
        if op.shape[0] and abs(op - op.conj().T).max() > 1e-10 * max(1.0, abs(op).max()):
            raise InvalidInputError(f"{name} must be Hermitian (H = H^†); got a non-Hermitian sparse matrix")
    else:
        op = as_array(H, name, ndim=2)
        if op.shape[0] and np.max(np.abs(op - op.conj().T)) > 1e-10 * max(1.0, float(np.max(np.abs(op)))):
            raise InvalidInputError(f"{name} must be Hermitian (H = H^†); got a non-Hermitian matrix")
    if op.shape[0] != op.shape[1]:
        raise ShapeMismatchError(f"{name} must be square, got shape {op.shape}")
    if dim is not None and op.shape[0] != dim:
        raise ShapeMismatchError(f"{name} acts on {op.shape[0]} basis states but the states have {dim}")
    return op


def _apply(op: Any, p: np.ndarray) -> np.ndarray:
    """``H ψ`` for states along the last axis of ``p`` (leading axes batched: one sparse mat-mat product)."""
    flat = p.reshape(-1, p.shape[-1])
    if isinstance(op, spla.LinearOperator):
        out = op.matmat(np.ascontiguousarray(flat.T)).T
    else:
        out = (op @ flat.T).T
    return np.asarray(out).reshape(p.shape)


def energy(H: Any, psi: Any) -> np.ndarray | float:
    """``⟨ψ|H|ψ⟩ / ⟨ψ|ψ⟩`` over the last axis (exact, on the full basis)."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported as a named warning below
        out = EnergyLoss(H).value(psi)
    return check_finite_output(out, "energy (the state's amplitudes overflow float64?)")


def spectral_range(H: Any) -> tuple[float, float]:
    """``(E_min, E_max)`` of a Hermitian operator (dense eigensolver up to 2048 states, else Lanczos)."""
    op = as_operator(H)
    D = op.shape[0]
    if D <= 2048 and not isinstance(op, spla.LinearOperator):
        w = np.linalg.eigvalsh(op.toarray() if sp.issparse(op) else op)
        return float(w[0]), float(w[-1])
    v0 = np.ones(D) + 0.1 * rng(20211201).standard_normal(D)
    lo = spla.eigsh(op, k=1, which="SA", v0=v0, tol=1e-10, return_eigenvectors=False)[0]
    hi = spla.eigsh(op, k=1, which="LA", v0=v0, tol=1e-10, return_eigenvectors=False)[0]
    return float(lo), float(hi)


class EnergyLoss(FunctionSpaceLoss):
    """The variational energy ``L = ⟨ψ|H|ψ⟩ / ⟨ψ|ψ⟩`` on the full basis (exact expectation, no sampling).

    ``∂L/∂ψ* = (Hψ − L ψ) / ⟨ψ|ψ⟩``. ``H``: see :func:`as_operator` (e.g. :func:`nnqs_fast.physics.
    tfim_hamiltonian`, :func:`nnqs_fast.physics.hubbard_hamiltonian`, or a user's operator). ``L`` is scale
    invariant, so ``Re Σ_x ψ*(x) ∂L/∂ψ*(x) = 0`` (the gradient is orthogonal to ψ).
    """

    name = "energy"

    def __init__(self, H: Any) -> None:
        self.H = as_operator(H)
        self.dim = int(self.H.shape[0])

    def curvature(self) -> float:
        """The spectral width ``E_max − E_min`` (the Hessian is ``2(H − E)/⟨ψ|ψ⟩`` on the tangent space)."""
        if getattr(self, "_width", None) is None:
            lo, hi = spectral_range(self.H)
            self._width = hi - lo
        return float(self._width)

    def _vg(self, p: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
        if p.ndim == 1 and not isinstance(self.H, spla.LinearOperator):   # one state: the trainer's hot path
            h1 = np.asarray(self.H @ p)
            n1 = float(p.real @ p.real + p.imag @ p.imag)
            if n1 == 0:
                raise InvalidInputError("a state has norm 0: the energy is undefined (re-draw the initial state)")
            e1 = float(np.vdot(p, h1).real) / n1
            return e1, (h1 - e1 * p) * (1.0 / n1)
        hp = _apply(self.H, p)
        n = _norm2(p)
        e = np.sum(p.conj() * hp, axis=-1).real / n
        return _out(e), (hp - e[..., None] * p) / n[..., None]


class InfidelityLoss(FunctionSpaceLoss):
    """``L = 1 − |⟨ψ_T|ψ⟩|² / (⟨ψ|ψ⟩⟨ψ_T|ψ_T⟩)``; with ``a = ⟨ψ_T|ψ⟩``, ``N = ⟨ψ|ψ⟩``, ``N_T = ⟨ψ_T|ψ_T⟩``:
    ``∂L/∂ψ* = −(a ψ_T / (N N_T) − |a|² ψ / (N² N_T))``."""

    name = "infidelity"

    def __init__(self, target: Any) -> None:
        self.target = as_array(target, "target", ndim=1).astype(np.complex128)
        self.dim = int(self.target.size)
        self._nt = float(np.vdot(self.target, self.target).real)
        if self._nt == 0:
            raise InvalidInputError("the target state has norm 0")

    def curvature(self) -> float:
        """1: at the optimum the Hessian is ``2(1 − P_T)/⟨ψ|ψ⟩`` (``P_T`` the projector on the target)."""
        return 1.0

    def _vg(self, p: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
        n = _norm2(p)
        a = p @ self.target.conj()
        f = np.abs(a) ** 2 / (n * self._nt)
        g = -(a[..., None] * self.target / (n * self._nt)[..., None]
              - (np.abs(a) ** 2 / (n ** 2 * self._nt))[..., None] * p)
        return _out(1.0 - f), g


def hadamard_transform(psi: Any) -> np.ndarray:
    """``H^{⊗L} ψ`` over the last axis (``D = 2^L``; the normalised Walsh–Hadamard transform). The matrix
    ``(−1)^{popcount(s & x)}/√D`` is real, symmetric and its own inverse, so the result does not depend on the
    site order of the basis codes. Computed as ``H_{2^a} ⊗ H_{2^b}`` with ``a + b = L``: small batched GEMMs
    (``O(D^{3/2})`` per state, BLAS-fast), the real and imaginary parts in one call
    (:func:`nnqs_fast.dynamics._walsh.fwht_rows`)."""
    p = as_array(psi, "psi", ndim=None)
    if p.ndim < 1:
        raise ShapeMismatchError("psi must hold the 2^L amplitudes on its last axis")
    D = p.shape[-1]
    L = int(D).bit_length() - 1
    if D < 1 or (1 << L) != D:
        raise ShapeMismatchError(f"the X basis needs 2^L amplitudes (a spin-1/2 basis), got {D}")
    if np.iscomplexobj(p):
        z = fwht_rows(np.stack([p.real, p.imag]))
        return z[0] + 1j * z[1]
    return fwht_rows(p).astype(np.complex128)


#: measurement bases of :class:`TomographyLoss`: the rotation applied before measuring every qubit in Z
TOMOGRAPHY_BASES = ("Z", "X")


def _rotate(p: np.ndarray, basis: str) -> np.ndarray:
    return p if basis == "Z" else hadamard_transform(p)


class TomographyLoss(FunctionSpaceLoss):
    """Negative log-likelihood of product-basis measurement outcomes (quantum state tomography).

    For each basis ``b`` (``"Z"``: Z…Z, the computational basis; ``"X"``: X…X, a Hadamard on every qubit,
    :func:`hadamard_transform`) with outcome frequencies ``q_b(s)`` (``Σ_s q_b(s) = 1``) and the Born
    probabilities ``p_b(s) = |φ_b(s)|² / ⟨ψ|ψ⟩``, ``φ_b = U_b ψ``::

        L = −(1/|bases|) Σ_b Σ_s q_b(s) ln p_b(s)          (natural log)
        ∂L/∂ψ* = −(1/|bases|) Σ_b [U_b^† (q_b φ_b / |φ_b|²) − ψ / ⟨ψ|ψ⟩]

    Build it from a target with :meth:`from_state` (exact Born probabilities, or ``n_shots`` seeded samples per
    basis). Outcomes observed with ``|φ_b(s)| = 0`` would make ``L`` infinite: ``|φ_b(s)|²`` is floored at
    ``1e-300 ⟨ψ|ψ⟩``.
    """

    name = "tomography"

    def __init__(self, frequencies: dict[str, Any], *, config: dict[str, Any] | None = None) -> None:
        if not frequencies:
            raise InvalidInputError("give the outcome frequencies of at least one basis, e.g. {'Z': q_Z, 'X': q_X}")
        self.freqs: dict[str, np.ndarray] = {}
        dim: int | None = None
        for b, q in frequencies.items():
            if b not in TOMOGRAPHY_BASES:
                raise InvalidInputError(f"unknown measurement basis {b!r}; use one of {TOMOGRAPHY_BASES}")
            q = as_array(q, f"frequencies[{b!r}]", ndim=1, dtype=np.float64, allow_complex=False)
            if np.any(q < 0) or not np.isclose(q.sum(), 1.0, rtol=1e-9):
                raise InvalidInputError(f"frequencies[{b!r}] must be non-negative and sum to 1 (got sum {q.sum()})")
            if dim is not None and q.size != dim:
                raise ShapeMismatchError("every basis needs frequencies over the same number of outcomes")
            dim = q.size
            self.freqs[b] = q
        self.dim = int(dim or 0)
        if "X" in self.freqs:
            hadamard_transform(np.zeros(self.dim))  # validates D = 2^L
        self._config = dict(config or {})

    @classmethod
    def from_state(cls, psi_target: Any, bases: Sequence[str] = TOMOGRAPHY_BASES, *, n_shots: int | None = None,
                   seed: int | None = None) -> TomographyLoss:
        """Frequencies of measuring ``psi_target`` in ``bases``: exact Born probabilities (``n_shots=None``) or
        ``n_shots`` multinomial samples per basis drawn with ``seed`` (required then)."""
        t = as_array(psi_target, "psi_target", ndim=1).astype(np.complex128)
        nt = float(np.vdot(t, t).real)
        if nt == 0:
            raise InvalidInputError("psi_target has norm 0")
        freqs: dict[str, np.ndarray] = {}
        if n_shots is not None:
            n_shots = check_positive_int(n_shots, "n_shots")
            if seed is None:
                raise InvalidInputError("sampled counts need a seed (every random draw in nnqs_fast takes one)")
            g = rng(seed)
        for b in bases:
            if b not in TOMOGRAPHY_BASES:
                raise InvalidInputError(f"unknown measurement basis {b!r}; use one of {TOMOGRAPHY_BASES}")
            prob = np.abs(_rotate(t, b)) ** 2 / nt
            prob = prob / prob.sum()
            freqs[b] = prob if n_shots is None else g.multinomial(n_shots, prob) / n_shots
        return cls(freqs, config={"bases": list(bases), "n_shots": n_shots, "seed": seed,
                                  "frequencies": "exact Born probabilities" if n_shots is None else "sampled counts"})

    def curvature(self) -> float:
        """2: at the optimum each basis contributes ``≈ 2 q(s)/|φ(s)|² = 2/⟨ψ|ψ⟩`` per outcome, averaged over the
        bases; the factor 2 leaves room for states far from the optimum (a heuristic bound)."""
        return 2.0

    def _vg(self, p: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
        n = _norm2(p)
        B = len(self.freqs)
        val = np.zeros(p.shape[:-1])
        g = np.zeros(p.shape, np.complex128)
        for b, q in self.freqs.items():
            phi = _rotate(p, b)
            a2 = np.maximum(phi.real ** 2 + phi.imag ** 2, 1e-300 * n[..., None])
            val -= np.sum(np.where(q > 0, q * np.log(np.where(q > 0, a2 / n[..., None], 1.0)), 0.0), axis=-1)
            g -= _rotate(q * phi / a2, b) - p / n[..., None]
        if not np.all(np.isfinite(val)):
            raise NonFiniteError("the tomography loss is not finite for the given state")
        return _out(val / B), g / B

    def config(self) -> dict[str, Any]:
        return {"loss": self.name, "dim": self.dim, **self._config}
