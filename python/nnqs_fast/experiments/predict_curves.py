"""QS-NTK predictions of supervised training curves (the paper's Fig. 2 / Fig. 3 QS-NTK lines).

config dataclass -> :func:`run_predict_curves` -> :class:`PredictResults`. For a target wavefunction (TFIM or
Hubbard quench, :func:`nnqs_fast.physics.make_target`), the basis is split uniformly at random into
``train_size`` train points and the rest as test points; the analytic NNGP and NTK of the one-hidden-layer ReLU
network (both real parts ψ1, ψ2 share the kernels: decoupled dynamics) give the infinite-ensemble losses
L_μ, L_γ, L_Ψl = L_μ + L_γ (Eqs. 16–18) on a log grid of gradient-descent steps at ``lr_fraction × η_max``
(η_max = n / λ_max(Θ_train)), their τ → ∞ limits, and the fidelity of the mean state μ(τ) over the full basis.

Two paths, the same values: on the full spin basis (TFIM; detected by
:func:`nnqs_fast.dynamics._structure.is_xor_basis`) the kernels are XOR kernels k_0(i ⊕ j), the train-train blocks
are gathered from their first rows and the test losses/means come from
:meth:`~nnqs_fast.dynamics.EnsemblePredictor.losses_xor` / ``test_mean_xor`` (train-only O(n³) products and fast
Walsh–Hadamard transforms); otherwise (Hubbard sectors) the test-train kernels are streamed in row blocks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._random import rng
from .._validation import check_finite_scalar, check_positive_int
from ..dynamics import assemble_state, fidelity, qsntk_mse_ensemble
from ..dynamics._structure import is_xor_basis, xor_matrix
from ..errors import InvalidInputError
from ..networks.dense import B_STD, W_STD

__all__ = ["PredictConfig", "PredictResults", "run_predict_curves", "step_grid",
           "split_basis"]


@dataclass
class PredictConfig:
    """Everything that defines one prediction run (recorded verbatim in the JSON)."""

    system: str = "tfim"
    boundary: str | None = None
    lx: int = 3
    ly: int = 4
    train_size: int = 2400
    seed: int = 0
    depth: int = 1
    W_std: float = W_STD
    b_std: float = B_STD
    lr_fraction: float = 0.9
    learning_rate: float | None = None   # absolute η; overrides lr_fraction when set
    max_step: int = 10_000
    n_times: int = 41
    discrete: bool = False
    diag_reg: float = 0.0
    backend: str = "auto"


@dataclass
class PredictResults:
    config: PredictConfig
    steps: np.ndarray
    curves: dict[str, np.ndarray]        # L_{mu,gamma,psi}_{train,test}, fidelity  (over steps)
    limits: dict[str, float]             # the same at τ → ∞ (keys with suffix _inf)
    learning_rate: float
    eta_max: float
    train_idx: np.ndarray
    test_idx: np.ndarray
    target_config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def results_dict(self) -> dict[str, Any]:
        """Scalars for the JSON ``results`` block."""
        out: dict[str, Any] = {"learning_rate": self.learning_rate, "eta_max": self.eta_max,
                               "n_train": int(self.train_idx.size), "n_test": int(self.test_idx.size)}
        out.update(self.limits)
        last = {f"{k}_final": float(v[-1]) for k, v in self.curves.items()}
        out.update(last)
        out["final_step"] = float(self.steps[-1])
        out["target"] = self.target_config
        out["timings_s"] = self.timings
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        arr = {"steps": self.steps, "train_idx": self.train_idx, "test_idx": self.test_idx}
        arr.update({k: np.asarray(v) for k, v in self.curves.items()})
        return arr


def step_grid(max_step: int, n_times: int, *, discrete: bool) -> np.ndarray:
    """Log grid 1 … max_step (whole steps, deduplicated, when ``discrete``)."""
    max_step = check_positive_int(max_step, "max_step")
    n_times = check_positive_int(n_times, "n_times", minimum=2)
    g = np.logspace(0, np.log10(max_step), n_times)
    return np.unique(np.round(g)) if discrete else g


def split_basis(dim: int, train_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random split of ``range(dim)`` into sorted train and test index arrays."""
    train_size = check_positive_int(train_size, "train_size")
    if train_size >= dim:
        raise InvalidInputError(f"train_size {train_size} must be smaller than the basis size {dim} "
                                "(the rest is the test set)")
    perm = rng(seed).permutation(dim)
    return np.sort(perm[:train_size]), np.sort(perm[train_size:])


def _relu_kernel_fn(depth: int, W_std: float, b_std: float) -> Callable[..., Any]:
    """The analytic NNGP/NTK of the ReLU MLP (:func:`nnqs_fast.kernels.relu_kernel_fn`)."""
    from ..kernels import relu_kernel_fn

    return relu_kernel_fn(depth=depth, W_std=W_std, b_std=b_std)


def load_target(system: str, boundary: str | None, lx: int, ly: int) -> Any:
    """The paper's target for ``system`` (:func:`nnqs_fast.physics.make_target`)."""
    from ..physics import make_target

    kwargs: dict[str, Any] = {"lx": lx, "ly": ly, "boundary": boundary}
    params = inspect.signature(make_target).parameters
    return make_target(system, **{k: v for k, v in kwargs.items() if k in params})


def predict_memory_bytes(dim: int, n_train: int, n_sites: int, chunk: int | None = None, *,
                         structured: bool = False) -> int:
    """Peak bytes of :func:`run_predict_curves` for a basis of ``dim`` states and ``n_train`` train points.

    Streamed path (``structured=False``), held at the peak (the loss pass): the train-train NNGP and NTK (2 n²),
    the NTK eigenvectors V, the NNGP in the eigenbasis Q = Vᵀ K V and the test accumulator
    S2 = Σ_x (Θ_xB V)ᵀ(Θ_xB V) (3 n²), one row block of the test-train NNGP/NTK and their eigenbasis images
    (4 · chunk · n), the target and its inputs (dim · (16 + 8 L)), and up to two freed NNGP/NTK row blocks kept
    by the core's memory pool (:func:`nnqs_fast.memory_pool`; 4 · chunk · n, at most the pool's cache limit). The
    n_test x n_test matrix is never formed (the NNGP diagonal is evaluated alone).

    XOR path (``structured=True``: the full spin basis, :meth:`EnsemblePredictor.losses_xor`): 4 n² at either
    peak — the eigensolve (NNGP, NTK, LAPACK's copy of the NTK and the eigenvectors) or the test sums (NNGP, V,
    Q and the one congruence buffer that becomes S2) — plus the XOR tables and spectra and the Walsh–Hadamard
    blocks (O(dim) each: 64 · dim, and 2 · 64 · dim · 16 for 64 transformed columns), the target and inputs, and
    512 MiB for the interpreter, the loaded libraries and LAPACK's O(n) workspaces (measured at n = 16 384: peak RSS
    8.49 GiB during the eigensolve against 8.39 GiB without this term).

    Both paths: up to :data:`nnqs_fast._linalg.SINGLE_THREAD_MIN_N` train points the ensemble also keeps the
    Cholesky factor that certified the NNGP positive semi-definite (one more n², reused at τ → ∞).
    """
    from .._linalg import SINGLE_THREAD_MIN_N

    n = int(n_train)
    kept = n * n if n <= SINGLE_THREAD_MIN_N else 0
    if structured:
        return int(8 * (4 * n * n + kept + 2 * 1024 * n) + dim * (16 + 8 * n_sites) + 64 * dim + 2 * 64 * dim * 16
                   + 512 * 1024**2)
    c = _chunk_rows(n) if chunk is None else int(chunk)
    from .._memory import memory_pool

    pooled = min(8 * 4 * c * n, memory_pool().cache_limit())
    return int(8 * (5 * n * n + kept + 4 * c * n) + pooled + dim * (16 + 8 * n_sites) + 64 * dim)


def _chunk_rows(n_train: int) -> int:
    """Test rows per block of the streamed test-train kernel: ~512 MiB for the four (rows, n) arrays."""
    return int(max(256, min(4096, (512 * 1024**2) // (32 * max(n_train, 1)))))


class _RowKernels:
    """``k(start, stop)``: rows of the test-train NNGP/NTK, both computed in one kernel call per row block."""

    def __init__(self, kfn: Callable[..., Any], xte: np.ndarray, xtr: np.ndarray, backend: str) -> None:
        self.kfn, self.xte, self.xtr, self.backend = kfn, xte, xtr, backend
        self._key: tuple[int, int] | None = None
        self._val: Any = None

    def rows(self, a: int, b: int) -> Any:
        if self._key != (a, b):
            self._val = None  # release the previous block first
            self._val = self.kfn(self.xte[a:b], self.xtr, get=("nngp", "ntk"), backend=self.backend)
            self._key = (a, b)
        return self._val

    def nngp(self, a: int, b: int) -> np.ndarray:
        return np.asarray(self.rows(a, b).nngp)

    def ntk(self, a: int, b: int) -> np.ndarray:
        return np.asarray(self.rows(a, b).ntk)


def check_predict_size(dim: int, train_size: int, n_sites: int, *, structured: bool = False) -> int:
    """Refuse a run that cannot work before any allocation: ``train_size >= dim`` (named error), or an estimate
    (:func:`predict_memory_bytes`) above the total budget (:class:`~nnqs_fast.errors.MemoryLimitError` with the
    estimate, the budget and the largest train size that fits). Returns the estimate in bytes."""
    from .._linalg import total_memory_budget
    from ..errors import MemoryLimitError

    if train_size >= dim:
        raise InvalidInputError(f"train_size {train_size} must be smaller than the basis size {dim} "
                                "(the rest is the test set)")
    est, limit = predict_memory_bytes(dim, train_size, n_sites, structured=structured), total_memory_budget()
    if est > limit:
        fits = train_size
        while fits > 1 and predict_memory_bytes(dim, fits, n_sites, structured=structured) > limit:
            fits = int(fits * 0.9)
        held = ("train-train NNGP/NTK, eigensolver copy and eigenvectors / NNGP in the eigenbasis and the "
                "test-sum buffer: 4" if structured else
                "train-train NNGP/NTK, eigenvectors, NNGP in the eigenbasis, test accumulator: 5")
        raise MemoryLimitError(
            f"the QS-NTK prediction with {train_size} train points out of {dim} basis states needs about "
            f"{est / 1024**3:.2f} GiB ({held} x {train_size}² float64, plus "
            f"{'O(basis) tables' if structured else 'streamed test blocks'}), more than the budget of "
            f"{limit / 1024**3:.2f} GiB; use --train-size <= {fits}, or raise the budget with --memory-limit GIB "
            "(or NNQS_FAST_MAX_TOTAL_BYTES) if the machine has the memory")
    return est


def run_predict_curves(config: PredictConfig, *, target: Any = None, quiet: bool = True) -> PredictResults:
    """Compute the QS-NTK loss curves, τ → ∞ limits and fidelities for ``config`` (see module docstring).

    Memory: estimated first (:func:`predict_memory_bytes`; refused with the estimate when it exceeds the budget
    of :func:`nnqs_fast._linalg.total_memory_budget`); the test-train kernels are streamed in row blocks and
    the NNGP test variance term L_γ reads only the diagonal (:func:`nnqs_fast.kernels.kernel_diagonal`).
    """
    import time

    from .._progress import progress
    from .._validation import check_memory
    from ..dynamics.predict import _max_learning_rate
    from ..kernels import kernel_diagonal

    c = config
    check_finite_scalar(c.lr_fraction, "lr_fraction", positive=True)
    check_positive_int(c.train_size, "train_size")
    if target is None:  # refuse impossible sizes before building anything (the spin systems: the XOR path)
        from ..physics.targets import basis_dimension

        check_predict_size(basis_dimension(c.system, c.lx, c.ly), c.train_size, c.lx * c.ly,
                           structured=c.system == "tfim")
    timings: dict[str, float] = {}
    bar = progress(6, desc=f"predict {c.system}", quiet=quiet)
    t0 = time.perf_counter()
    if target is None:
        target = load_target(c.system, c.boundary, c.lx, c.ly)
    psi = np.asarray(target.psi, dtype=np.complex128)
    x = np.asarray(target.inputs, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != psi.shape[0]:
        raise InvalidInputError(f"target inputs {x.shape} do not match its {psi.shape[0]} amplitudes")
    structured = is_xor_basis(x)   # the full spin basis: every kernel is k_0(i ⊕ j) (losses_xor)
    check_predict_size(psi.shape[0], c.train_size, x.shape[1], structured=structured)
    train_idx, test_idx = split_basis(psi.shape[0], c.train_size, c.seed)
    timings["target"] = time.perf_counter() - t0
    bar.update()

    t0 = time.perf_counter()
    kfn = _relu_kernel_fn(c.depth, c.W_std, c.b_std)
    xtr, xte = x[train_idx], x[test_idx]
    n, m = xtr.shape[0], xte.shape[0]
    check_memory(2 * n * n * 8, f"the {n} x {n} train-train NNGP and NTK")
    if structured:   # first rows of the full-basis kernels; the train-train blocks gathered from them
        k0 = kfn(x[:1], x, get=("nngp", "ntk"), backend=c.backend)
        nngp_row, ntk_row = np.asarray(k0.nngp, np.float64)[0], np.asarray(k0.ntk, np.float64)[0]
        nngp_tt, ntk_tt = xor_matrix((nngp_row, ntk_row), train_idx)
    else:
        ktt = kfn(xtr, None, get=("nngp", "ntk"), backend=c.backend)
        nngp_tt, ntk_tt = np.asarray(ktt.nngp), np.asarray(ktt.ntk)
        del ktt
        rows = _RowKernels(kfn, xte, xtr, c.backend)
        nngp_diag = kernel_diagonal(kfn, xte, "nngp", backend=c.backend)
    timings["kernels"] = time.perf_counter() - t0
    bar.update()

    t0 = time.perf_counter()
    if structured:  # Krylov λ_max; definiteness is checked by the eigendecomposition that follows (no Cholesky)
        from ..kernels import lambda_max
        from ..kernels.spectrum import eta_max_from_lambda

        eta_max = eta_max_from_lambda(lambda_max(ntk_tt, check_symmetric=False), n, what="the train-train NTK")
    else:
        eta_max = _max_learning_rate(ntk_tt)  # Krylov λ_max (nnqs_fast.kernels.lambda_max) + PSD refusal
    lr = float(c.learning_rate) if c.learning_rate is not None else c.lr_fraction * eta_max
    timings["max_learning_rate"] = time.perf_counter() - t0
    bar.update()

    t0 = time.perf_counter()
    ens = qsntk_mse_ensemble(nngp_tt, ntk_tt, psi[train_idx], lr, diag_reg=c.diag_reg,
                                        discrete=c.discrete, backend=c.backend)
    del nngp_tt, ntk_tt  # the predictor holds what it needs
    steps = step_grid(c.max_step, c.n_times, discrete=c.discrete)
    times = np.append(steps, np.inf)  # one pass gives the curves and the τ → ∞ limits
    chunk = _chunk_rows(n)
    if structured:
        all_losses = ens.losses_xor(times, psi, train_idx, nngp_row, ntk_row, timings=timings)
    else:
        all_losses = ens.losses(times, psi[test_idx], rows.nngp, rows.ntk, nngp_diag, chunk_size=chunk)
    timings["losses"] = time.perf_counter() - t0
    bar.update()
    curves = {k: np.asarray(v)[:-1] for k, v in all_losses.items()}
    lim = {k: float(np.asarray(v)[-1]) for k, v in all_losses.items()}
    timings["losses_inf"] = 0.0  # included in "losses" (one pass)
    bar.update()

    t0 = time.perf_counter()
    tr = ens(times, get_cov=None)
    if structured:
        te_mean = ens.test_mean_xor(times, train_idx, ntk_row)
    else:
        te_mean = ens.test_mean(times, rows.ntk, m, chunk_size=chunk)
    fid = np.asarray(fidelity(assemble_state(train_idx, test_idx, tr.mean, te_mean), psi))
    curves["fidelity"] = fid[:-1]
    lim["fidelity"] = float(fid[-1])
    timings["fidelity"] = time.perf_counter() - t0
    bar.update()
    bar.close()
    limits = {f"{k}_inf": float(v) for k, v in lim.items()}
    tcfg = dict(getattr(target, "config", {}) or {})
    return PredictResults(c, steps, curves, limits, lr, float(eta_max), train_idx, test_idx, tcfg, timings)


def config_dict(config: PredictConfig) -> dict[str, Any]:
    return asdict(config)
