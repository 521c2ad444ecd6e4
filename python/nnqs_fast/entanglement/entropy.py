"""Entanglement entropies of normalised pure states for any bipartition of the sites (paper Eqs. 1–2, S32–S35).

Basis convention (spins, and any local dimension ``q``)
------------------------------------------------------
A state on ``L`` sites is a vector of length ``q**L`` whose index is ``s = Σ_i d_i q**i``: digit ``i`` of the
index is site ``i`` (for spins ``q = 2``: bit ``i`` = site ``i``; bit 1 = spin up = +1, bit 0 = spin down = −1,
as in :mod:`nnqs_fast.physics.encoding`). A subsystem ``A`` is any set of sites (given as an iterable of site
indices, or an int ``k`` meaning the first ``k`` sites ``0..k-1``); ``B`` is its complement. The state is
reshaped into the matrix ``M[a, b] = ψ(a, b)`` with ``a = Σ_k d_{A[k]} q**k`` over the sorted sites of ``A``
(same for ``b``), so the reduced density matrix is ``ρ_A = M M^†`` (Eq. S32: ``ρ_A = Tr_B |ψ⟩⟨ψ|``) and the
entanglement spectrum (the Schmidt probabilities) is the spectrum of ``ρ_A`` (equal to that of ``ρ_B``).

Fermions (Hubbard): see :func:`fermion_entanglement_spectrum` — mode entanglement of the modes on a set of
sites, with the Jordan–Wigner signs of the code convention of :mod:`nnqs_fast.physics.hubbard`.

Entropies (natural log unless ``base=`` is given)
------------------------------------------------
von Neumann ``S = −Tr ρ_A log ρ_A``; Rényi-n ``S_n = log(Tr ρ_A^n)/(1−n)`` (``n → 1``: von Neumann,
``n = ∞``: ``−log λ_max``); Tsallis-q ``S^T_q = (1 − Tr ρ_A^q)/(q − 1)`` (Supplementary IV; ``q → 1``: von
Neumann in nats; Tsallis has no logarithm, so ``base`` does not apply).

Every function is batched: ``psi`` of shape ``(..., q**L)`` gives results of shape ``(...)``; one
eigendecomposition (of the smaller of ``M M^†``, ``M^† M``) or SVD per state, vectorised over the stack.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp, xlogy

from .._validation import as_array, check_finite_scalar, check_positive_int, check_tolerance
from ..errors import InvalidInputError, ShapeMismatchError

__all__ = [
    "normalize_subsystem",
    "schmidt_matrix",
    "entanglement_spectrum",
    "reduced_density_matrix",
    "entropy_from_spectrum",
    "entanglement_entropy",
    "renyi_entropy",
    "tsallis_entropy",
    "fermion_entanglement_spectrum",
]

#: Tolerance on ``|‖ψ‖² − 1|`` for the normalisation check.
NORM_ATOL = 1e-8


def _infer_sites(dim: int, local_dim: int, n_sites: int | None) -> int:
    if n_sites is not None:
        n_sites = check_positive_int(n_sites, "n_sites")
        # compare in logs first: local_dim ** 10**9 is a billion-digit int (minutes, then a str() error)
        if n_sites * math.log(local_dim) > math.log(max(dim, 1)) + 1.0 or local_dim ** n_sites != dim:
            raise ShapeMismatchError(f"psi has length {dim} but n_sites={n_sites} with local dimension {local_dim} "
                                     f"needs {local_dim}**{n_sites}; pass the full-basis state")
        return n_sites
    L = round(math.log(dim, local_dim)) if dim > 1 else 0
    if L < 1 or local_dim ** L != dim:
        raise ShapeMismatchError(f"psi has length {dim}, which is not a power of the local dimension {local_dim}; "
                                 "pass the state on the full basis (length local_dim**n_sites)")
    return L


def normalize_subsystem(subsystem: int | Iterable[int], n_sites: int) -> tuple[int, ...]:
    """Sorted tuple of the sites of ``A``: an int ``k`` means sites ``0..k-1``; an iterable lists the sites.

    Raises :class:`InvalidInputError` for sites out of range, repeated sites or a non-integer entry. The empty
    subsystem and the whole system are allowed (entropy 0).
    """
    n_sites = check_positive_int(n_sites, "n_sites", minimum=0)
    if isinstance(subsystem, bool):
        raise InvalidInputError(f"subsystem must be an int or a list of site indices, got {subsystem!r}")
    if isinstance(subsystem, (int, numbers.Integral)):
        k = int(subsystem)
        if not 0 <= k <= n_sites:
            raise InvalidInputError(f"subsystem size {k} is out of range for {n_sites} sites (0..{n_sites})")
        return tuple(range(k))
    try:
        sites = list(subsystem)
    except TypeError as exc:
        raise InvalidInputError(f"subsystem must be an int or a list of site indices, got {subsystem!r}") from exc
    out: list[int] = []
    for s in sites:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise InvalidInputError(f"subsystem sites must be integers, got {s!r}")
        if not 0 <= int(s) < n_sites:
            raise InvalidInputError(f"subsystem site {int(s)} is out of range for {n_sites} sites (0..{n_sites - 1})")
        out.append(int(s))
    if len(set(out)) != len(out):
        raise InvalidInputError(f"subsystem lists a site more than once: {sorted(out)}")
    return tuple(sorted(out))


def _check_psi(psi, *, normalize: bool, atol: float) -> np.ndarray:
    atol = check_tolerance(atol, "atol")
    psi = as_array(psi, "psi", ndim=None)
    if psi.ndim < 1:
        raise ShapeMismatchError("psi must have at least one dimension (the basis index last)")
    if not np.issubdtype(psi.dtype, np.complexfloating):
        psi = psi.astype(np.float64, copy=False)
    elif psi.dtype != np.complex128:
        psi = psi.astype(np.complex128)
    norm2 = np.sum(np.abs(psi) ** 2, axis=-1)
    if normalize:
        if np.any(norm2 == 0):
            raise InvalidInputError("psi has a zero vector; it cannot be normalised")
        return psi / np.sqrt(norm2)[..., None]
    bad = np.abs(norm2 - 1.0) > atol
    if np.any(bad):
        worst = float(np.max(np.abs(norm2 - 1.0)))
        raise InvalidInputError(f"psi is not normalised (|‖ψ‖² − 1| up to {worst:.3g} > {atol:g}); normalise it "
                                "first or pass normalize=True")
    return psi


def _matrix_view(psi: np.ndarray, A: Sequence[int], L: int, q: int) -> np.ndarray:
    """(..., q**L) -> (..., D_A, D_B) with the index convention of the module docstring."""
    batch = psi.shape[:-1]
    nb = len(batch)
    Aset = set(A)
    B = [i for i in range(L) if i not in Aset]
    t = psi.reshape(batch + (q,) * L)
    # C-order reshape: tensor axis nb + j is site L-1-j; the last axis of a group is its least significant digit.
    axes = list(range(nb)) + [nb + L - 1 - i for i in reversed(A)] + [nb + L - 1 - i for i in reversed(B)]
    return t.transpose(axes).reshape(batch + (q ** len(A), q ** len(B)))


def schmidt_matrix(psi, subsystem, n_sites: int | None = None, *, local_dim: int = 2, normalize: bool = False,
                   atol: float = NORM_ATOL) -> np.ndarray:
    """The matrix ``M[..., a, b] = ψ(a, b)`` of the bipartition ``A|B`` (see the module docstring)."""
    q = check_positive_int(local_dim, "local_dim", minimum=2, maximum=2**31)
    psi = _check_psi(psi, normalize=normalize, atol=atol)
    L = _infer_sites(psi.shape[-1], q, n_sites)
    A = normalize_subsystem(subsystem, L)
    return _matrix_view(psi, A, L, q)


def _spectrum_of_matrix(M: np.ndarray, method: str) -> np.ndarray:
    if method == "svd":
        s = np.linalg.svd(M, compute_uv=False)
        p = s * s
    elif method == "eigh":
        DA, DB = M.shape[-2:]
        Mh = np.conj(np.swapaxes(M, -1, -2))
        G = M @ Mh if DA <= DB else Mh @ M
        p = np.linalg.eigvalsh(G)[..., ::-1]
    else:
        raise InvalidInputError(f"method must be 'eigh' or 'svd', got {method!r}")
    return np.clip(p.real, 0.0, None)


def entanglement_spectrum(psi, subsystem, n_sites: int | None = None, *, local_dim: int = 2,
                          normalize: bool = False, atol: float = NORM_ATOL, method: str = "eigh") -> np.ndarray:
    """Schmidt probabilities ``λ_k`` (eigenvalues of ``ρ_A``, descending, ``min(D_A, D_B)`` of them).

    ``method="eigh"`` diagonalises the smaller Gram matrix ``M M^†`` or ``M^† M``; ``"svd"`` squares the
    singular values of ``M`` (more accurate for tiny ``λ``; both are exact to rounding for the entropies).
    """
    M = schmidt_matrix(psi, subsystem, n_sites, local_dim=local_dim, normalize=normalize, atol=atol)
    return _spectrum_of_matrix(M, method)


def reduced_density_matrix(psi, subsystem, n_sites: int | None = None, *, local_dim: int = 2,
                           normalize: bool = False, atol: float = NORM_ATOL) -> np.ndarray:
    """``ρ_A = Tr_B |ψ⟩⟨ψ|`` (Eq. S32) of shape ``(..., D_A, D_A)`` in the subsystem index convention above."""
    M = schmidt_matrix(psi, subsystem, n_sites, local_dim=local_dim, normalize=normalize, atol=atol)
    return M @ np.conj(np.swapaxes(M, -1, -2))


def _log_base(base: float | None) -> float:
    """``log(base)``, the divisor that turns natural logs into logs to ``base`` (``None``: natural log, 1.0).
    The one home of the ``base=`` convention of every entropy and Page value."""
    if base is None:
        return 1.0
    b = check_finite_scalar(base, "base", positive=True)
    if b <= 1.0:  # base 1 divides by log 1 = 0; a base below 1 turns every entropy negative
        raise InvalidInputError(f"the logarithm base must be > 1 (e.g. 2 for bits, e for nats), got {b:g}")
    return math.log(b)


#: tolerance of the spectrum checks: entries above -SPECTRUM_TOL are clipped to 0, sums within it of 1
SPECTRUM_TOL = 1e-6


def _check_spectrum(p: Any) -> np.ndarray:
    """A probability spectrum (last axis): real, finite, non-negative (round-off below -SPECTRUM_TOL is clipped),
    summing to 1 — the properties the entropy formulas need (a negative entry made the von Neumann entropy NaN)."""
    p = as_array(p, "p", ndim=None, dtype=np.float64, allow_complex=False)
    if p.ndim < 1:
        raise ShapeMismatchError("the spectrum p must have at least one dimension (eigenvalues on the last axis)")
    if p.shape[-1] == 0:
        raise ShapeMismatchError("the spectrum p is empty; it must hold the eigenvalues of a density matrix")
    if np.any(p < -SPECTRUM_TOL):
        raise InvalidInputError(f"the spectrum p has negative entries (down to {float(p.min()):.3g}); it must be "
                                "the eigenvalues of a density matrix (>= 0, summing to 1)")
    p = np.clip(p, 0.0, None)
    s = np.sum(p, axis=-1)
    if np.any(np.abs(s - 1.0) > SPECTRUM_TOL):
        raise InvalidInputError(f"the spectrum p sums to {float(np.ravel(s)[np.argmax(np.ravel(np.abs(s - 1)))]):.6g},"
                                " not 1; normalise it (p / p.sum(-1)) first")
    return p


def _log_sum_pow(p: np.ndarray, a: float) -> np.ndarray:
    """``log(sum_i p_i**a)`` over the last axis by log-sum-exp over the non-zero entries (``p**a`` under- or
    overflows for large or small ``a``: Rényi-300 used to return inf)."""
    with np.errstate(divide="ignore"):
        logp = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), -np.inf)
    return logsumexp(a * logp, axis=-1)


def entropy_from_spectrum(p, kind: str = "vn", order: float | None = None, *, base: float | None = None) -> np.ndarray:
    """Entropy of spectra ``p`` (last axis; each summing to 1): ``kind`` = ``"vn"``, ``"renyi"`` (``order`` n > 0,
    ``np.inf`` allowed, n = 1 is von Neumann) or ``"tsallis"`` (``order`` q > 0, q = 1 is von Neumann in nats)."""
    p = _check_spectrum(p)
    if not isinstance(kind, str):
        raise InvalidInputError(f"kind must be 'vn', 'renyi' or 'tsallis', got {kind!r}")
    kind = kind.lower()
    lb = _log_base(base)
    if kind in ("vn", "von_neumann", "vonneumann"):
        return -np.sum(xlogy(p, p), axis=-1) / lb
    if order is None:
        raise InvalidInputError(f"kind={kind!r} needs an order (Rényi n or Tsallis q)")
    if isinstance(order, bool) or not isinstance(order, numbers.Real) or not (order > 0):
        raise InvalidInputError(f"the entropy order must be a real number > 0 (or inf), got {order!r}")
    a = float(order)
    if kind == "renyi":
        if a == 1.0:
            return -np.sum(xlogy(p, p), axis=-1) / lb
        if math.isinf(a):
            return -np.log(np.max(p, axis=-1)) / lb
        return _log_sum_pow(p, a) / (1.0 - a) / lb
    if kind == "tsallis":
        if base is not None:
            raise InvalidInputError("the Tsallis entropy has no logarithm: base= does not apply")
        if a == 1.0:
            return -np.sum(xlogy(p, p), axis=-1)
        return (1.0 - np.sum(p ** a, axis=-1)) / (a - 1.0)
    raise InvalidInputError(f"kind must be 'vn', 'renyi' or 'tsallis', got {kind!r}")


def entanglement_entropy(psi, subsystem, n_sites: int | None = None, *, base: float | None = None,
                         local_dim: int = 2, normalize: bool = False, atol: float = NORM_ATOL,
                         method: str = "eigh") -> np.ndarray | float:
    """von Neumann entanglement entropy ``−Tr ρ_A log ρ_A`` of ``psi`` (``(..., q**L)``) across ``A|B``."""
    p = entanglement_spectrum(psi, subsystem, n_sites, local_dim=local_dim, normalize=normalize, atol=atol,
                              method=method)
    return _scalar(entropy_from_spectrum(p, "vn", base=base))


def renyi_entropy(psi, subsystem, n: float = 2, n_sites: int | None = None, *, base: float | None = None,
                  local_dim: int = 2, normalize: bool = False, atol: float = NORM_ATOL,
                  method: str = "eigh") -> np.ndarray | float:
    """Rényi-n entropy ``log(Tr ρ_A^n)/(1−n)`` (Eq. 1's ``S_n``); ``n = np.inf`` gives ``−log λ_max``."""
    p = entanglement_spectrum(psi, subsystem, n_sites, local_dim=local_dim, normalize=normalize, atol=atol,
                              method=method)
    return _scalar(entropy_from_spectrum(p, "renyi", n, base=base))


def tsallis_entropy(psi, subsystem, q: float = 2, n_sites: int | None = None, *, local_dim: int = 2,
                    normalize: bool = False, atol: float = NORM_ATOL, method: str = "eigh") -> np.ndarray | float:
    """Tsallis-q entropy ``(1 − Tr ρ_A^q)/(q − 1)`` (Supplementary IV)."""
    p = entanglement_spectrum(psi, subsystem, n_sites, local_dim=local_dim, normalize=normalize, atol=atol,
                              method=method)
    return _scalar(entropy_from_spectrum(p, "tsallis", q))


def _scalar(x: np.ndarray) -> np.ndarray | float:
    return float(x) if np.ndim(x) == 0 else x


# ---------------------------------------------------------------------------------------------------------------
# Fermions
# ---------------------------------------------------------------------------------------------------------------

def fermion_entanglement_spectrum(psi, codes, subsystem, n_sites: int, *, n_modes_per_site: int = 2,
                                  normalize: bool = False, atol: float = NORM_ATOL) -> np.ndarray:
    """Mode-entanglement spectrum of a fermion state for the modes on a set of sites (Hubbard targets).

    Convention (that of :mod:`nnqs_fast.physics`): a basis state is an int ``code`` whose bit ``m`` is the
    occupation of mode ``m``; with ``n_modes_per_site = 2`` the modes are ``m = i`` (site ``i`` spin up) and
    ``m = L + i`` (site ``i`` spin down), i.e. ``code = up | down << L``. The Jordan–Wigner order is the bit
    order: ``|n⟩ = Π_{m ascending} (c_m†)^{n_m} |0⟩``. Subsystem ``A`` (a set of sites) owns the modes on those
    sites. Reordering the creation operators into (A modes ascending)(B modes ascending) gives the sign
    ``(−1)^{#(b < a): b ∈ B, a ∈ A both occupied}``; with it ``ψ = Σ M[a, b] |a⟩_A ⊗ |b⟩_B`` and the Schmidt
    probabilities of ``M`` are the spectrum of the (well-defined, parity-superselected) reduced density matrix of
    the A modes. For a number-conserving state ``M M^†`` is block diagonal in ``(N↑_A, N↓_A)``; the spectrum is
    computed block by block (one SVD per particle-number block of A).

    ``psi`` has shape ``(..., len(codes))``; returns the spectra padded with zeros to a common length.
    """
    codes = np.asarray(codes)
    if codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
        raise InvalidInputError("codes must be a one-dimensional integer array of basis codes")
    codes = codes.astype(np.int64)
    L = check_positive_int(n_sites, "n_sites")
    r = check_positive_int(n_modes_per_site, "n_modes_per_site")
    if r * L > 62:
        raise InvalidInputError(f"{r * L} modes do not fit the int64 codes (at most 62)")
    if np.shape(psi)[-1:] != (codes.size,):
        raise ShapeMismatchError(f"psi has shape {np.shape(psi)} but there are {codes.size} basis codes")
    psi = _check_psi(psi, normalize=normalize, atol=atol)
    if np.unique(codes).size != codes.size:
        raise InvalidInputError("codes contain duplicates")
    if codes.size and (codes.min() < 0 or codes.max() >= (1 << (r * L))):
        raise InvalidInputError(f"codes must lie in [0, 2**{r * L})")
    A = normalize_subsystem(subsystem, L)
    n_modes = r * L
    mode_site = np.arange(n_modes) % L
    in_a = np.isin(mode_site, A)
    occ = ((codes[:, None] >> np.arange(n_modes)[None, :]) & 1).astype(np.int64)  # (dim, modes)
    occ_b = occ * (~in_a)[None, :]
    before_b = np.cumsum(occ_b, axis=1) - occ_b  # occupied B modes strictly below each mode
    crossings = np.sum(occ * in_a[None, :] * before_b, axis=1)
    sign = np.where(crossings % 2 == 0, 1.0, -1.0)
    mask_a = int(sum(1 << m for m in range(n_modes) if in_a[m]))
    ca, cb = codes & mask_a, codes & ~mask_a
    ua, ia = np.unique(ca, return_inverse=True)
    ub, ib = np.unique(cb, return_inverse=True)
    batch = psi.shape[:-1]
    M = np.zeros(batch + (ua.size, ub.size), dtype=np.result_type(psi.dtype, np.float64))
    M[..., ia, ib] = psi * sign
    # particle-number sector of each A configuration: (N↑_A, N↓_A, ...) per spin species
    sector = np.stack([((ua >> (k * L)) & ((1 << L) - 1)) for k in range(r)], axis=1)
    counts = np.stack([np.bitwise_count(s.astype(np.int64)) if hasattr(np, "bitwise_count")
                       else np.array([bin(int(v)).count("1") for v in s]) for s in sector.T], axis=1)
    spectra, used = [], np.zeros(ub.size, dtype=bool)
    for key in np.unique(counts, axis=0):
        rows = np.nonzero(np.all(counts == key, axis=1))[0]
        blk = M[..., rows, :]
        cols = np.nonzero(np.any(blk.reshape(-1, rows.size, ub.size) != 0, axis=(0, 1)))[0]
        if cols.size == 0:
            continue
        if np.any(used[cols]):  # not number-conserving: blocks share B configurations -> one SVD of M
            spectra = [_spectrum_of_matrix(M, "svd")]
            break
        used[cols] = True
        spectra.append(_spectrum_of_matrix(blk[..., cols], "svd"))
    if not spectra:
        return np.zeros(batch + (1,))
    p = np.concatenate(spectra, axis=-1)
    return -np.sort(-p, axis=-1)
