"""Ensembles of sampled NNQS: per-member entanglement entropies on the full spin basis (paper Fig. 1, Eq. 3–4).

Each member is ψ = ψ1 + iψ2 (two independent networks; ``complex_psi=False``: ψ = ψ1), evaluated on all
``2**L`` spin configurations (inputs ±1, d = L; bit i of the basis index = site i, bit 1 = +1, as in
:mod:`nnqs_fast.physics.encoding`), normalised, and its entropies are computed for every requested cut.
Members are streamed in small batches (memory O(batch · 2**L)); nothing of size K × 2**L is kept.

Built-in networks (private streaming evaluators; parameters drawn from ``nnqs_fast._random.rng(seed)``):

* ``"cosnet"`` — ``f(x) = Σ_i a_i cos(w_i·x + b_i)``, ``a_i ~ N(0, σ_a²/N)``, ``w_ij ~ N(0, σ_w²/d)``,
  ``b_i ~ U[−π, π]`` (one phase per hidden unit; NNGP kernel ``(σ_a²/2) exp(−σ_w²|x−y|²/(2d))``, Eq. 4).
  Draw order: a (N), W (N, d), b (N).
* ``"gaussnet"`` — ``f(x) = Σ_i a_i exp(w_i·x − σ_w²|x|²/d)`` (S26 with the readout a_i ~ N(0, σ_a²/N);
  kernel ``σ_a² exp(−σ_w²|x−y|²/(2d))``, Eq. S27). Draw order: a, W.
* ``"relu"`` — :func:`nnqs_fast.networks.relu.init_relu` / :func:`~nnqs_fast.networks.relu.apply_relu`
  (depth, W_std, b_std), evaluated in row chunks.
* any callable ``network(seed, inputs) -> values`` (inputs ``(n, L)``), evaluated in row chunks.

Cos-net and Gauss-net are evaluated without forming the ``2**L × N`` hidden layer: with x = (x_A, x_B) over
the low/high halves of the sites, ``cos(θ_A + θ_B) = cos θ_A cos θ_B − sin θ_A sin θ_B`` and
``exp(θ_A + θ_B) = exp θ_A exp θ_B``, so ψ as a ``D_A × D_B`` matrix is a sum of two (one) GEMMs over hidden
units, chunked over hidden units (exact; O((D_A + D_B)·N) transcendental evaluations instead of O(D·N)).

Seeds: ``member_seeds(seed, 2K)``; member k uses seed ``2k`` for ψ1 and ``2k+1`` for ψ2 (the package rule).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._progress import progress
from .._random import member_seeds, rng
from .._validation import MAX_INT32, check_nbytes, check_positive_int, check_scale
from ..errors import InvalidInputError, NonFiniteError
from ..networks.dense import B_STD, W_STD
from .entropy import _matrix_view, _spectrum_of_matrix, entropy_from_spectrum, normalize_subsystem
from .wick import spin_basis_inputs

__all__ = ["EnsembleEntropies", "sample_ensemble_entropies", "sample_nnqs_state", "parse_entropy_kind",
           "ENSEMBLE_NETWORKS"]

ENSEMBLE_NETWORKS = ("cosnet", "gaussnet", "relu")
_BATCH_BYTES = 128 * 1024**2


def parse_entropy_kind(kind: Any) -> tuple[str, str, float | None]:
    """``"vn"``, ``"renyi2"``, ``"renyi_inf"``, ``"tsallis2"``, ``("renyi", 3)`` -> (name, kind, order)."""
    if isinstance(kind, (tuple, list)) and len(kind) == 2:
        k, order = str(kind[0]).lower(), kind[1]
        if isinstance(order, numbers.Real) and not isinstance(order, bool) and math.isnan(float(order)):
            raise InvalidInputError(f"entropy order must be > 0, got {order!r}")
    elif isinstance(kind, str):
        if kind.lower().replace("-", "").replace("_", "") in ("vn", "vonneumann", "s1"):
            return "vn", "vn", None
        s = kind.lower()
        for pre in ("renyi", "tsallis"):
            if s.startswith(pre):
                k, rest = pre, s[len(pre):]
                break
        else:
            raise InvalidInputError(f"unknown entropy kind {kind!r}; use 'vn', 'renyiN', 'renyi_inf' or 'tsallisQ'")
        if "-" in rest:  # 'renyi-2': a separator or a minus sign? Refuse rather than guess.
            raise InvalidInputError(f"entropy kind {kind!r} is ambiguous ('-' could be a minus sign); write "
                                    f"'{pre}{rest.replace('-', '')}' or '{pre}_{rest.replace('-', '')}'")
        rest = rest[1:] if rest.startswith("_") else rest
        if rest in ("inf", "infinity"):
            order = math.inf
        elif re.fullmatch(r"[0-9]*\.?[0-9]+(e[+]?[0-9]+)?", rest):
            order = float(rest)
            if not math.isfinite(order):
                raise InvalidInputError(f"the order of entropy kind {kind!r} overflows; use '{pre}_inf'")
        else:
            raise InvalidInputError(f"cannot read the order of entropy kind {kind!r}; use e.g. '{pre}2', "
                                    f"'{pre}_0.5' or '{pre}_inf'")
    else:
        raise InvalidInputError(f"unknown entropy kind {kind!r}")
    if k not in ("renyi", "tsallis"):
        raise InvalidInputError(f"unknown entropy kind {kind!r}")
    if isinstance(order, bool) or not isinstance(order, numbers.Real) or not float(order) > 0:
        raise InvalidInputError(f"entropy order must be > 0, got {order!r}")
    order = float(order)
    if k == "renyi" and order == 1.0:
        return "vn", "vn", None
    tag = "inf" if math.isinf(order) else (str(int(order)) if order.is_integer() else str(order))
    return f"{k}{'_' if tag == 'inf' else ''}{tag}", k, order


@dataclass(frozen=True)
class EnsembleEntropies:
    """Per-member entropies ``values[kind]`` of shape ``(K, n_cuts)`` and their ensemble statistics.

    ``mean[kind]``, ``sem[kind]`` (standard error of the mean, ``std(ddof=1)/√K``; 0 for K = 1),
    ``cuts`` (the subsystems, as sorted site tuples), ``subsystem_sizes``, ``n_sites``, ``config``.
    """

    values: dict[str, np.ndarray]
    mean: dict[str, np.ndarray]
    sem: dict[str, np.ndarray]
    cuts: tuple[tuple[int, ...], ...]
    n_sites: int
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def subsystem_sizes(self) -> np.ndarray:
        return np.array([len(c) for c in self.cuts])


# ---------------------------------------------------------------------------------------------------------------
# Network evaluation on the full basis
# ---------------------------------------------------------------------------------------------------------------

def _hidden_chunk(DA: int, DB: int, chunk_size: int | None) -> int:
    if chunk_size is not None:
        return check_positive_int(chunk_size, "chunk_size")
    return max(16, int(32 * 1024**2 // (8 * 2 * (DA + DB))))


def _cosnet_matrix(seed: int, L: int, width: int, sigma_a: float, sigma_w: float, XA, XB, chunk) -> np.ndarray:
    g = rng(seed)
    a = g.normal(0.0, sigma_a / math.sqrt(width), width)
    W = g.normal(0.0, sigma_w / math.sqrt(L), (width, L))
    b = g.uniform(-math.pi, math.pi, width)
    kA = XA.shape[1]
    M = np.zeros((XA.shape[0], XB.shape[0]))
    for s in range(0, width, chunk):
        e = min(width, s + chunk)
        tA = XA @ W[s:e, :kA].T + b[s:e]
        tB = XB @ W[s:e, kA:].T
        M += (np.cos(tA) * a[s:e]) @ np.cos(tB).T
        M -= (np.sin(tA) * a[s:e]) @ np.sin(tB).T
    return M


def _gaussnet_matrix(seed: int, L: int, width: int, sigma_a: float, sigma_w: float, XA, XB, chunk) -> np.ndarray:
    g = rng(seed)
    a = g.normal(0.0, sigma_a / math.sqrt(width), width)
    W = g.normal(0.0, sigma_w / math.sqrt(L), (width, L))
    kA = XA.shape[1]
    c = sigma_w * sigma_w / L
    nA, nB = np.sum(XA * XA, 1)[:, None], np.sum(XB * XB, 1)[:, None]
    M = np.zeros((XA.shape[0], XB.shape[0]))
    for s in range(0, width, chunk):
        e = min(width, s + chunk)
        M += (np.exp(XA @ W[s:e, :kA].T - c * nA) * a[s:e]) @ np.exp(XB @ W[s:e, kA:].T - c * nB).T
    return M


def _rows_eval(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray, rows: int) -> np.ndarray:
    out = np.empty(X.shape[0])
    for s in range(0, X.shape[0], rows):
        v = np.asarray(fn(X[s:s + rows]), dtype=np.float64).reshape(-1)
        if v.shape[0] != min(rows, X.shape[0] - s):
            raise InvalidInputError("the network returned the wrong number of values")
        out[s:s + rows] = v
    return out


def _network_values(network: Any, seed: int, L: int, width: int, params: dict[str, Any], chunk_size, XA, XB,
                    X) -> np.ndarray:
    """Real network output on the full basis, as a vector in basis order (bit i = site i)."""
    if isinstance(network, str) and network in ("cosnet", "gaussnet"):
        chunk = _hidden_chunk(XA.shape[0], XB.shape[0], chunk_size)
        f = _cosnet_matrix if network == "cosnet" else _gaussnet_matrix
        M = f(seed, L, width, params["sigma_a"], params["sigma_w"], XA, XB, chunk)
        return M.T.ravel()  # index s = a + D_A b (A = low sites)
    rows = max(1, int(64 * 1024**2 // (8 * max(width, 1))))
    if network == "relu":
        from ..networks.relu import apply_relu, init_relu

        p = init_relu(seed, L, width, params.get("depth", 1), W_std=params.get("W_std", 0.5),
                      b_std=params.get("b_std", 0.1))
        return _rows_eval(lambda x: apply_relu(p, x), X, rows)
    return _rows_eval(lambda x: network(seed, x), X, rows)


def sample_nnqs_state(network: Any = "cosnet", *, n_sites: int, width: int, seed: int, sigma_a: float = 1.0,
                      sigma_w: float = 1.0, complex_psi: bool = True, depth: int = 1, W_std: float = W_STD,
                      b_std: float = B_STD, chunk_size: int | None = None, normalize: bool = True) -> np.ndarray:
    """One member ψ = ψ1 + iψ2 (seeds ``seed`` -> member_seeds(seed, 2)) on the full basis, normalised."""
    s1, s2 = member_seeds(seed, 2)
    ctx = _Context(network, n_sites, width, dict(sigma_a=sigma_a, sigma_w=sigma_w, depth=depth, W_std=W_std,
                                                 b_std=b_std), chunk_size)
    return ctx.state(s1, s2 if complex_psi else None, normalize)


class _Context:
    def __init__(self, network, L, width, params, chunk_size):
        if not (callable(network) or (isinstance(network, str) and network in ENSEMBLE_NETWORKS)):
            raise InvalidInputError(f"network must be one of {ENSEMBLE_NETWORKS} or a callable "
                                    f"(seed, inputs) -> values, got {network!r}")
        self.L = check_positive_int(L, "n_sites")
        if self.L > 26:
            raise InvalidInputError(f"n_sites={self.L}: the full basis 2**L is too large to sample states on")
        self.width = check_positive_int(width, "width")
        for k in ("sigma_a", "sigma_w", "W_std", "b_std"):
            params[k] = check_scale(params[k], k, nonnegative=True)
        params["depth"] = check_positive_int(params["depth"], "depth", maximum=MAX_INT32)
        # before any allocation: two states of 2**L amplitudes, the networks' parameters and, for networks
        # evaluated on the full basis, its (2**L, L) inputs (relu at n_sites=26: a 13 GiB table)
        check_nbytes((4, 1 << self.L), 8, f"the {self.L}-site states")
        check_nbytes((self.width, self.L + 3, params["depth"]), 8, f"the width-{self.width} networks")
        if not (isinstance(network, str) and network in ("cosnet", "gaussnet")):
            check_nbytes((1 << self.L, self.L), 8, f"the inputs of the full {self.L}-site basis")
        self.network, self.params, self.chunk = network, params, chunk_size
        kA = self.L // 2
        self.XA = spin_basis_inputs(kA) if kA else np.zeros((1, 0))
        self.XB = spin_basis_inputs(self.L - kA)
        self.X = None if isinstance(network, str) and network in ("cosnet", "gaussnet") else spin_basis_inputs(self.L)

    def values(self, seed):
        return _network_values(self.network, seed, self.L, self.width, self.params, self.chunk, self.XA, self.XB,
                               self.X)

    def state(self, s1, s2, normalize=True):
        psi = self.values(s1).astype(np.complex128) if s2 is not None else self.values(s1)
        if s2 is not None:
            psi.imag = self.values(s2)
        if not np.all(np.isfinite(psi)):
            raise NonFiniteError("the sampled network produced non-finite values (overflow); lower sigma_w")
        nrm = np.linalg.norm(psi)
        if nrm == 0:
            raise InvalidInputError("a sampled wavefunction is identically zero and cannot be normalised")
        return psi / nrm if normalize else psi


def sample_ensemble_entropies(network: Any = "cosnet", *, n_sites: int, n_members: int, width: int,
                              cuts: Sequence[Any] | None = None, seed: int = 0, sigma_a: float = 1.0,
                              sigma_w: float = 1.0, complex_psi: bool = True, kinds: Sequence[Any] = ("vn",),
                              depth: int = 1, W_std: float = W_STD, b_std: float = B_STD,
                              chunk_size: int | None = None, quiet: bool = True) -> EnsembleEntropies:
    """Sample ``n_members`` NNQS, compute their entanglement entropies for every cut, and the ensemble mean ± SEM.

    ``cuts``: list of subsystems (an int k = sites 0..k−1, or a list of sites); default ``1 .. L−1``.
    ``kinds``: entropies to compute (``"vn"``, ``"renyi2"``, ``"renyi_inf"``, ``"tsallis2"``, ...).
    Memory: one batch of states (≤ 128 MiB) plus the hidden-unit chunk of the forward pass.
    """
    K = check_positive_int(n_members, "n_members")
    ctx = _Context(network, n_sites, width, dict(sigma_a=sigma_a, sigma_w=sigma_w, depth=depth, W_std=W_std,
                                                 b_std=b_std), chunk_size)
    L = ctx.L
    if cuts is None:
        cuts = list(range(1, L))
    cut_sites = tuple(normalize_subsystem(c, L) for c in cuts)
    if not cut_sites:
        raise InvalidInputError("cuts is empty; give at least one subsystem")
    parsed = [parse_entropy_kind(k) for k in kinds]
    names = [p[0] for p in parsed]
    check_nbytes((K, len(cut_sites) * max(1, len(parsed)) + 2), 8, f"the entropies of {K} members")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"entropy kinds repeat: {names}")
    seeds = member_seeds(seed, 2 * K)
    D = 1 << L
    batch = max(1, min(K, _BATCH_BYTES // (16 * D)))
    out = {n: np.empty((K, len(cut_sites))) for n in names}
    with progress(K, desc=f"ensemble {network if isinstance(network, str) else 'custom'} N={width}",
                  quiet=quiet) as bar:
        for s in range(0, K, batch):
            e = min(K, s + batch)
            psi = np.stack([ctx.state(seeds[2 * k], seeds[2 * k + 1] if complex_psi else None)
                            for k in range(s, e)])
            for c, A in enumerate(cut_sites):
                p = _spectrum_of_matrix(_matrix_view(psi, A, L, 2), "eigh")
                for name, kind, order in parsed:
                    out[name][s:e, c] = entropy_from_spectrum(p, kind, order)
            bar.update(e - s)
    mean = {n: v.mean(axis=0) for n, v in out.items()}
    sem = {n: (v.std(axis=0, ddof=1) / math.sqrt(K) if K > 1 else np.zeros(v.shape[1])) for n, v in out.items()}
    config = dict(network=network if isinstance(network, str) else getattr(network, "__name__", "custom"),
                  n_sites=L, n_members=K, width=ctx.width, seed=seed, complex_psi=bool(complex_psi),
                  kinds=names, **({"sigma_a": ctx.params["sigma_a"], "sigma_w": ctx.params["sigma_w"]}
                                  if network in ("cosnet", "gaussnet") else {}),
                  **({"depth": ctx.params["depth"], "W_std": ctx.params["W_std"], "b_std": ctx.params["b_std"]}
                     if network == "relu" else {}))
    return EnsembleEntropies(values=out, mean=mean, sem=sem, cuts=cut_sites, n_sites=L, config=config)
