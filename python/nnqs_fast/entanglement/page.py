"""Page and Haar values for a bipartition of Hilbert-space dimensions ``m × n`` (paper Eq. S40, refs. [72]).

For Haar-random pure states in ``C^m ⊗ C^n`` (which is what the normalised ``σ_w → ∞`` NNQS ensemble of Eq. 4
gives: i.i.d. complex Gaussian amplitudes):

* exact Page average (Page 1993; Foong–Kanno, Sánchez-Ruiz, Sen 1994–96), with ``m ≤ n``::

      E S = Σ_{k=n+1}^{mn} 1/k − (m − 1)/(2n) = ψ(mn + 1) − ψ(n + 1) − (m − 1)/(2n)

  (``ψ`` the digamma function, used when ``m·n`` is large);
* the paper's approximation Eq. S40 (``n ≫ 1``): ``S ≈ log m − (m² − 1)/(2 m n)``;
* the maximum ``log min(m, n)``;
* the exact Haar purity ``E Tr ρ_A² = (m + n)/(mn + 1)``.

The functions are symmetric in ``(m, n)`` (the spectra of ``ρ_A`` and ``ρ_B`` agree). ``base=`` changes the
logarithm's base (default natural log).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np
from scipy.special import digamma

from .._validation import check_index_array, check_positive_int
from ..errors import InvalidInputError
from .entropy import _log_base

__all__ = ["page_entropy", "page_entropy_approx", "max_entropy", "haar_purity", "page_entropy_sites"]

_DIRECT_SUM_LIMIT = 1 << 16


def _dims(m, n) -> tuple[int, int]:
    for v, name in ((m, "m"), (n, "n")):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise InvalidInputError(f"{name} (a Hilbert-space dimension) must be an integer >= 1, got {v!r}")
    m, n = int(m), int(n)
    return (m, n) if m <= n else (n, m)


def _digamma_plus1(N: int) -> float:
    """ψ(N + 1) for an integer N >= 1 (asymptotic log N + 1/(2N) − 1/(12N²) beyond 1e12: exact to rounding;
    Python ints keep ``log`` finite for any size, e.g. N = 2**1000)."""
    if N < 10**12:
        return float(digamma(N + 1.0))
    x = float(N) if N < 2**1000 else math.inf
    return math.log(N) + (0.5 / x - 1.0 / (12.0 * x * x) if math.isfinite(x) else 0.0)


def page_entropy(m: int, n: int, *, base: float | None = None) -> float:
    """Exact Haar average of the von Neumann entropy of the smaller factor: ``Σ_{k=n+1}^{mn} 1/k − (m−1)/(2n)``.

    Summed exactly (``math.fsum``) when ``m·n ≤ 65536``, else via the digamma identity.
    """
    m, n = _dims(m, n)
    if m * n <= _DIRECT_SUM_LIMIT:
        h = math.fsum(1.0 / k for k in range(n + 1, m * n + 1))
    else:
        h = _digamma_plus1(m * n) - _digamma_plus1(n)
    return (h - float(Fraction(m - 1, 2 * n))) / _log_base(base)  # exact: (m - 1) / (2.0 n) overflowed


def page_entropy_approx(m: int, n: int, *, base: float | None = None) -> float:
    """The paper's Eq. S40: ``log m − (m² − 1)/(2 m n)`` (``m ≤ n``, valid for ``n ≫ 1``)."""
    m, n = _dims(m, n)
    # exact rational correction: (m*m - 1.0) overflowed float for m ~ 1e200
    return (math.log(m) - float(Fraction(m * m - 1, 2 * m * n))) / _log_base(base)


def max_entropy(m: int, n: int | None = None, *, base: float | None = None) -> float:
    """Maximum entanglement entropy ``log min(m, n)`` (``log m`` when ``n`` is omitted)."""
    if n is None:
        m, _ = _dims(m, m)
        return math.log(m) / _log_base(base)
    m, n = _dims(m, n)
    return math.log(m) / _log_base(base)


def haar_purity(m: int, n: int) -> float:
    """Exact Haar average ``E Tr ρ_A² = (m + n)/(mn + 1)``."""
    m, n = _dims(m, n)
    return float(Fraction(m + n, m * n + 1))  # exact ints: (m + n) / (m n + 1.0) overflowed for m, n ~ 1e200


#: largest Hilbert space (in bits, L log2 q) of page_entropy_sites: exact big-int arithmetic stays fast below it
_MAX_BITS = 2**20


def page_entropy_sites(n_sites: int, subsystem_size: int | np.ndarray, *, local_dim: int = 2,
                       base: float | None = None) -> float | np.ndarray:
    """``page_entropy(q**k, q**(L−k))`` for ``k`` sites out of ``L`` (vectorised over ``subsystem_size``)."""
    n_sites = check_positive_int(n_sites, "n_sites")
    local_dim = check_positive_int(local_dim, "local_dim", minimum=2)
    if n_sites * math.log2(local_dim) > _MAX_BITS:
        raise InvalidInputError(f"{n_sites} sites of local dimension {local_dim} make a Hilbert space of more than "
                                f"2**{_MAX_BITS} states; the exact Page value is not computed for such sizes")
    ks = np.atleast_1d(check_index_array(subsystem_size, "subsystem_size"))
    out = []
    for k in ks:
        k = int(k)
        if not 0 <= k <= n_sites:
            raise InvalidInputError(f"subsystem size {k} out of range 0..{n_sites}")
        out.append(page_entropy(local_dim ** k, local_dim ** (n_sites - k), base=base))
    return out[0] if np.ndim(subsystem_size) == 0 else np.asarray(out)
