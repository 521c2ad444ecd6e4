"""Finite-width ensembles trained on a function-space loss (energy, infidelity, tomography, MSE).

Member ``k`` is ψ = ψ1 + iψ2, two one-hidden-layer ReLU networks (NTK parameterisation) with seeds
``member_seeds(seed, 2K)[2k]`` and ``[2k+1]`` — the seeds discipline of :func:`~nnqs_fast.training.train_ensemble`.
One step of full-batch gradient descent ``θ ← θ − η ∇_θ L`` is split as

1. forward: ``f1 = ψ1(x)``, ``f2 = ψ2(x)`` on the loss's basis inputs (the fused C++ sweep);
2. residual from the loss: ``g = ∂L/∂ψ*`` (:mod:`nnqs_fast.dynamics.losses`; for the energy one sparse
   ``H ψ`` on the full basis), which couples ψ1 and ψ2;
3. backward: network 1 with residual ``∂L/∂f1 = 2 Re g``, network 2 with ``∂L/∂f2 = 2 Im g`` (the supervised
   backward sweep with another residual).

For :class:`~nnqs_fast.dynamics.MSELoss` this is the supervised step (same updates to rounding); the
supervised fast path stays :func:`~nnqs_fast.training.train_ensemble`. The CUDA step implements only the
supervised loss: ``backend="cuda"`` raises :class:`~nnqs_fast.errors.UnsupportedLossError`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import resolve_backend
from .._random import check_seed, member_seeds
from .._validation import as_array, check_finite_scalar, check_positive_int
from ..dynamics.losses import EnergyLoss, FunctionSpaceLoss, MSELoss, fidelity, hot_value_and_grad
from ..errors import InvalidInputError, PrecisionLossWarning, ShapeMismatchError, UnsupportedLossError
from ..networks.dense import B_STD, W_STD
from ..networks.relu import init_relu
from .driver import diverged_units, drive, n_workers_for, run_units
from .step import STATUS_CONVERGED, STATUS_DIVERGED, STATUS_OK, check_step_dtype, make_step
from .trainer import log_record_steps, resolve_learning_rate

__all__ = ["CPULossPool", "LossEnsembleResult", "train_loss_ensemble"]


class CPULossPool:
    """The CPU engine for a function-space loss: ``K`` members (pairs of fused C++ steps) on a thread pool.

    Records per member the loss value (``train_loss``) and, with predictions, ψ on the basis (complex).
    Early stop: ``|L_t − L_{t−1}| <= rtol |L_{t−1}|``; a non-finite loss stops a member (status 2).
    """

    def __init__(self, pairs: list[tuple[Any, ...]], loss: FunctionSpaceLoss, *, n_workers: int | None = None,
                 chunk_flops: float = 5e9) -> None:
        self.pairs, self.loss = pairs, loss
        self._vg = hot_value_and_grad(loss)
        self.n_units, self.n_train, self.n_test = len(pairs), int(loss.dim), 0
        self.pred_dtype = np.complex128
        self.workers = n_workers_for(n_workers, self.n_units)
        if self.workers > 1:
            for pair in pairs:
                for s in pair:
                    if hasattr(s, "threads"):
                        s.threads = 1
        self.chunk_steps = max(1, int(chunk_flops / max(2.0 * float(pairs[0][0].flops_per_step), 1.0)))
        self.status = np.zeros(self.n_units, np.int32)
        self.stop_step = np.full(self.n_units, -1, np.int64)
        self._halt = False

    def _advance(self, m: int, n_steps: int, rs: np.ndarray, rec_pred: bool, rtol: float,
                 out: dict[str, np.ndarray]) -> None:
        s1, s2 = self.pairs[m]
        t0 = s1.step
        t_end = t0 + n_steps
        want = {int(t): r for r, t in enumerate(rs) if t0 <= t <= t_end}
        prev = np.nan
        t = t0
        while True:
            psi = s1.forward() + 1j * s2.forward()
            val, g = self._vg(psi)
            val = float(val)
            if not np.isfinite(val):
                self.status[m], self.stop_step[m] = STATUS_DIVERGED, t
                for tt, r in want.items():
                    if tt >= t:
                        out["train_loss"][m, r] = val
                return
            if rtol > 0 and np.isfinite(prev) and abs(prev - val) <= rtol * abs(prev):
                self.status[m], self.stop_step[m] = STATUS_CONVERGED, t
                for tt, r in want.items():
                    if tt >= t:
                        self._record(m, r, val, psi, rec_pred, out)
                return
            if t in want:
                self._record(m, want[t], val, psi, rec_pred, out)
            if t >= t_end or self._halt:
                return
            prev = val
            s1.apply_gradient(2.0 * g.real)
            s2.apply_gradient(2.0 * g.imag)
            t += 1

    @staticmethod
    def _record(m: int, r: int, val: float, psi: np.ndarray, rec_pred: bool, out: dict[str, np.ndarray]) -> None:
        out["train_loss"][m, r] = val
        if rec_pred:
            out["train_pred"][m, r] = psi

    def _request_halt(self) -> None:
        self._halt = True

    def run(self, n_steps: int, record_steps: np.ndarray, record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> dict[str, np.ndarray]:
        M, R = self.n_units, len(record_steps)
        out: dict[str, np.ndarray] = {"train_loss": np.full((M, R), np.nan), "test_loss": np.full((M, R), np.nan)}
        if record_predictions:
            out["train_pred"] = np.full((M, R, self.n_train), np.nan, np.complex128)
            out["test_pred"] = np.full((M, R, 0), np.nan, np.complex128)
        todo = [m for m in range(M) if self.status[m] == STATUS_OK]
        args = (n_steps, np.asarray(record_steps, np.int64), record_predictions, early_stop_rtol, out)
        run_units(lambda m: self._advance(m, *args), todo, self.workers, on_error=self._request_halt)
        out["status"], out["stop_step"] = self.status.copy(), self.stop_step.copy()
        return out


@dataclass
class LossEnsembleResult:
    """Recorded curves of a finite-width ensemble trained on a function-space loss. ``K`` members, ``R`` steps.

    ``loss``, ``norm2`` (``⟨ψ|ψ⟩``) ``(K, R)``; ``energy`` ``(K, R)`` with a Hamiltonian; ``fidelity`` ``(K, R)``
    with a reference state; ``states`` ``(K, R, D)`` with ``record_states``. NaN: not reached (interrupted) or
    diverged. ``stopped_at[k]``: the step member ``k`` stopped at (−1: ran all steps).
    """

    steps: np.ndarray
    loss: np.ndarray
    norm2: np.ndarray
    seeds: np.ndarray
    stopped_at: np.ndarray
    learning_rate: float
    max_learning_rate: float
    energy: np.ndarray | None = None
    fidelity: np.ndarray | None = None
    states: np.ndarray | None = None
    config: dict[str, Any] = field(default_factory=dict)
    members_done: int = 0
    interrupted: bool = False
    wall_time_s: float = 0.0
    backend: str = "cpu"

    def stats(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error over members of ``loss``, ``energy``, ``fidelity`` or ``norm2``."""
        from ..dynamics.flow import mean_sem

        a = getattr(self, name)
        if a is None:
            raise InvalidInputError(f"{name} was not recorded (pass the Hamiltonian / reference state)")
        return mean_sem(a, axis=0)


def train_loss_ensemble(x: Any, loss: FunctionSpaceLoss, *, width: int = 1024, n_members: int = 8,
                        n_steps: int = 1000, learning_rate: float | None = None, lr_factor: float = 0.5,
                        max_learning_rate: float | None = None, force: bool = False, W_std: float = W_STD,
                        b_std: float = B_STD, seed: int = 0, record_steps: Any = None, n_record: int = 40,
                        early_stop_rtol: float = 0.0, hamiltonian: Any = None, reference: Any = None,
                        record_states: bool = False, chunk_flops: float = 5e9, n_workers: int | None = None,
                        backend: str = "cpu", quiet: bool = False, desc: str = "train",
                        dtype: Any = None) -> LossEnsembleResult:
    """Train ``n_members`` NNQS ψ = ψ1 + iψ2 (depth-1 ReLU networks of ``width``) on ``loss`` by full-batch GD.

    ``x``: ``(D, d)`` network inputs of the loss's basis states (same order as the loss's amplitudes).
    Learning rate: ``learning_rate``, else ``lr_factor × max_learning_rate`` (for the energy use
    :func:`nnqs_fast.dynamics.flow.energy_learning_rate`; for :class:`MSELoss` it defaults to ``n/λ_max`` of the
    analytic NTK). ``hamiltonian`` / ``reference``: also record ``⟨H⟩`` (default: the energy loss's ``H``) and
    the fidelity at every record step.
    Seeds, recording, early stop, Ctrl-C, ``n_workers`` and ``dtype`` (the training precision, float64 by
    default; ``config["dtype"]``) as in :func:`~nnqs_fast.training.train_ensemble`.
    """
    if not isinstance(loss, FunctionSpaceLoss):
        raise InvalidInputError(f"loss must be a nnqs_fast.dynamics FunctionSpaceLoss, got {type(loss).__name__}")
    if str(backend).lower() == "cuda":
        raise UnsupportedLossError(f"the CUDA gradient-descent step implements only the supervised loss (Eq. 13), "
                                   f"not the {loss.name!r} loss; use backend='cpu' (or train_ensemble for MSE)")
    resolve_backend(backend)  # validates the name; "auto" runs on the CPU engine (the only one for these losses)
    t_start = time.perf_counter()
    xa = as_array(x, "x", ndim=2, dtype=np.float64, allow_complex=False)
    D = xa.shape[0]
    if D != loss.dim:
        raise ShapeMismatchError(f"x has {D} rows but the loss acts on {loss.dim} basis states")
    width = check_positive_int(width, "width")
    K = check_positive_int(n_members, "n_members")
    n_steps = check_positive_int(n_steps, "n_steps", minimum=0)
    seed = check_seed(seed)
    rtol = check_finite_scalar(early_stop_rtol, "early_stop_rtol", nonnegative=True)
    steps = log_record_steps(n_steps, n_record) if record_steps is None else np.asarray(record_steps, np.int64)
    if steps.ndim != 1 or steps.size == 0 or np.any(np.diff(steps) <= 0) or steps[0] < 0 or steps[-1] > n_steps:
        raise InvalidInputError(f"record_steps must be strictly increasing within [0, n_steps={n_steps}]")
    if max_learning_rate is None:
        if learning_rate is None and not isinstance(loss, MSELoss):
            raise InvalidInputError(f"give learning_rate or max_learning_rate for the {loss.name!r} loss (e.g. "
                                    "nnqs_fast.dynamics.energy_learning_rate for the energy)")
        if learning_rate is None:
            from .trainer import max_learning_rate_for

            max_learning_rate = max_learning_rate_for(xa, W_std=W_std, b_std=b_std)
    max_lr = float("inf") if max_learning_rate is None else check_finite_scalar(max_learning_rate,
                                                                               "max_learning_rate", positive=True)
    lr = (check_finite_scalar(learning_rate, "learning_rate", positive=True) if max_learning_rate is None
          else resolve_learning_rate(learning_rate, lr_factor, max_lr, D, force, what=f"η_max of the {loss.name} loss"))
    if hamiltonian is None and isinstance(loss, EnergyLoss):
        hamiltonian = loss.H
    ham = None if hamiltonian is None else EnergyLoss(hamiltonian)
    ref = None if reference is None else as_array(reference, "reference", ndim=1).astype(np.complex128)

    dt = check_step_dtype(dtype)
    seeds_flat = member_seeds(seed, 2 * K)
    zeros = np.zeros(D)
    pairs = []
    for k in range(K):
        pair = tuple(make_step(init_relu(seeds_flat[2 * k + p], xa.shape[1], width, 1, W_std=W_std, b_std=b_std),
                               xa, zeros, lr, backend="cpu", dtype=dt) for p in range(2))
        pairs.append(pair)
    engine = CPULossPool(pairs, loss, n_workers=n_workers, chunk_flops=chunk_flops)
    out = drive(engine, steps, n_steps, record_predictions=True, early_stop_rtol=rtol, quiet=quiet, desc=desc)
    for m, t in diverged_units(out):
        warnings.warn(f"member {m}: the {loss.name} loss became non-finite at step {t} (learning rate {lr:.6g}); "
                      "its later values are NaN", PrecisionLossWarning, stacklevel=2)
    psi = np.asarray(out.train_pred)                               # (K, R, D)
    ok = np.all(np.isfinite(psi), axis=2)
    safe = np.where(ok[..., None], psi, 1.0)
    norm2 = np.where(ok, np.sum(np.abs(safe) ** 2, axis=2), np.nan)
    en = None if ham is None else np.where(ok, ham.value(safe), np.nan)
    fid = None if ref is None else np.where(ok, fidelity(safe, ref), np.nan)
    config = {"width": width, "depth": 1, "n_members": K, "n_steps": n_steps, "W_std": W_std, "b_std": b_std,
              "seed": seed, "n_basis": D, "dtype": dt.name,
              "loss": loss.config(), "lr_factor": None if learning_rate else lr_factor,
              "learning_rate_given": learning_rate, "early_stop_rtol": rtol, "force": force,
              "seeds_rule": "member k: member_seeds(seed, 2K)[2k] (psi1), [2k+1] (psi2)"}
    return LossEnsembleResult(steps=steps, loss=out.train_loss, norm2=norm2,
                              seeds=np.array(seeds_flat, np.uint64).reshape(K, 2),
                              stopped_at=np.where(out.status != 0, out.stop_step, -1), learning_rate=lr,
                              max_learning_rate=max_lr, energy=en, fidelity=fid,
                              states=psi if record_states else None, config=config,
                              members_done=int(out.finished.sum()), interrupted=out.interrupted,
                              wall_time_s=time.perf_counter() - t_start, backend="cpu")
