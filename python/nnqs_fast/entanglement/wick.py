"""Wick-contraction (GP-limit) ensemble average of the Rényi-2 purity (paper Eqs. 1–2 with n = 2, S36–S39).

Setting
-------
ψ = f1 + i f2 with f1 ~ GP(0, K1) and f2 ~ GP(0, K2) independent (the N → ∞ limit of ψ1 + iψ2 from two
independent networks; ``kernel2=None`` is a real-only ψ). Then ``C = K1 + K2 = E[ψ ψ*]`` and
``P = K1 − K2 = E[ψ ψ]`` and, by Wick's theorem for the complex Gaussian ψ (Eq. S39 plus the ψψ-pairing, which
vanishes only when K1 = K2),

    numerator   Q  = E Σ ψ(a1b1) ψ(a2b2) ψ*(a2b1) ψ*(a1b2)                     (Eqs. 1–2, S35–S38)
                   = Σ [P(a1b1,a2b2) P*(a2b1,a1b2) + C(a1b1,a2b1) C(a2b2,a1b2) + C(a1b1,a1b2) C(a2b2,a2b1)]
                   = PP + Tr R_A² + Tr R_B²,     R_A = Tr_B C,  R_B = Tr_A C  (partial traces of C),
    denominator N2 = E (Σ_x |ψ(x)|²)² = (Tr C)² + ‖C‖_F² + ‖P‖_F².

Q is E[‖ψ‖⁴ Tr ρ_A²] for the *unnormalised* ψ (ρ_A of ψ/‖ψ‖). We return

* ``purity = Q / N2`` — an **estimate** of the ensemble average ``E Tr ρ_A²`` of the normalised state. It is
  **exact** when ‖ψ‖ is independent of ψ/‖ψ‖, in particular for i.i.d. amplitudes (σ_w → ∞: C ∝ 1, P = 0, where
  it equals the Haar value ``(D_A + D_B)/(D_A D_B + 1)``); in general E[Tr ρ²] ≠ E[‖ψ‖⁴ Tr ρ²]/E[‖ψ‖⁴].
* ``renyi2 = −log(purity)`` — an **estimate** of ``−log E Tr ρ_A²``.

The **rigorous** statement is Jensen's inequality (−log is convex): ``E S_2 ≥ −log E Tr ρ_A²``, and
``E S_vN ≥ E S_2`` (Rényi entropies decrease with n). So ``−log E Tr ρ_A²`` is a lower bound on the average
Rényi-2 and von Neumann entropies; ``renyi2`` returned here equals that bound exactly only where ``purity`` is
exact (i.i.d. amplitudes), otherwise it is an estimate of the bound. Likewise ``1 − purity`` estimates the
average Tsallis-2 entropy (Supplementary IV).

Paths (all equal to rounding; tested against each other and a brute four-index sum)
------------------------------------------------------------------------------------
1. ``method="brute"`` — builds C and P on the full basis (D × D) and sums the four-index expression directly
   (the oracle; small systems only).
2. ``method="partial_trace"`` — the C++ core (:mod:`nnqs/wick.hpp`) evaluates the kernels on the fly from the
   per-subsystem Gram tables (inputs are the product basis x = (x_A, x_B), so x·y, |x|², |y|² split over A|B):
   Tr R_A², Tr R_B² cost O(D·(D_A + D_B)) kernel evaluations, ‖C‖², ‖P‖², PP cost O(D²) — never storing a
   D × D matrix. With ``compress=True`` (default) pairs of subsystem configurations with identical
   (x_A·y_A, |x_A|², |y_A|²) are merged with multiplicities before the sums (exact for any inputs; for ±1 spins
   only ``L_A + 1`` distinct triples remain, so any kernel of dot products/distances costs O(L_A · L_B)).
   ``compress=False`` is the plain tiled O(D²) sweep (the structure the CUDA port follows).
   ``method="matrix"`` (:func:`wick_purity_from_matrices`) takes user kernel matrices or a callable (small D).
3. ``method="factorized"`` — for kernels that are products of per-site factors (Cos-net and Gauss-net on spins:
   exp(−γ|x−y|²) = Π_i exp(−γ(x_i−y_i)²); the delta kernel), every term is a product of per-site sums:
   O(L) work for any L (L = 1000 is exact), computed in logs (``log_numerator``, ``log_denominator``).
4. ``method="hamming"`` (:func:`wick_purity_hamming`) — kernels that depend on the Hamming distance h only
   (:meth:`GPKernel.hamming_reducible`): every built-in kernel (a function of x·y, |x|², |y|²) on the full ±s
   spin basis (x·y = s²(L − 2h)), and isotropic kernels (functions of |x − y|²: RBF, delta) on any two-valued
   basis; every sum becomes a sum over h with binomial weights, and PP = ‖P‖_F². O(L) in logs;
   ``method="auto"`` uses it whenever the spin values are (−s, s) (the default ±1 basis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import gammaln, logsumexp

from .._backend import core_module, dispatch, to_numpy
from .._validation import (
    MAX_INT32,
    as_array,
    check_cost,
    check_memory,
    check_nbytes,
    check_positive_int,
    check_psd,
    check_real_scalar,
    check_scale,
)
from ..errors import InvalidInputError, PrecisionLossError, ShapeMismatchError
from ..networks.cosnet import CosNet
from ..networks.dense import B_STD, W_STD
from ..networks.gaussnet import GaussNet
from ..networks.gp import GPKernel, rbf_gp_kernel
from ..networks.relu import ReLUNet
from ..physics.basis import spin_basis
from .entropy import _matrix_view, normalize_subsystem
from .page import haar_purity

__all__ = [
    "GPKernel",
    "rbf_kernel",
    "cosnet_gp_kernel",
    "gaussnet_gp_kernel",
    "relu_nngp_kernel",
    "delta_kernel",
    "WickResult",
    "wick_purity",
    "wick_purity_brute",
    "wick_purity_partial_trace",
    "wick_purity_factorized",
    "wick_purity_hamming",
    "wick_purity_from_matrices",
    "spin_basis_inputs",
]

# ---------------------------------------------------------------------------------------------------------------
# Kernels (GPKernel lives with the architectures; the builders below are thin wrappers of their objects)
# ---------------------------------------------------------------------------------------------------------------

def rbf_kernel(amplitude: float, gamma: float) -> GPKernel:
    """``amplitude · exp(−gamma |x − y|²)``."""
    return rbf_gp_kernel(amplitude, gamma)


def cosnet_gp_kernel(sigma_a: float, sigma_w: float, input_dim: int) -> GPKernel:
    """Cos-net NNGP, Eq. 4: ``(σ_a²/2) exp(−σ_w² |x−y|²/(2d))`` for f = Σ_i a_i cos(w_i·x + b_i)
    (``CosNet(sigma_a, sigma_w).gp_kernel(input_dim)``)."""
    return CosNet(sigma_a, sigma_w).gp_kernel(input_dim)


def gaussnet_gp_kernel(sigma_a: float, sigma_w: float, input_dim: int) -> GPKernel:
    """Gauss-net NNGP, Eq. S27 scaled by σ_a²: ``σ_a² exp(−σ_w² |x−y|²/(2d))``
    (``GaussNet(sigma=sigma_w, sigma_a=sigma_a).gp_kernel(input_dim)``)."""
    return GaussNet(sigma=sigma_w, sigma_a=sigma_a).gp_kernel(input_dim)


def relu_nngp_kernel(input_dim: int, depth: int = 1, W_std: float = W_STD, b_std: float = B_STD) -> GPKernel:
    """NNGP of :func:`nnqs_fast.networks.relu.apply_relu` (arc-cosine recursion; does not factorise);
    ``ReLUNet(depth, W_std, b_std).gp_kernel(input_dim)``."""
    return ReLUNet(depth=depth, W_std=W_std, b_std=b_std).gp_kernel(input_dim)


def delta_kernel(amplitude: float = 1.0) -> GPKernel:
    """``amplitude · [x = y]``: the σ_w → ∞ limit (i.i.d. amplitudes)."""
    return GPKernel("delta", (check_scale(amplitude, "amplitude", nonnegative=True),))


# ---------------------------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WickResult:
    """Wick/GP estimate for one bipartition (see the module docstring for which number is what).

    ``purity`` = Q/N2 (estimate of E Tr ρ_A², exact for i.i.d. amplitudes); ``renyi2`` = −log purity;
    ``log_numerator``/``log_denominator`` = log Q, log N2 (finite for any L); ``numerator``/``denominator`` may
    overflow to inf for large L; ``terms`` = the contractions (Tr C, Tr R_A², Tr R_B², ‖C‖², ‖P‖², PP) as
    natural logs under ``log_*`` keys (signed terms: PP may be negative for general K1 ≠ K2, stored as value).
    """

    purity: float
    renyi2: float
    log_numerator: float
    log_denominator: float
    dim_a: int
    dim_b: int
    method: str
    terms: dict[str, float] = field(default_factory=dict)

    @property
    def numerator(self) -> float:
        return _safe_exp(self.log_numerator)

    @property
    def denominator(self) -> float:
        return _safe_exp(self.log_denominator)

    @property
    def haar_purity(self) -> float:
        """(D_A + D_B)/(D_A D_B + 1): the i.i.d.-amplitude value, for comparison (:func:`.page.haar_purity`)."""
        return haar_purity(self.dim_a, self.dim_b)

    def __repr__(self) -> str:
        """Dimensions of thousands of sites are written as ``2**k`` (a 40 000-site ``dim_a`` has 6 000 digits, more
        than Python's int-to-str limit)."""
        def dim(d: int) -> str:
            if d < 10**15:
                return str(d)
            return f"2**{d.bit_length() - 1}" if d & (d - 1) == 0 else f"~2**{d.bit_length()}"
        return (f"WickResult(purity={self.purity!r}, renyi2={self.renyi2!r}, log_numerator={self.log_numerator!r}, "
                f"log_denominator={self.log_denominator!r}, dim_a={dim(self.dim_a)}, dim_b={dim(self.dim_b)}, "
                f"method={self.method!r}, terms={self.terms!r})")


def _safe_exp(x: float) -> float:
    return math.exp(x) if x < 709.0 else math.inf


def _result(lq: float, ln2: float, DA: int, DB: int, method: str, terms: dict[str, float]) -> WickResult:
    return WickResult(purity=math.exp(lq - ln2), renyi2=ln2 - lq, log_numerator=lq, log_denominator=ln2,
                      dim_a=int(DA), dim_b=int(DB), method=method, terms=terms)


def _not_positive() -> InvalidInputError:
    return InvalidInputError("the Wick numerator/denominator is not positive: the kernel is zero (or not a "
                             "covariance) on this basis")


def result_from_terms(tr_c, tr_ra2, tr_rb2, frob_c2, frob_p2, pp, DA, DB, method) -> WickResult:
    num = tr_ra2 + tr_rb2 + pp
    den = tr_c * tr_c + frob_c2 + frob_p2
    if not (num > 0 and den > 0):
        raise _not_positive()
    terms = {"trace_c": tr_c, "trace_ra2": tr_ra2, "trace_rb2": tr_rb2, "frob_c2": frob_c2, "frob_p2": frob_p2,
             "pp": pp}
    return _result(math.log(num), math.log(den), DA, DB, method, terms)


# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------

def spin_basis_inputs(n_sites: int, spin_values: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Inputs of the full spin basis, shape ``(2**L, L)``: row ``s`` has ``spin_values[(s >> i) & 1]`` in
    column ``i`` (bit 1 = spin up = +1 by default): :func:`nnqs_fast.physics.spin_basis`."""
    return spin_basis(n_sites, spin_values)


def _kernel2(kernel1: GPKernel, kernel2: Any) -> tuple[GPKernel, bool]:
    if not isinstance(kernel1, GPKernel):
        raise InvalidInputError(f"kernel1 must be a GPKernel (e.g. cosnet_gp_kernel(...)), got {type(kernel1)}")
    if isinstance(kernel2, str) and kernel2 == "same":
        return kernel1, True
    if kernel2 is None:
        return GPKernel("zero"), False
    if not isinstance(kernel2, GPKernel):
        raise InvalidInputError("kernel2 must be 'same' (ψ = f1 + i f2 with identical kernels), None (real ψ) or "
                                "a GPKernel")
    return kernel2, kernel2 == kernel1


def _spins(spin_values: Any) -> tuple[float, float]:
    """Two distinct finite local values (spins are two-level: (-1, 0, 1) would silently answer for qutrits)."""
    if isinstance(spin_values, (str, bytes)) or not hasattr(spin_values, "__len__") or len(spin_values) != 2:
        raise ShapeMismatchError(f"spin_values must be two numbers (bit 0 value, bit 1 value), got {spin_values!r}")
    a, b = (check_real_scalar(v, "spin_values") for v in spin_values)
    if a == b:
        raise InvalidInputError(f"spin_values must be two different numbers, got {spin_values!r}")
    return a, b


def _sizes(n_sites: int | None, subsystem: Any) -> tuple[int, tuple[int, ...]]:
    L = check_positive_int(n_sites, "n_sites")
    A = normalize_subsystem(subsystem, L)
    return L, A


# ---------------------------------------------------------------------------------------------------------------
# Path 1: brute force (the oracle)
# ---------------------------------------------------------------------------------------------------------------

def wick_purity_brute(kernel1: GPKernel, kernel2: Any = "same", *, n_sites: int, subsystem,
                      spin_values: tuple[float, float] = (-1.0, 1.0)) -> WickResult:
    """Direct four-index sum of Wick's formula on the full spin basis (D = 2**L ≤ 4096)."""
    k1, _ = _kernel2(kernel1, "same")
    k2, _ = _kernel2(kernel1, kernel2)
    L, A = _sizes(n_sites, subsystem)
    if L > 12:
        raise InvalidInputError("the brute-force path is an oracle for L <= 12; use method='partial_trace'")
    check_cost(max(k1.numpy_cost(4.0**L), k2.numpy_cost(4.0**L)), f"the brute-force Wick sum on {L} sites")
    X = spin_basis_inputs(L, spin_values)
    K1, K2 = k1(X), k2(X)
    return _brute_from_matrices(K1 + K2, K1 - K2, A, L)


def _permute(K: np.ndarray, A, L) -> np.ndarray:
    perm = _matrix_view(np.arange(K.shape[0]), A, L, 2).ravel()
    return K[np.ix_(perm, perm)]


def _brute_from_matrices(C: np.ndarray, P: np.ndarray, A, L) -> WickResult:
    D = C.shape[0]
    DA = 1 << len(A)
    DB = D // DA
    C, P = _permute(C, A, L), _permute(P, A, L)
    a1, a2, b1, b2 = np.meshgrid(np.arange(DA), np.arange(DA), np.arange(DB), np.arange(DB), indexing="ij")
    x11, x22, x21, x12 = a1 * DB + b1, a2 * DB + b2, a2 * DB + b1, a1 * DB + b2
    # E[z1 z2 z3* z4*] = P(1,2) P*(3,4) + C(1,3) C(2,4) + C(1,4) C(2,3), 1=x11, 2=x22, 3=x21, 4=x12
    t_pp = np.sum(P[x11, x22] * np.conj(P[x21, x12]))
    t_a = np.sum(C[x11, x21] * C[x22, x12])
    t_b = np.sum(C[x11, x12] * C[x22, x21])
    diag = np.diag(C)
    den = np.sum(np.abs(P) ** 2) + np.sum(diag[:, None] * diag[None, :]) + np.sum(C * C.T)
    return _brute_result(t_pp, t_a, t_b, den, C, P, DA, DB)


def _brute_result(t_pp, t_a, t_b, den, C, P, DA, DB) -> WickResult:
    num = float(np.real(t_pp + t_a + t_b))
    den = float(np.real(den))
    terms = {"trace_c": float(np.real(np.trace(C))), "trace_ra2": float(np.real(t_a)),
             "trace_rb2": float(np.real(t_b)), "frob_c2": float(np.sum(np.abs(C) ** 2)),
             "frob_p2": float(np.sum(np.abs(P) ** 2)), "pp": float(np.real(t_pp))}
    if not (math.isfinite(num) and math.isfinite(den)):
        raise PrecisionLossError("the Wick sums overflow float64 (kernel entries too large?); rescale the kernel — "
                                 "the purity does not depend on its overall scale")
    if not (num > 0 and den > 0):
        raise _not_positive()
    return _result(math.log(num), math.log(den), DA, DB, "brute", terms)


# ---------------------------------------------------------------------------------------------------------------
# Path "matrix": user kernel matrices or callables (small D), via partial traces of the reshaped matrices
# ---------------------------------------------------------------------------------------------------------------

def wick_purity_from_matrices(k1, k2: Any = "same", *, n_sites: int, subsystem,
                              spin_values: tuple[float, float] = (-1.0, 1.0)) -> WickResult:
    """Wick purity from user kernels on the full basis: ``k1`` (and ``k2``) are D × D matrices in the basis order
    of :mod:`.entropy` (bit i of the index = site i), or callables ``k(X1, X2) -> matrix`` evaluated on
    :func:`spin_basis_inputs`; ``k2="same"`` (K2 = K1) or ``None`` (real ψ). Complex Hermitian C is allowed
    when given as matrices ``C``-style (K1, K2 real symmetric is the GP case)."""
    L, A = _sizes(n_sites, subsystem)
    spin_values = _spins(spin_values)
    if L > 30:
        raise InvalidInputError(f"the matrix path needs the {L}-site basis's D x D matrices; use at most 30 sites")
    D = 1 << L
    check_memory(4.0 * D * D * 8, "the D×D kernel matrices of the matrix path")
    X = None

    def mat(k, name):
        nonlocal X
        if callable(k):
            if X is None:
                X = spin_basis_inputs(L, spin_values)
            k = k(X, X)
        K = as_array(k, name, ndim=2)
        if K.shape != (D, D):
            raise ShapeMismatchError(f"{name} must have shape ({D}, {D}) for {L} sites, got {K.shape}")
        # Wick's formula needs covariances: -eye gave purity 0.25, an asymmetric matrix 2.09
        check_psd(K, name)
        return K

    K1 = mat(k1, "k1")
    if isinstance(k2, str) and k2 == "same":
        K2 = K1
    elif k2 is None:
        K2 = np.zeros_like(K1)
    else:
        K2 = mat(k2, "k2")
    C, P = _permute(K1 + K2, A, L), _permute(K1 - K2, A, L)
    DA = 1 << len(A)
    DB = D // DA
    C4, P4 = C.reshape(DA, DB, DA, DB), P.reshape(DA, DB, DA, DB)
    RA = np.einsum("ibjb->ij", C4)
    RB = np.einsum("aiaj->ij", C4)
    t_a = np.sum(RA * RA.T)
    t_b = np.sum(RB * RB.T)
    t_pp = np.einsum("abcd,cbad->", P4, np.conj(P4))
    diag = np.diag(C)
    den = np.abs(np.sum(P * np.conj(P))) + np.sum(diag) ** 2 + np.sum(C * C.T)
    r = _brute_result(t_pp, t_a, t_b, den, C, P, DA, DB)
    return WickResult(**{**r.__dict__, "method": "matrix"})


# ---------------------------------------------------------------------------------------------------------------
# Path 2: on-the-fly partial traces in C++
# ---------------------------------------------------------------------------------------------------------------

def _compress(cols: list[np.ndarray]) -> np.ndarray:
    """Distinct rows of the columns ``cols`` with multiplicities, as a (4, n) table (dot, n1, n2, weight).

    Exact (equality of float64 values): each column is mapped to integer codes by a 1-D ``np.unique``, the codes
    are combined into one int64 key, and the keys are counted.
    """
    codes, uniq = [], []
    for c in cols:
        u, inv = np.unique(c, return_inverse=True)
        uniq.append(u)
        codes.append(inv.reshape(-1).astype(np.int64))
    key = codes[0]
    for inv, u in zip(codes[1:], uniq[1:]):
        key = key * u.size + inv
    ukey, cnt = np.unique(key, return_counts=True)
    rows = []
    for u in reversed(uniq):
        rows.append(u[ukey % u.size])
        ukey = ukey // u.size
    rows.reverse()
    return np.ascontiguousarray(np.vstack(rows + [cnt.astype(float)]))


def _tables(X: np.ndarray, compress: bool, halve: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pair table (4, n) over all (s, s') and diagonal table (4, n') over (s, s) of subsystem features X.

    ``halve`` (uncompressed only) keeps s <= s' with weight 2 off the diagonal: valid for the table that is summed
    against *all* pairs of the other subsystem (or against a diagonal), since swapping both pairs leaves the
    symmetric kernels unchanged and permutes the other table."""
    G = X @ X.T
    nrm = np.diag(G).copy()
    n = X.shape[0]
    if compress:
        n1 = np.broadcast_to(nrm[:, None], (n, n)).ravel()
        n2 = np.broadcast_to(nrm[None, :], (n, n)).ravel()
        return _compress([G.ravel(), n1, n2]), _compress([nrm, nrm, nrm])
    if halve:
        iu, ju = np.triu_indices(n)
        pairs = np.vstack([G[iu, ju], nrm[iu], nrm[ju], np.where(iu == ju, 1.0, 2.0)])
    else:
        pairs = np.vstack([G.ravel(), np.repeat(nrm, n), np.tile(nrm, n), np.ones(n * n)])
    diag = np.vstack([nrm, nrm, nrm, np.ones(n)])
    return np.ascontiguousarray(pairs), np.ascontiguousarray(diag)


def partial_trace_inputs(kernel1: Any, kernel2: Any, n_sites: int | None, subsystem: Any,
                         spin_values: tuple[float, float], features_a: Any, features_b: Any, *, max_sites: int
                         ) -> tuple[GPKernel, GPKernel, bool, np.ndarray, np.ndarray]:
    """Argument rules of the partial-trace paths (CPU and CUDA): ``(k1, k2, same, X_A, X_B)`` with the
    per-subsystem inputs of the full spin basis of ``n_sites <= max_sites`` split by ``subsystem``, or the
    explicit features (host float64; CuPy features are copied to the host)."""
    k1 = kernel1 if isinstance(kernel1, GPKernel) else _kernel2(kernel1, "same")[0]
    k2, same = _kernel2(k1, kernel2)
    if features_a is None and features_b is None:
        L, A = _sizes(n_sites, subsystem)
        if L > max_sites:
            raise InvalidInputError(f"the partial-trace path enumerates subsystem configurations (here up to "
                                    f"{max_sites} sites); use method='factorized' or 'hamming' for large L")
        XA = spin_basis_inputs(len(A), spin_values) if A else np.zeros((1, 0))
        XB = spin_basis_inputs(L - len(A), spin_values) if len(A) < L else np.zeros((1, 0))
    elif features_a is not None and features_b is not None:
        XA = as_array(to_numpy(features_a), "features_a", ndim=2, dtype=np.float64, allow_complex=False)
        XB = as_array(to_numpy(features_b), "features_b", ndim=2, dtype=np.float64, allow_complex=False)
    else:
        raise InvalidInputError("give both features_a and features_b, or neither (then n_sites and subsystem)")
    return k1, k2, same, XA, XB


def wick_purity_partial_trace(kernel1: GPKernel, kernel2: Any = "same", *, n_sites: int | None = None,
                              subsystem=None, spin_values: tuple[float, float] = (-1.0, 1.0),
                              features_a: np.ndarray | None = None, features_b: np.ndarray | None = None,
                              compress: bool = True, tile: int = 4096) -> WickResult:
    """C++ on-the-fly contraction (see the module docstring, path 2).

    Inputs: the full spin basis of ``n_sites`` split by ``subsystem`` (only ``|A|`` matters for these
    permutation-invariant kernels), or explicit per-subsystem features ``features_a`` (D_A, d_A) and
    ``features_b`` (D_B, d_B) of a product basis with inputs ``x = (x_A, x_B)``.
    """
    k1, k2, same, XA, XB = partial_trace_inputs(kernel1, kernel2, n_sites, subsystem, spin_values, features_a,
                                                features_b, max_sites=40)
    DA, DB = XA.shape[0], XB.shape[0]
    tile = check_positive_int(tile, "tile", maximum=MAX_INT32)
    if not compress:
        check_memory(32.0 * (DA * DA + DB * DB), "the uncompressed pair tables")
    else:
        check_memory(64.0 * (DA * DA + DB * DB), "the pair tables")
    pa, da = _tables(XA, compress, halve=True)  # A pairs: halved (outer loop over all B pairs)
    pb, db = _tables(XB, compress)
    na, nb, nda, ndb = pa.shape[-1], pb.shape[-1], da.shape[-1], db.shape[-1]
    check_cost(4.0 * (na * nb + na * ndb + nb * nda + nda * ndb) * max(k1.eval_cost, k2.eval_cost),
               f"the Wick pair sums ({na} x {nb} table rows)")
    core = core_module()
    f1, p1, f2, p2 = k1.code, k1.param_array(), k2.code, k2.param_array()
    tr_c, _ = core.wick_partial_trace_sums(f1, p1, f2, p2, same, da, db)
    _, tr_ra2 = core.wick_partial_trace_sums(f1, p1, f2, p2, same, pa, db)
    _, tr_rb2 = core.wick_partial_trace_sums(f1, p1, f2, p2, same, pb, da)
    frob_c2, frob_p2, pp = core.wick_pair_sums(f1, p1, f2, p2, same, pa, pb, int(tile))
    return result_from_terms(tr_c, tr_ra2, tr_rb2, frob_c2, frob_p2, pp, DA, DB, "partial_trace")


# ---------------------------------------------------------------------------------------------------------------
# Path 3: factorised kernels, O(L), in logs
# ---------------------------------------------------------------------------------------------------------------

def _signed_lse(logs: list[float], signs: list[float]) -> tuple[float, float]:
    """log|Σ s_k e^{l_k}| and its sign."""
    la = np.asarray(logs, float)
    sg = np.asarray(signs, float)
    if la.size == 0 or np.all(np.isneginf(la)):
        return -math.inf, 0.0
    v, s = logsumexp(la, b=sg, return_sign=True)
    return float(v), float(s)


def wick_purity_factorized(kernel1: GPKernel | tuple[float, np.ndarray], kernel2: Any = "same", *,
                           n_sites: int, subsystem, spin_values: tuple[float, float] = (-1.0, 1.0)) -> WickResult:
    """O(L) Wick purity for product kernels ``K = amp · Π_i F_i(s_i, t_i)`` (exact for any L, in logs).

    ``kernel1``/``kernel2``: factorising :class:`GPKernel` (rbf, delta) or ``(amp, factors)`` with factors of
    shape ``(q, q)`` (same for every site) or ``(L, q, q)`` (per site; symmetric, non-negative entries).
    With U, V running over the components {K1, K2} (signs +1, −1 in P):
    Tr C = Σ_U u Π_i tr U_i;  Tr R_A² = Σ_{U,V} uv Π_{i∈A} ⟨U_i,V_i⟩ Π_{i∈B} tr U_i tr V_i (A ↔ B for R_B);
    ‖C‖² = Σ uv Π_i ⟨U_i,V_i⟩;  ‖P‖² = PP = Σ s_U s_V uv Π_i ⟨U_i,V_i⟩ (symmetric factors).
    """
    L, A = _sizes(n_sites, subsystem)
    spin_values = _spins(spin_values)
    check_nbytes((16 * (L + 1),), 8, f"the factorised-path tables of {L} sites")
    nA = len(A)
    counts = {"A": nA, "B": L - nA, "all": L}
    masks: dict[str, np.ndarray] = {}

    def comp(k):
        if isinstance(k, GPKernel):
            amp, F = k.site_factor(spin_values)
        else:
            try:
                amp, F = k
            except (TypeError, ValueError) as exc:
                raise InvalidInputError("a factorised kernel is a GPKernel or a pair (amp, factors)") from exc
            amp = check_scale(amp, "amp", nonnegative=True)
        F = as_array(F, "factors", ndim=(2, 3), dtype=np.float64, allow_complex=False)
        if F.shape[-1] != F.shape[-2] or (F.ndim == 3 and F.shape[0] != L):
            raise ShapeMismatchError(f"factors must have shape (q, q) or ({L}, q, q), got {F.shape}")
        if np.any(F < 0) or np.any(np.abs(F - np.swapaxes(F, -1, -2)) > 1e-12 * np.max(np.abs(F), initial=1.0)):
            raise InvalidInputError("per-site factors must be symmetric with non-negative entries")
        return float(amp), F

    def site_sum(x, which: str) -> float:
        """Σ over the sites of A, B or all of a per-site log (a scalar = the same for every site)."""
        if np.ndim(x) == 0:
            return float(x) * counts[which] if counts[which] else 0.0
        if not masks:
            m = np.zeros(L, bool)
            m[list(A)] = True
            masks.update({"A": m, "B": ~m, "all": np.ones(L, bool)})
        return float(np.sum(x[masks[which]]))

    def lse(vals: list[float]) -> float:
        m = max(vals)
        if m == -math.inf:
            return m
        return m + math.log(math.fsum(math.exp(v - m) for v in vals))

    same = isinstance(kernel2, str) and kernel2 == "same"
    a1, F1 = comp(kernel1)
    if same:
        comps = [(math.log(2 * a1) if a1 > 0 else -math.inf, F1, 0.0)]
    else:
        comps = [(math.log(a1) if a1 > 0 else -math.inf, F1, 1.0)]
        if kernel2 is not None:
            a2, F2 = comp(kernel2)
            if F2.shape[-1] != F1.shape[-1]:
                raise ShapeMismatchError("kernel1 and kernel2 factors must have the same local dimension")
            comps.append((math.log(a2) if a2 > 0 else -math.inf, F2, -1.0))
    with np.errstate(divide="ignore"):
        logtr = [np.log(np.trace(F, axis1=-2, axis2=-1)) for _, F, _ in comps]
        l_tr_c = [la + site_sum(lt, "all") for (la, _, _), lt in zip(comps, logtr)]
        lra, lrb, lcc, spp = [], [], [], []
        for i, (lu, U, su) in enumerate(comps):
            for j, (lv, V, sv) in enumerate(comps):
                linner = np.log(np.sum(U * V, axis=(-2, -1)))
                base = lu + lv
                lra.append(base + site_sum(linner, "A") + site_sum(logtr[i], "B") + site_sum(logtr[j], "B"))
                lrb.append(base + site_sum(linner, "B") + site_sum(logtr[i], "A") + site_sum(logtr[j], "A"))
                lcc.append(base + site_sum(linner, "all"))
                spp.append(su * sv)
    ltc, lta, ltb, lfc = lse(l_tr_c), lse(lra), lse(lrb), lse(lcc)
    if same or (len(comps) == 1 and comps[0][2] == 0.0):
        lfp = -math.inf
    else:
        lfp, sfp = _signed_lse(lcc, spp)
        if sfp <= 0 or lfp < lfc - 30:  # rounding residue of a cancellation: P = 0 to working precision
            lfp = -math.inf
    # numerator = Tr R_A² + Tr R_B² + PP (PP = ‖P‖² for symmetric factors); denominator = (Tr C)² + ‖C‖² + ‖P‖²
    lnum = lse([lta, ltb, lfp])
    lden = lse([2 * ltc, lfc, lfp])
    terms = {"log_trace_c": ltc, "log_trace_ra2": lta, "log_trace_rb2": ltb, "log_frob_c2": lfc,
             "log_frob_p2": lfp, "log_pp": lfp}
    q = F1.shape[-1]
    return WickResult(purity=math.exp(lnum - lden), renyi2=lden - lnum, log_numerator=lnum, log_denominator=lden,
                      dim_a=q ** nA, dim_b=q ** (L - nA), method="factorized", terms=terms)


# ---------------------------------------------------------------------------------------------------------------
# Path 4: isotropic kernels on the full ±s spin basis, O(L) sums over Hamming distances, in logs
# ---------------------------------------------------------------------------------------------------------------

def _auto_method(k1: GPKernel, k2: GPKernel, spin_values: Any) -> str:
    """The path ``method="auto"`` takes: ``"hamming"`` (O(L)) on symmetric spin values (−s, s), where every
    built-in kernel depends on the Hamming distance only; on other values ``"factorized"`` (O(L)) for product
    kernels, else ``"hamming"`` when both kernels are isotropic (functions of |x − y|²), else ``"partial_trace"``."""
    if not isinstance(k1, GPKernel):
        raise InvalidInputError(f"kernel1 must be a GPKernel (e.g. cosnet_gp_kernel(...)), got {type(k1)}")
    reducible = k1.hamming_reducible(spin_values) and k2.hamming_reducible(spin_values)
    if reducible and _symmetric_spin_scale(spin_values) is not None:
        return "hamming"
    if k1.factorizes and k2.factorizes:
        return "factorized"
    return "hamming" if reducible else "partial_trace"


def _symmetric_spin_scale(spin_values) -> float | None:
    """s² when ``spin_values`` is (−s, s) or (s, −s) with s ≠ 0 (then |x|² = s² L for every configuration),
    else None."""
    try:
        v = np.asarray(spin_values, float)
    except (TypeError, ValueError):
        return None
    if v.shape != (2,) or not np.all(np.isfinite(v)) or v[0] == 0.0 or v[0] != -v[1]:
        return None
    return float(v[0] * v[0])


def _log_hamming_values(kernel: GPKernel, L: int, spin_values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(log|k(h)|, sign k(h))`` for h = 0..L on the full spin basis with local values ``(v0, v1)``.

    Isotropic kernels (functions of |x − y|² = (v1 − v0)² h) analytically for rbf and delta (no underflow at
    large L: log k = log amp − γ (v1 − v0)² h); on symmetric values (−s, s) every family through
    :meth:`GPKernel.from_products` with x·y = s²(L − 2h), |x|² = |y|² = s² L."""
    h = np.arange(L + 1, dtype=float)
    v0, v1 = (float(v) for v in np.asarray(spin_values, float))
    gap2 = (v1 - v0) ** 2
    if kernel.family == "zero":
        return np.full(L + 1, -math.inf), np.zeros(L + 1)
    if kernel.family == "rbf":
        amp, gamma = kernel.params[:2]
        if amp == 0.0:
            return np.full(L + 1, -math.inf), np.zeros(L + 1)
        return math.log(amp) - gamma * gap2 * h, np.ones(L + 1)
    if kernel.family == "delta":
        la = np.full(L + 1, -math.inf)
        sg = np.zeros(L + 1)
        if kernel.params[0] > 0:
            la[0], sg[0] = math.log(kernel.params[0]), 1.0
        return la, sg
    s2 = v0 * v0
    v = kernel.from_products(s2 * (L - 2.0 * h), s2 * L, s2 * L)
    if not np.all(np.isfinite(v)):
        raise InvalidInputError(f"the {kernel.family!r} kernel is not finite on the spin basis; check its "
                                "parameters")
    with np.errstate(divide="ignore"):
        return np.log(np.abs(v)), np.sign(v)


def _signed_add(la, sa, lb, sb) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise log|sa e^la + sb e^lb| and its sign (−inf, 0 where the sum vanishes)."""
    m = np.maximum(la, lb)
    mf = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = sa * np.exp(la - mf) + sb * np.exp(lb - mf)
        v = np.where(t != 0.0, mf + np.log(np.abs(t)), -math.inf)
    return v, np.sign(t)


def _lbinom(n: int, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def _lse(vals) -> float:
    """log Σ e^v (−inf for an empty or all −inf input); plain NumPy (scipy's logsumexp costs ~20 µs a call)."""
    a = np.asarray(vals, float)
    if a.size == 0:
        return -math.inf
    m = float(np.max(a))
    if m == -math.inf:
        return m
    return m + math.log(float(np.sum(np.exp(a - m))))


def wick_purity_hamming(kernel1: GPKernel, kernel2: Any = "same", *, n_sites: int, subsystem,
                        spin_values: tuple[float, float] = (-1.0, 1.0)) -> WickResult:
    """O(L) Wick purity (Eqs. 1–2, S36–S39) for isotropic kernels on the full ±s spin basis, in logs.

    On ±s spins ``x·y = s²(L − 2h)`` and ``|x|² = |y|² = s² L`` (h = Hamming distance), so every kernel of
    ``(x·y, |x|², |y|²)`` (ReLU NNGP, RBF/Cos-net/Gauss-net, delta) is a function ``k(h)``; write
    ``c(h) = k1 + k2``, ``p(h) = k1 − k2`` (``kernel2="same"``: c = 2 k1, p = 0; ``None``: c = p = k1).
    With x = (a, b), h(x, y) = h_A(a, a') + h_B(b, b'), and there are ``2^n C(n, h)`` ordered pairs at distance
    h among n sites, hence (L_A = |A|, L_B = L − L_A; only |A| matters):

    * ``Tr C = 2^L c(0)``;
    * ``Tr R_A² = 2^{L_A + 2 L_B} Σ_{h=0}^{L_A} C(L_A, h) c(h)²`` (R_A(a, a') = 2^{L_B} c(h_A)), ``Tr R_B²``
      with A ↔ B;
    * ``‖C‖_F² = 2^L Σ_{h=0}^{L} C(L, h) c(h)²``, ``‖P‖_F²`` likewise with p;
    * ``PP = Σ P(a1b1, a2b2) P(a2b1, a1b2)``: both pairs have A-distance h(a1, a2) and B-distance h(b1, b2), so
      PP = Σ_{h_A, h_B} 2^{L_A} C(L_A, h_A) 2^{L_B} C(L_B, h_B) p(h_A + h_B)² = ‖P‖_F² (Vandermonde).

    Binomials via ``gammaln`` and sums via ``logsumexp``: exact for any L (L = 1000 costs well under 1 ms).
    ``terms`` holds natural logs under ``log_*`` keys, as in :func:`wick_purity_factorized`.
    Raises :class:`~nnqs_fast.errors.InvalidInputError` for spin values that are not (−s, s) or for kernels that
    are not isotropic :class:`GPKernel` objects (use ``method="partial_trace"``/``"factorized"``/``"matrix"``).
    """
    for name, k in (("kernel1", kernel1), ("kernel2", kernel2)):
        if name == "kernel2" and (k is None or (isinstance(k, str) and k == "same")):
            continue
        if not isinstance(k, GPKernel):
            raise InvalidInputError(f"{name} must be an isotropic GPKernel (a function of |x−y|², or of x·y, |x|², "
                                    f"|y|² on symmetric spin values, e.g. relu_nngp_kernel or cosnet_gp_kernel) for "
                                    f"the Hamming path, got {k!r}; use method='partial_trace' or "
                                    "wick_purity_from_matrices for other kernels")
        if not k.hamming_reducible(spin_values):
            raise InvalidInputError(f"the Hamming path needs symmetric spin values (−s, s) for the {k.family!r} "
                                    f"kernel, which is not isotropic (it depends on |x|, |y|), got spin values "
                                    f"{spin_values!r}; use method='partial_trace' (or 'factorized' for product "
                                    "kernels)")
    k2, same = _kernel2(kernel1, kernel2)
    L, A = _sizes(n_sites, subsystem)
    spin_values = _spins(spin_values)
    check_nbytes((16 * (L + 1),), 8, f"the Hamming-path tables of {L} sites")
    check_cost(2.0 * max(kernel1.numpy_cost(L + 1.0), k2.numpy_cost(L + 1.0)),
               f"the Hamming-path kernel values on {L} sites")
    LA = len(A)
    LB = L - LA
    l1, s1 = _log_hamming_values(kernel1, L, spin_values)
    if same:
        lc, sc = l1 + math.log(2.0), s1
        lp = np.full(L + 1, -math.inf)
    elif kernel2 is None:
        lc, sc, lp = l1, s1, l1
    else:
        l2, s2k = _log_hamming_values(k2, L, spin_values)
        lc, sc = _signed_add(l1, s1, l2, s2k)
        lp, _ = _signed_add(l1, s1, l2, -s2k)
    if sc[0] < 0:
        raise InvalidInputError("the kernel variance k(x, x) is negative: not a covariance")
    ln2 = math.log(2.0)
    hA, hB, h = np.arange(LA + 1.0), np.arange(LB + 1.0), np.arange(L + 1.0)
    ltc = L * ln2 + float(lc[0])
    lta = (LA + 2 * LB) * ln2 + _lse(_lbinom(LA, hA) + 2 * lc[: LA + 1])
    ltb = (LB + 2 * LA) * ln2 + _lse(_lbinom(LB, hB) + 2 * lc[: LB + 1])
    lfc = L * ln2 + _lse(_lbinom(L, h) + 2 * lc)
    lfp = L * ln2 + _lse(_lbinom(L, h) + 2 * lp) if np.any(np.isfinite(lp)) else -math.inf
    lnum = _lse([lta, ltb, lfp])
    lden = _lse([2 * ltc, lfc, lfp])
    if not (math.isfinite(lnum) and math.isfinite(lden)):
        raise _not_positive()
    terms = {"log_trace_c": ltc, "log_trace_ra2": lta, "log_trace_rb2": ltb, "log_frob_c2": lfc,
             "log_frob_p2": lfp, "log_pp": lfp}
    return _result(lnum, lden, 1 << LA, 1 << LB, "hamming", terms)


# ---------------------------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------------------------

@dispatch("entanglement.wick_purity")
def wick_purity(kernel1: GPKernel, kernel2: Any = "same", *, n_sites: int, subsystem, method: str = "auto",
                spin_values: tuple[float, float] = (-1.0, 1.0), compress: bool = True,
                backend: str = "auto") -> WickResult:
    """Wick/GP estimate of E Tr ρ_A² for ψ = f1 + i f2 on ``n_sites`` spins (see the module docstring).

    ``kernel2``: ``"same"`` (f2 has f1's kernel: P = 0), ``None`` (real ψ: P = C) or a :class:`GPKernel`.
    ``method``: ``"auto"`` (:func:`_auto_method`: ``"hamming"`` on symmetric spin values (−s, s) — every built-in
    kernel on the default ±1 basis; else factorized for product kernels, else hamming for isotropic kernels, else
    partial_trace), ``"hamming"``,
    ``"factorized"``, ``"partial_trace"``, ``"brute"``, ``"matrix"``.
    ``backend``: ``"cuda"`` runs ``method="partial_trace"`` with ``compress=False`` as the on-the-fly GPU sweep
    (the other methods are already cheap on the CPU and run there).
    """
    k2, _ = _kernel2(kernel1, kernel2)
    methods = ("auto", "hamming", "factorized", "partial_trace", "brute", "matrix")
    if method not in methods:
        raise InvalidInputError(f"method must be one of {methods}, got {method!r}")
    if method == "auto":
        method = _auto_method(kernel1, k2, spin_values)
    if method == "hamming":
        return wick_purity_hamming(kernel1, kernel2, n_sites=n_sites, subsystem=subsystem, spin_values=spin_values)
    if method == "factorized":
        return wick_purity_factorized(kernel1, kernel2, n_sites=n_sites, subsystem=subsystem,
                                      spin_values=spin_values)
    if method == "partial_trace":
        return wick_purity_partial_trace(kernel1, kernel2, n_sites=n_sites, subsystem=subsystem,
                                         spin_values=spin_values, compress=compress)
    if method == "brute":
        return wick_purity_brute(kernel1, kernel2, n_sites=n_sites, subsystem=subsystem, spin_values=spin_values)
    k2m = "same" if (isinstance(kernel2, str) and kernel2 == "same") else (None if kernel2 is None else kernel2)
    return wick_purity_from_matrices(kernel1, k2m, n_sites=n_sites, subsystem=subsystem, spin_values=spin_values)
