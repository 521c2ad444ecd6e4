"""The constant-kernel (infinite-width) gradient flow of ψ for any loss, batched over initial states.

For real parameters θ, a real loss ``L[ψ]`` of the amplitudes on a basis set ``B`` and gradient descent
``θ ← θ − η ∇_θ L``, the wavefunction moves as (docs/groundstate.md; Θ, Φ of Eq. 7)::

    dψ(x)/dt = −η Σ_{x'∈B} [Θ(x,x') ∂L/∂ψ(x') + Φ(x,x') ∂L/∂ψ*(x')]

(Wirtinger derivatives; :mod:`nnqs_fast.dynamics.losses`). Written for ``u = (ψ1, ψ2)`` this is
``du/dt = −η Ω_RI ∇_u L`` with ``∇_u L = 2 (Re, Im) ∂L/∂ψ*`` and ``Ω_RI`` of S6, which is how it is computed.
For the loss of Eq. 13 it is the closed form of :func:`nnqs_fast.dynamics.qsntk_mse_predictor`
(``dΨ/dt = −(η/n) ΩM (Ψ − Ψ_T)``); for the energy it is nonlinear.

* discrete steps (``discrete=True``): ``u_{k+1} = u_k − η Ω_RI ∇_u L(u_k)`` — exactly one gradient-descent step of
  the linearised network, so step ``k`` means the same as in :func:`nnqs_fast.training.train_ensemble`;
* continuous time (``discrete=False``): the ODE above, ``t`` in gradient-descent steps
  (:func:`scipy.integrate.solve_ivp`, DOP853).

The ``K`` states are rows of a ``(K, ·)`` matrix, so each step is one GEMM ``G @ Ω`` (``G`` the ``(2K, D)``
gradients of all real and imaginary parts for a shared kernel ``Θ1 = Θ2``; ``(K, 2D) @ (2D, 2D)`` with mixing).
A float32 kernel runs the GEMM in float32 (states and losses stay float64).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._random import rng
from .._validation import as_array, check_finite_output, check_finite_scalar, check_nbytes, check_positive_int
from ..errors import InvalidInputError, KernelNotPositiveDefiniteError, NonFiniteError, ShapeMismatchError
from ._walsh import WalshEnergyFlow, fwht_rows, walsh_conjugate
from .losses import EnergyLoss, FunctionSpaceLoss, fidelity, hadamard_transform, hot_value_and_grad

__all__ = ["FlowKernel", "as_flow_kernel", "walsh_spectrum", "loss_flow", "FlowResult", "sample_gp_states",
           "energy_learning_rate", "flow_learning_rate", "mean_sem"]


@dataclass(frozen=True)
class FlowKernel:
    """The QS-NTK over the basis in the form the flow applies: ``kind`` ``"shared"`` (``Θ1 = Θ2 = mats[0]``, no
    mixing), ``"pair"`` (``Θ1, Θ2``, no mixing), ``"ri"`` (``Ω_RI``, ``(2D, 2D)``) or ``"walsh"`` (no mixing,
    ``Θ_p(x, x') = k_p(x ⊕ x')`` on the ``2^L`` spin basis: ``mats`` holds the eigenvalues ``λ_p = H k_p``, the
    Walsh–Hadamard transform of the first row, one per part)."""

    kind: str
    mats: tuple[np.ndarray, ...]
    dim: int

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue of ``Ω_RI`` (float64 eigensolve; read off the spectrum for ``"walsh"``)."""
        if self.kind == "walsh":
            return float(max(np.max(m) for m in self.mats))
        return float(max(np.linalg.eigvalsh(np.asarray(m, np.float64))[-1] for m in self.mats))

    def apply(self, g: np.ndarray) -> np.ndarray:
        """``Ω_RI ∇`` for real gradients ``g = (K, 2, D)`` (part 0: ψ1, part 1: ψ2); one GEMM per kernel, or two
        fast Walsh–Hadamard transforms (``O(D log D)`` per state) for ``"walsh"``."""
        K, _, D = g.shape
        if self.kind == "walsh":   # W diag(λ_p) W on all 2K real rows at once (two real transforms)
            z = fwht_rows(g.reshape(2 * K, D)).reshape(K, 2, D)
            z[:, 0] *= self.mats[0]
            z[:, 1] *= self.mats[-1]
            return fwht_rows(z.reshape(2 * K, D)).reshape(K, 2, D)
        dt = self.mats[0].dtype
        if self.kind == "shared":
            out = g.reshape(2 * K, D).astype(dt, copy=False) @ self.mats[0]
            return out.reshape(K, 2, D)
        if self.kind == "pair":
            return np.stack([g[:, 0].astype(dt, copy=False) @ self.mats[0],
                             g[:, 1].astype(dt, copy=False) @ self.mats[1]], axis=1)
        return (g.reshape(K, 2 * D).astype(dt, copy=False) @ self.mats[0]).reshape(K, 2, D)


def walsh_spectrum(k: np.ndarray, *, rtol: float = 1e-10) -> np.ndarray | None:
    """The eigenvalues ``λ = H k_0`` of a kernel with ``K[i, j] = k_0(i ⊕ j)`` on the ``2^L`` spin basis (every
    built-in analytic kernel on ±1 inputs, which depends on ``x·x' = L − 2·popcount(i ⊕ j)`` only), with ``H`` the
    unnormalised Walsh–Hadamard matrix (``K = H diag(λ) H / D``); None when ``K`` lacks that structure (checked on
    every entry, in row blocks)."""
    D = k.shape[0]
    if D < 2 or D & (D - 1) or k.shape != (D, D):
        return None
    k0 = np.asarray(k[0], np.float64)
    cols = np.arange(D)
    tol = rtol * float(np.max(np.abs(k0))) + (1e-6 * float(np.max(np.abs(k0))) if k.dtype == np.float32 else 0.0)
    for r0 in range(0, D, 256):
        rows = np.arange(r0, min(D, r0 + 256))
        if np.max(np.abs(k[rows] - k0[np.bitwise_xor.outer(rows, cols)])) > tol:
            return None
    return np.sqrt(D) * hadamard_transform(k0).real


def as_flow_kernel(kernel: Any, dtype: Any = None, dim: int | None = None, structure: str = "auto") -> FlowKernel:
    """Parse a QS-NTK for :func:`loss_flow`: a :class:`~nnqs_fast.kernels.QSNTK` (analytic decoupled or with
    mixing, or a user's empirical one), a real ``(D, D)`` NTK shared by ψ1 and ψ2 (decoupled, the same
    architecture for both parts), a pair ``(Θ1, Θ2)``, or a real ``(2D, 2D)`` ``Ω_RI`` (read as such when ``dim``,
    the number of basis states, is ``D``). Kernels are symmetric (``x2 = x1``), so ``Ω ∇`` is computed as ``∇ Ω``.
    ``dtype`` (float64 default, or float32) is the GEMM's. ``structure="auto"`` uses the Walsh–Hadamard form
    (:func:`walsh_spectrum`) when a decoupled kernel on a ``2^L`` spin basis has it; ``"dense"`` always GEMMs."""
    dt = np.dtype(np.float64 if dtype is None else dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidInputError(f"dtype must be float32 or float64, got {dt}")

    def sq(a: Any, name: str) -> np.ndarray:
        m = as_array(a, name, ndim=2, allow_complex=False)
        if m.shape[0] != m.shape[1]:
            raise ShapeMismatchError(f"{name} must be square (the kernel over the basis), got {m.shape}")
        return np.ascontiguousarray(m, dtype=dt)

    if structure not in ("auto", "dense"):
        raise InvalidInputError(f"structure must be 'auto' or 'dense', got {structure!r}")
    fk = _parse_flow_kernel(kernel, dt, dim, sq)
    if structure == "auto" and fk.kind in ("shared", "pair"):
        lams = [walsh_spectrum(m) for m in fk.mats]
        if all(lam is not None for lam in lams):
            return FlowKernel("walsh", tuple(lam for lam in lams if lam is not None), fk.dim)
    return fk


def _parse_flow_kernel(kernel: Any, dt: np.dtype, dim: int | None, sq: Callable[[Any, str], np.ndarray]
                       ) -> FlowKernel:
    if hasattr(kernel, "omega_ri") and hasattr(kernel, "theta1"):
        if kernel.theta1.shape[0] != kernel.theta1.shape[1]:
            raise ShapeMismatchError("the QS-NTK must be over the basis with itself (x2 = x1)")
        if kernel.decoupled:
            if kernel.theta1 is kernel.theta2 or np.array_equal(kernel.theta1, kernel.theta2):
                m = sq(kernel.theta1, "theta1")
                return FlowKernel("shared", (m,), m.shape[0])
            return FlowKernel("pair", (sq(kernel.theta1, "theta1"), sq(kernel.theta2, "theta2")),
                              kernel.theta1.shape[0])
        m = sq(kernel.omega_ri, "omega_ri")
        return FlowKernel("ri", (m,), m.shape[0] // 2)
    if isinstance(kernel, (tuple, list)):
        if len(kernel) != 2:
            raise InvalidInputError("a kernel pair must be (theta1, theta2)")
        a, b = sq(kernel[0], "theta1"), sq(kernel[1], "theta2")
        if a.shape != b.shape:
            raise ShapeMismatchError(f"theta1 {a.shape} and theta2 {b.shape} differ")
        return FlowKernel("pair", (a, b), a.shape[0])
    m = sq(kernel, "kernel")
    if dim is not None and m.shape[0] == 2 * dim:
        return FlowKernel("ri", (m,), dim)
    return FlowKernel("shared", (m,), m.shape[0])


def mean_sem(a: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error ``std(ddof=1)/√K`` over ``axis`` (s.e. 0 for one member), ignoring NaN."""
    import warnings

    a = as_array(a, "a", ndim=None, dtype=np.float64, allow_complex=False, finite=False)
    if a.ndim == 0:
        raise ShapeMismatchError("mean_sem needs an array with the members on an axis, got a scalar")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or not -a.ndim <= axis < a.ndim:
        raise InvalidInputError(f"axis must be an integer in [{-a.ndim}, {a.ndim - 1}], got {axis!r}")
    if np.any(np.isinf(a)):
        raise NonFiniteError("mean_sem: the values hold inf (NaN marks a member not reached and is skipped)")
    k = np.sum(np.isfinite(a), axis=axis)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (not reached) stay NaN
        mean = np.nanmean(a, axis=axis)
        sd = np.nanstd(a, axis=axis, ddof=1) if a.shape[axis] > 1 else np.zeros_like(mean)
        sem = np.where(k > 1, sd / np.sqrt(np.maximum(k, 1)), np.where(k == 1, 0.0, np.nan))
    if np.any(np.isinf(mean)) or np.any(np.isinf(sem)):
        check_finite_output(np.where(np.isnan(sem), 0.0, sem) + np.where(np.isnan(mean), 0.0, mean),
                            "mean_sem (the values overflow float64 when squared)")
    return mean, sem


@dataclass
class FlowResult:
    """Recorded quantities of :func:`loss_flow` for ``K`` states at ``R`` record steps (all float64).

    ``loss`` (K, R); ``energy`` (K, R) when a Hamiltonian was given; ``fidelity`` (K, R) with ``reference`` when
    given; ``norm2`` (K, R) ``⟨ψ|ψ⟩``; ``states`` (K, R, D) complex with ``record_states``.
    """

    steps: np.ndarray
    loss: np.ndarray
    norm2: np.ndarray
    energy: np.ndarray | None = None
    fidelity: np.ndarray | None = None
    states: np.ndarray | None = None
    learning_rate: float = 0.0
    discrete: bool = True
    config: dict[str, Any] = field(default_factory=dict)

    def stats(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error over the states of ``loss``, ``energy``, ``fidelity`` or ``norm2``."""
        a = getattr(self, name)
        if a is None:
            raise InvalidInputError(f"{name} was not recorded (pass the Hamiltonian / reference state)")
        return mean_sem(a, axis=0)


def _record_steps(steps: Any, n_steps: float) -> np.ndarray:
    s = np.asarray(steps, dtype=np.float64).reshape(-1)
    if s.size == 0 or np.any(np.diff(s) <= 0) or s[0] < 0 or s[-1] > n_steps:
        raise InvalidInputError(f"record_steps must be strictly increasing within [0, n_steps={n_steps}]")
    return s


def loss_flow(kernel: Any, loss: FunctionSpaceLoss, psi0: Any, *, learning_rate: float, n_steps: float,
              record_steps: Any = None, discrete: bool = True, hamiltonian: Any = None, reference: Any = None,
              record_states: bool = False, dtype: Any = None, rtol: float = 1e-9, atol: float = 1e-12,
              structure: str = "auto", callback: Callable[[int], None] | None = None) -> FlowResult:
    """Evolve ``K`` initial states under the constant-kernel gradient flow of ``loss`` (module docstring).

    Parameters
    ----------
    kernel: the QS-NTK over the loss's basis (:func:`as_flow_kernel`).
    loss: a :class:`~nnqs_fast.dynamics.losses.FunctionSpaceLoss` (MSE, energy, infidelity, tomography, ...).
    psi0: ``(K, D)`` or ``(D,)`` complex initial states (e.g. :func:`sample_gp_states`, or a network's output).
    learning_rate: η (time ``t`` is in gradient-descent steps, as in the trainer).
    n_steps: the last step (an integer for ``discrete=True``).
    record_steps: steps to record (default ``[0, n_steps]``).
    hamiltonian, reference: also record ``⟨H⟩`` and the fidelity with ``reference`` at each record step.
    dtype: the kernel's GEMM dtype (float64 default; float32 for speed).
    structure: ``"auto"`` applies a Walsh-structured kernel (:func:`walsh_spectrum`: the analytic kernels on the
        full spin basis) by fast Walsh–Hadamard transforms, ``O(K D log D)`` per step; ``"dense"``: GEMM.
    rtol, atol: tolerances of the continuous-time integrator.
    callback: called with the number of discrete steps done after each block (progress bars).
    """
    if not isinstance(loss, FunctionSpaceLoss):
        raise InvalidInputError(f"loss must be a FunctionSpaceLoss (e.g. EnergyLoss(H)), got {type(loss).__name__}")
    fk = as_flow_kernel(kernel, dtype, dim=getattr(loss, "dim", None), structure=structure)
    D = fk.dim
    if getattr(loss, "dim", D) != D:
        raise ShapeMismatchError(f"the loss acts on {loss.dim} basis states but the kernel on {D}")
    p0 = as_array(psi0, "psi0", ndim=(1, 2)).astype(np.complex128)
    p0 = np.atleast_2d(p0)
    if p0.shape[1] != D:
        raise ShapeMismatchError(f"psi0 has {p0.shape[1]} amplitudes but the kernel is over {D} basis states")
    lr = check_finite_scalar(learning_rate, "learning_rate", positive=True)
    n_steps_f = check_finite_scalar(n_steps, "n_steps", nonnegative=True)
    if discrete and n_steps_f != int(n_steps_f):
        raise InvalidInputError("discrete=True needs a whole number of steps")
    rs = _record_steps([0, n_steps_f] if record_steps is None else record_steps, n_steps_f)
    if discrete and np.any(rs != np.round(rs)):
        raise InvalidInputError("discrete=True records after whole steps: record_steps must be integers")
    ham = None if hamiltonian is None else EnergyLoss(hamiltonian)
    if ham is not None and ham.dim != D:
        raise ShapeMismatchError(f"the Hamiltonian acts on {ham.dim} states but the kernel on {D}")
    ref = None if reference is None else as_array(reference, "reference", ndim=1).astype(np.complex128)
    K, R = p0.shape[0], rs.size
    en_arr, fid_arr = np.full((K, R), np.nan), np.full((K, R), np.nan)
    st_arr = np.full((K, R, D if record_states else 0), np.nan, np.complex128)
    res = FlowResult(steps=rs if not discrete else rs.astype(np.int64), loss=np.full((K, R), np.nan),
                     norm2=np.full((K, R), np.nan), energy=None if ham is None else en_arr,
                     fidelity=None if ref is None else fid_arr, states=st_arr if record_states else None,
                     learning_rate=lr, discrete=discrete,
                     config={"loss": loss.config(), "kernel_form": fk.kind, "kernel_dtype": str(fk.mats[0].dtype),
                             "learning_rate": lr, "n_steps": n_steps_f, "discrete": discrete, "n_states": K,
                             "time_unit": "gradient-descent steps"})

    def record(r: int, psi: np.ndarray, val: np.ndarray) -> None:
        res.loss[:, r] = val
        res.norm2[:, r] = np.sum(psi.real ** 2 + psi.imag ** 2, axis=1)
        if ham is not None:
            en_arr[:, r] = ham.value(psi)
        if ref is not None:
            fid_arr[:, r] = fidelity(psi, ref)
        if record_states:
            st_arr[:, r] = psi

    walsh = _walsh_energy_flow(fk, loss, K)
    if walsh is not None:
        res.config["flow_domain"] = "walsh"
        return _walsh_flow(walsh, res, record, p0, lr, n_steps_f, rs, discrete, rtol, atol, callback)
    res.config["flow_domain"] = "basis"
    vg = hot_value_and_grad(loss)

    def velocity(psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        val, g = vg(psi)
        gr = np.stack([2.0 * g.real, 2.0 * g.imag], axis=1)        # ∇_u L, (K, 2, D)
        v = fk.apply(gr)
        return np.atleast_1d(val), v[:, 0] + 1j * v[:, 1]          # Ω_RI ∇_u L as a complex vector

    if discrete:
        psi = p0.copy()
        want = {int(t): r for r, t in enumerate(rs)}
        t_end = int(n_steps_f)
        for t in range(t_end + 1):
            need_rec = t in want
            if t == t_end:
                if need_rec:
                    record(want[t], psi, np.atleast_1d(loss.value(psi)))
                break
            val, v = velocity(psi)
            if need_rec:
                record(want[t], psi, val)
            psi -= lr * v.astype(np.complex128, copy=False)
            if callback is not None and (t + 1) % 256 == 0:
                callback(t + 1)
        if not np.all(np.isfinite(psi)):
            raise NonFiniteError(f"the flow became non-finite (learning rate {lr:.6g} too large? see "
                                 "energy_learning_rate)")
        return res

    from scipy.integrate import solve_ivp

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        psi = y.reshape(2, K, D)
        _, v = velocity(psi[0] + 1j * psi[1])
        return -lr * np.concatenate([v.real.ravel(), v.imag.ravel()])

    y0 = np.concatenate([p0.real.ravel(), p0.imag.ravel()])
    sol = solve_ivp(rhs, (0.0, float(rs[-1])), y0, method="DOP853", t_eval=rs, rtol=rtol, atol=atol)
    if not sol.success:
        raise NonFiniteError(f"the continuous-time flow failed: {sol.message}")
    for r in range(R):
        y = sol.y[:, r].reshape(2, K, D)
        psi = y[0] + 1j * y[1]
        record(r, psi, np.atleast_1d(loss.value(psi)))
    return res


def _walsh_energy_flow(fk: FlowKernel, loss: FunctionSpaceLoss, K: int) -> WalshEnergyFlow | None:
    """The Walsh-domain energy flow (:mod:`nnqs_fast.dynamics._walsh`) when it applies: a Walsh-structured kernel,
    the built-in energy loss (not a subclass that changes the formula) and a real matrix ``H`` whose conjugate
    ``W H W`` is sparse. ``H̃`` is cached on the loss."""
    if fk.kind != "walsh" or not isinstance(loss, EnergyLoss) or type(loss)._vg is not EnergyLoss._vg:
        return None
    H = loss.H
    if not (sp.issparse(H) or isinstance(H, np.ndarray)) or np.iscomplexobj(H):
        return None
    cache = loss.__dict__.get("_walsh_conjugate")
    if cache is None or cache[0] is not H:
        cache = (H, walsh_conjugate(H))
        loss.__dict__["_walsh_conjugate"] = cache
    if cache[1] is None:
        return None
    return WalshEnergyFlow(cache[1], fk.mats, K)


def _walsh_flow(walsh: WalshEnergyFlow, res: FlowResult, record: Callable[[int, np.ndarray, np.ndarray], None],
                p0: np.ndarray, lr: float, n_steps_f: float, rs: np.ndarray, discrete: bool, rtol: float,
                atol: float, callback: Callable[[int], None] | None) -> FlowResult:
    """:func:`loss_flow` of the energy in the Walsh domain: the same steps (discrete) or ODE (continuous) on
    ``ψ̃ = W ψ``; the states are transformed back only at the recorded steps."""
    u = walsh.to_block(p0)
    if discrete:
        want = {int(t): r for r, t in enumerate(rs)}
        t_end = int(n_steps_f)
        for t in range(t_end + 1):
            r = want.get(t)
            psi = walsh.from_block(u) if r is not None else None
            if t == t_end:
                if psi is not None and r is not None:
                    record(r, psi, walsh.energy(u)[0])
                break
            e, _ = walsh.step(u, lr)
            if psi is not None and r is not None:
                record(r, psi, e)
            if callback is not None and (t + 1) % 256 == 0:
                callback(t + 1)
        if not np.all(np.isfinite(u)):
            raise NonFiniteError(f"the flow became non-finite (learning rate {lr:.6g} too large? see "
                                 "energy_learning_rate)")
        return res

    from scipy.integrate import solve_ivp

    shape = u.shape

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        walsh.gradient_step(y.reshape(shape), -lr)
        return walsh.hu.ravel().copy()

    sol = solve_ivp(rhs, (0.0, float(rs[-1])), u.ravel(), method="DOP853", t_eval=rs, rtol=rtol, atol=atol)
    if not sol.success:
        raise NonFiniteError(f"the continuous-time flow failed: {sol.message}")
    for r in range(rs.size):
        ur = np.ascontiguousarray(sol.y[:, r].reshape(shape))
        record(r, walsh.from_block(ur), walsh.energy(ur)[0])
    return res


def sample_gp_states(cov: Any, n_states: int, seed: int, *, joint: bool = False,
                     jitter: float = 1e-10) -> np.ndarray:
    """``n_states`` initial wavefunctions ``ψ = ψ1 + iψ2`` drawn from the architecture's NNGP (seeded).

    ``cov``: a real ``(D, D)`` NNGP kernel shared by independent ψ1, ψ2 (decoupled networks), a pair
    ``(K1, K2)``, or with ``joint=True`` a real ``(2D, 2D)`` covariance of ``(ψ1, ψ2)``. Factorised by Cholesky
    with a relative ``jitter`` on the diagonal (an eigen-decomposition with negative round-off eigenvalues
    clipped if that fails). Returns ``(n_states, D)`` complex128 from one standard-normal draw of ``rng(seed)``.
    """
    n_states = check_positive_int(n_states, "n_states")
    D_est = int(np.shape(cov[0] if isinstance(cov, (tuple, list)) and cov else cov)[0]) if np.ndim(
        cov[0] if isinstance(cov, (tuple, list)) and cov else cov) else 1
    check_nbytes((4 * n_states, max(D_est, 1)), 8, f"{n_states} sampled states of dimension {D_est}")
    g = rng(seed)
    if isinstance(cov, (tuple, list)):
        if len(cov) != 2 or joint:
            raise InvalidInputError("a covariance pair must be (K1, K2) (and not joint)")
        f1, f2 = (_psd_factor(as_array(c, "cov", ndim=2, dtype=np.float64, allow_complex=False), jitter)
                  for c in cov)
        z = g.standard_normal((f1.shape[0], 2 * n_states))
        return (f1 @ z[:, 0::2]).T + 1j * (f2 @ z[:, 1::2]).T
    f = _psd_factor(as_array(cov, "cov", ndim=2, dtype=np.float64, allow_complex=False), jitter)
    D = f.shape[0]
    if joint:
        if D % 2:
            raise ShapeMismatchError(f"a joint covariance of (psi1, psi2) is (2D, 2D), got {D} rows")
        u = (f @ g.standard_normal((D, n_states))).T
        return u[:, : D // 2] + 1j * u[:, D // 2:]
    u = (f @ g.standard_normal((D, 2 * n_states))).T
    return u[0::2] + 1j * u[1::2]


def _psd_factor(m: np.ndarray, jitter: float) -> np.ndarray:
    if m.size == 0:
        raise ShapeMismatchError("the NNGP covariance is empty")
    if m.shape[0] != m.shape[1] or not np.allclose(m, m.T, rtol=1e-8, atol=1e-12 * np.abs(m).max()):
        raise InvalidInputError(f"the NNGP covariance must be a symmetric square matrix, got shape {m.shape}")
    scale = float(np.mean(np.diag(m))) or 1.0
    try:
        return np.linalg.cholesky(m + jitter * scale * np.eye(m.shape[0]))
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(m)
        if w[0] < -1e-8 * abs(w[-1]):
            raise KernelNotPositiveDefiniteError(f"the NNGP covariance has eigenvalue {w[0]:.3g} < 0 "
                                                 f"(largest {w[-1]:.3g}); it is not a covariance") from None
        return V * np.sqrt(np.clip(w, 0, None))


def flow_learning_rate(kernel: Any, loss: FunctionSpaceLoss, mean_norm2: float) -> float:
    """The maximal stable learning rate of discrete gradient descent on ``loss`` with a constant kernel,
    ``η_max = ⟨ψ|ψ⟩ / (λ_max(Ω_RI) c)`` with ``c = loss.curvature()`` (for the energy ``E_max − E_min``).

    Near a minimum the loss's real Hessian is bounded by ``2c/⟨ψ|ψ⟩`` on the tangent space, so one step multiplies
    a deviation by ``1 − η Ω_RI Hess`` whose eigenvalues lie in ``[1 − 2η λ_max(Ω_RI) c/⟨ψ|ψ⟩, 1]``: stable for
    ``η < η_max``. ``mean_norm2`` is the expected ``⟨ψ|ψ⟩`` of the initial states (the trace of their
    covariance; the energy flow keeps it to leading order).
    """
    if not isinstance(loss, FunctionSpaceLoss):
        raise InvalidInputError(f"loss must be a FunctionSpaceLoss (e.g. EnergyLoss(H)), got {type(loss).__name__}")
    if not isinstance(kernel, FlowKernel) and np.size(kernel) == 0:
        raise ShapeMismatchError("the kernel is empty")
    fk = kernel if isinstance(kernel, FlowKernel) else as_flow_kernel(kernel, dim=getattr(loss, "dim", None))
    n2 = check_finite_scalar(mean_norm2, "mean_norm2", positive=True)
    lam, c = fk.lambda_max, float(loss.curvature())
    if lam <= 0 or c <= 0:
        raise InvalidInputError(f"the kernel's largest eigenvalue ({lam:.3g}) and the loss's curvature ({c:.3g}) "
                                "must be positive")
    return float(n2 / (lam * c))


def energy_learning_rate(kernel: Any, H: Any, mean_norm2: float) -> float:
    """:func:`flow_learning_rate` of the energy ``⟨ψ|H|ψ⟩/⟨ψ|ψ⟩``: ``⟨ψ|ψ⟩ / (λ_max(Ω_RI) (E_max − E_min))``."""
    return flow_learning_rate(kernel, EnergyLoss(H), mean_norm2)
