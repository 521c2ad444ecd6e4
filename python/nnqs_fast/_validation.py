"""Input validation shared by the public API: shapes, dtypes, finiteness, sizes.

The Python layer validates and converts; the compiled layer only computes. Every check raises a named error
from :mod:`nnqs_fast.errors` whose message names the argument.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import warnings
from typing import Any

import numpy as np

from ._backend import max_useful_threads
from .errors import (
    DTypeError,
    InvalidInputError,
    MemoryLimitError,
    NonFiniteError,
    PrecisionLossWarning,
    ResourceLimitWarning,
    ShapeMismatchError,
)

_FALLBACK_MAX_BYTES = 8 * 1024**3
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1024, "m": 1e6, "mb": 1e6, "mib": 1024**2, "g": 1e9,
          "gb": 1e9, "gib": 1024**3, "t": 1e12, "tb": 1e12, "tib": 1024**4}


def parse_byte_size(text: str | None, name: str = "NNQS_FAST_MAX_BYTES", allow_zero: bool = False) -> int | None:
    """Parse a byte count written the way people write it: ``8589934592``, ``1e9``, ``8GiB``, ``500 MB``.

    Returns ``None`` for empty text and raises :class:`InvalidInputError` (naming the setting ``name``) for anything
    else it cannot read, and for 0 unless ``allow_zero``.
    """
    if text is None or not str(text).strip():
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    if m is None or m.group(2).lower() not in _UNITS:
        raise InvalidInputError(f"{name}={text!r} is not a byte count; write e.g. 8589934592, 1e9 or 8GiB")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "a non-negative" if allow_zero else "a positive"
        raise InvalidInputError(f"{name}={text!r} must be {kind}, finite byte count")
    return int(value)


def _max_bytes_at_import() -> int:
    try:
        return parse_byte_size(os.environ.get("NNQS_FAST_MAX_BYTES")) or _FALLBACK_MAX_BYTES
    except InvalidInputError:  # reported when a memory check uses it (max_bytes()), never at import
        return _FALLBACK_MAX_BYTES


#: Default memory budget (bytes) for a single array the package allocates; override with NNQS_FAST_MAX_BYTES
#: (a plain integer, ``1e9`` or ``8GiB``). An unreadable value does not break ``import nnqs_fast``; the first
#: memory check then raises an InvalidInputError naming it.
DEFAULT_MAX_BYTES = _max_bytes_at_import()


def max_bytes() -> int:
    """The memory budget :data:`DEFAULT_MAX_BYTES` (NNQS_FAST_MAX_BYTES read at import, default 8 GiB); an
    unreadable NNQS_FAST_MAX_BYTES raises :class:`InvalidInputError` here, where it is used."""
    parse_byte_size(os.environ.get("NNQS_FAST_MAX_BYTES"))
    return DEFAULT_MAX_BYTES


def as_array(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, dtype: Any = None,
             allow_complex: bool = True, finite: bool = True) -> np.ndarray:
    """Convert ``x`` (anything exposing ``__array__`` or DLPack) to a NumPy array and check it.

    ``dtype`` (if given) is the target floating dtype; real input is upcast, complex input kept complex when
    ``allow_complex``. Integer/bool input is converted to float64.
    """
    if x is None:
        raise InvalidInputError(f"{name} is required but got None")
    if not isinstance(x, np.ndarray):
        if hasattr(x, "__array__"):
            x = np.asarray(x)
        elif hasattr(x, "__dlpack__"):
            x = np.from_dlpack(x)
        else:
            try:
                x = np.asarray(x)
            except Exception as exc:  # pragma: no cover - defensive
                raise DTypeError(f"{name} could not be converted to an array: {exc}") from exc
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise DTypeError(f"{name} must be a numeric array, got dtype {x.dtype}")
    if np.iscomplexobj(x) and not allow_complex:
        raise DTypeError(f"{name} must be real, got complex dtype {x.dtype}; pass the real part explicitly")
    if not np.issubdtype(x.dtype, np.inexact):
        x = x.astype(np.float64)
    if dtype is not None:
        target = np.dtype(dtype)
        if np.iscomplexobj(x):
            target = np.result_type(target, np.complex64)
        if x.dtype != target:
            x = x.astype(target)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            raise ShapeMismatchError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                                     f"got shape {x.shape}")
    if finite and not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise NonFiniteError(f"{name} contains {bad} non-finite value(s) (NaN or inf); clean the input first")
    return x


def check_positive_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int, requiring ``minimum <= value (<= maximum)``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {value}")
    v = int(value)
    if maximum is not None and v > maximum:
        raise InvalidInputError(f"{name} must be <= {maximum}, got {_short_int(v)}")
    return v


def _short_int(v: Any) -> str:
    """An int for a message, without tripping Python's int-to-str digit limit."""
    try:
        s = str(int(v))
    except ValueError:
        return f"~2**{int(v).bit_length()}"
    return s if len(s) <= 30 else f"~{s[0]}.{s[1:4]}e{len(s) - 1}"


def check_finite_scalar(value: Any, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Return ``value`` as a finite float (optionally > 0 or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise NonFiniteError(f"{name} must be finite, got {v}")
    if positive and v <= 0:
        raise InvalidInputError(f"{name} must be > 0, got {v}")
    if nonnegative and v < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {v}")
    return v


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices`` (case-insensitive), else raise with the valid options."""
    if not isinstance(value, str) or value.lower() not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value.lower()


def check_memory(n_bytes: float, what: str, *, limit: float | None = None) -> None:
    """Refuse allocations larger than ``limit`` (default :data:`DEFAULT_MAX_BYTES`) with an actionable error."""
    limit = max_bytes() if limit is None else limit
    if not n_bytes <= limit:  # also refuses NaN estimates
        raise MemoryLimitError(n_bytes, what, limit)


def check_chunk_size(chunk_size: Any, name: str = "chunk_size") -> int | None:
    """``None`` (automatic) or a positive int."""
    if chunk_size is None:
        return None
    return check_positive_int(chunk_size, name)


# ------------------------------------------------------------------------------------------- boundary helpers
#: Largest int the C++ core takes for a size or count (its index arithmetic uses 64-bit signed integers and is
#: protected from overflow by the memory checks below; sizes are also passed as C ``int`` in places).
MAX_INT32 = 2**31 - 1


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed for :func:`numpy.random.default_rng`: a non-negative integer."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidInputError(f"{name} must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_threads(value: Any, name: str = "threads") -> int:
    """An OpenMP thread count: 0 (the core's default) or a positive int, clamped to the machine's cores.

    More threads than cores never helps; a huge count would make the OpenMP runtime allocate one stack per thread
    (``threads = 100000`` crashed the process), so larger values are reduced with a
    :class:`~nnqs_fast.errors.ResourceLimitWarning`.
    """
    v = check_positive_int(value, name, minimum=0)
    cap = max_useful_threads()
    if v > cap:
        warnings.warn(f"{name}={_short_int(v)} is more than the {cap} usable on this machine; using {cap}",
                      ResourceLimitWarning, stacklevel=3)
        v = cap
    return v


def check_nbytes(shape: tuple[Any, ...], itemsize: int, what: str) -> int:
    """Exact (Python-int, overflow-free) byte count of an array of ``shape``; refused above the memory budget."""
    n = 1
    for s in shape:
        n *= int(s)
    n_bytes = n * int(itemsize)
    check_memory(float(n_bytes) if n_bytes < 2**1000 else math.inf, what)
    return n_bytes


def check_tolerance(value: Any, name: str = "atol") -> float:
    """A non-negative tolerance; ``inf`` deliberately switches the check off, NaN is refused (it used to switch the
    check off silently: ``atol=nan`` let an unnormalised state through)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise NonFiniteError(f"{name} is NaN; give a tolerance >= 0 (or inf to skip the check on purpose)")
    if v < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {v}")
    return v


def check_real_scalar(value: Any, name: str) -> float:
    """A real number (bool and complex refused) converted to float, finite."""
    if isinstance(value, (complex, np.complexfloating)) and not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{name} must be real, got {value!r}")
    return check_finite_scalar(value, name)


def check_index_array(idx: Any, name: str, *, size: int | None = None) -> np.ndarray:
    """Integer indices (int64). Float input is accepted only when every value is integral (no silent truncation);
    negative indices and indices ``>= size`` are refused."""
    if idx is None:
        raise InvalidInputError(f"{name} is required but got None")
    a = np.asarray(idx)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise DTypeError(f"{name} must be integer indices, got dtype {a.dtype}")
    if a.dtype == np.bool_ or np.iscomplexobj(a):
        raise DTypeError(f"{name} must be integer indices, got dtype {a.dtype}")
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise InvalidInputError(f"{name} must hold integers; got non-integral values such as "
                                    f"{a[a != np.round(a)].ravel()[:3] if np.all(np.isfinite(a)) else 'NaN/inf'}")
        if a.size and np.max(np.abs(a)) >= 2**63:
            raise InvalidInputError(f"{name} holds values too large for an index")
        a = a.astype(np.int64)
    elif a.dtype == np.uint64 and a.size and int(a.max()) >= 2**63:
        raise InvalidInputError(f"{name} holds values >= 2**63 that do not fit a signed 64-bit index")
    a = a.astype(np.int64, copy=False)
    if a.size and int(a.min()) < 0:
        raise InvalidInputError(f"{name} must be non-negative, got {int(a.min())}")
    if size is not None and a.size and int(a.max()) >= size:
        raise InvalidInputError(f"{name} holds index {int(a.max())}, out of range for size {size}")
    return a


def check_hermitian(k: np.ndarray, name: str, *, rtol: float = 1e-8) -> None:
    """Refuse a matrix that is not square and symmetric/Hermitian (to ``rtol`` of its largest entry). One blocked
    pass (:func:`nnqs_fast.dynamics._structure.max_asymmetry`: cache-sized temporaries, no ``n²`` transposed
    copy)."""
    from .dynamics._structure import max_asymmetry

    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ShapeMismatchError(f"{name} must be a square matrix, got shape {k.shape}")
    asym, scale = max_asymmetry(k) if k.size else (0.0, 0.0)
    if asym > rtol * max(scale, np.finfo(float).tiny):
        raise InvalidInputError(f"{name} is not symmetric/Hermitian (max |K - K^H| = {asym:.3g}, largest entry "
                                f"{scale:.3g}); symmetrise it ((K + K^H)/2) if the asymmetry is round-off")


#: smallest size at which :func:`check_psd` certifies a real matrix by a Cholesky factor instead of ``eigvalsh``
PSD_CHOLESKY_MIN_N = 256


def check_psd(k: np.ndarray, name: str, *, rtol: float = 1e-8, check_symmetric: bool = True,
              factor: bool = False) -> tuple[np.ndarray, float] | None:
    """Refuse a Hermitian matrix with an eigenvalue below ``-tol = -rtol · n · λ_max`` (not positive semi-definite).

    Real ``K`` with ``n >= PSD_CHOLESKY_MIN_N`` rows: ``λ_min > −tol`` is certified by a Cholesky factor of
    ``K + tol·1`` (:func:`nnqs_fast._linalg.shifted_cholesky`, n³/3 flops; λ_max by Lanczos) instead of a full
    ``eigvalsh``; a failed factor is decided by ``eigvalsh`` (up to ``_linalg.BLOCKED_CHOLESKY_MIN_N`` rows; above,
    it is refused: a full eigensolve there costs as much as what it guards, and a 2-thread one is not verified safe
    with OpenBLAS 0.3.31 at n ≈ 16 000). Smaller or complex matrices: ``eigvalsh``.

    ``check_symmetric=False``: the caller has checked the symmetry (:func:`check_hermitian`) already.
    ``factor=True`` (real ``K``) returns the certificate ``(L, s)`` for reuse: the lower Cholesky factor of
    ``K + s·1`` (``L Lᵀ = K + s·1``; layout as :func:`nnqs_fast._linalg.shifted_cholesky`). The unshifted factor
    (``s = 0``: a kernel of distinct points is positive definite) is tried first at every size and certifies
    without λ_max or ``eigvalsh``; after an ``eigvalsh`` decision ``K + s·1`` is factored with ``s = 2 tol``
    (positive definite: ``λ_min(K) ≥ −tol``).
    Returns None without ``factor`` (and for complex ``K``).
    """
    from ._linalg import BLOCKED_CHOLESKY_MIN_N, shifted_cholesky
    from .errors import KernelNotPositiveDefiniteError
    from .kernels.spectrum import lambda_max

    if check_symmetric:
        check_hermitian(k, name)
    n = k.shape[0] if k.ndim == 2 else 0
    if not k.size:
        return (np.zeros((0, 0), order="F"), 0.0) if factor and not np.iscomplexobj(k) else None
    real = not np.iscomplexobj(k)
    factor = factor and real
    if factor:  # positive definite (the usual kernel): the unshifted factor is the certificate, no λ_max needed
        L = shifted_cholesky(k, 0.0, dtype=np.float64)
        if L is not None:
            return L, 0.0
    if real and (n >= PSD_CHOLESKY_MIN_N or n > BLOCKED_CHOLESKY_MIN_N):
        hi = lambda_max(k, check_symmetric=False)
        tol = rtol * max(abs(hi), np.finfo(float).tiny) * n
        L = shifted_cholesky(k, tol, dtype=np.float64)
        if L is not None:   # λ_min > −tol certified by a factor of K + tol·1
            return (L, tol) if factor else None
        if n > BLOCKED_CHOLESKY_MIN_N:
            raise KernelNotPositiveDefiniteError(
                f"{name} is not positive semi-definite: an eigenvalue below -{tol:.3g} (largest {hi:.3g}); a "
                "kernel/covariance matrix must be PSD — check how it was built")
    lam = np.linalg.eigvalsh(k)  # small, complex, or the Cholesky test failed: decide exactly
    scale = max(float(np.max(np.abs(lam))), np.finfo(float).tiny)
    tol = rtol * scale * max(1, n)
    if lam[0] < -tol:
        raise KernelNotPositiveDefiniteError(
            f"{name} is not positive semi-definite: smallest eigenvalue {lam[0]:.3g} (largest {lam[-1]:.3g}); "
            "a kernel/covariance matrix must be PSD — check how it was built")
    if not factor:
        return None
    s = max(2.0 * tol, 100.0 * n * np.finfo(float).eps * scale)   # λ_min(K + s·1) ≥ s/2 > 0: the factor exists
    L = shifted_cholesky(k, s, dtype=np.float64)
    if L is None:  # pragma: no cover - excluded by the eigenvalues above (rounding ≪ s/2)
        raise KernelNotPositiveDefiniteError(f"{name}: K + {s:.3g}·1 has no Cholesky factor although "
                                             f"λ_min(K) = {lam[0]:.3g}; the matrix is too badly scaled")
    return L, s


def check_finite_output(x: Any, where: str) -> Any:
    """Warn (:class:`PrecisionLossWarning`) when a result about to be returned holds NaN/inf; say where."""
    a = np.asarray(x)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        warnings.warn(f"{where}: the result holds {bad} non-finite value(s) (overflow or an ill-conditioned input)",
                      PrecisionLossWarning, stacklevel=3)
    return x


def refuse_complex(x: Any, name: str) -> None:
    """Real networks take real inputs: refuse a complex array instead of dropping its imaginary part."""
    if np.iscomplexobj(x):
        raise DTypeError(f"{name} is complex but this network takes real inputs; pass x.real (or the encoding) "
                         "explicitly")


#: Default cost budget (floating-point operations) of one call before :class:`CostLimitError`: tens of minutes
#: on a laptop. Override with NNQS_FAST_MAX_FLOPS.
DEFAULT_MAX_FLOPS = 1e12


def check_cost(flops: float, what: str) -> None:
    """Refuse a computation whose estimated cost exceeds NNQS_FAST_MAX_FLOPS (default 1e12 operations)."""
    from .errors import CostLimitError

    try:
        limit = float(parse_byte_size(os.environ.get("NNQS_FAST_MAX_FLOPS")) or DEFAULT_MAX_FLOPS)
    except InvalidInputError:
        limit = DEFAULT_MAX_FLOPS
    if not flops <= limit:
        raise CostLimitError(f"{what} would take about {flops:.3g} floating-point operations (hours or more; the "
                             f"limit is {limit:.3g}); reduce the problem size, or raise NNQS_FAST_MAX_FLOPS")


def check_network_params(params: Any, name: str = "params", *, allow_complex: bool = False) -> None:
    """A network's parameter arrays must be floating (integer weights are refused, not silently used), real unless
    the network is complex, and finite (a NaN weight would flow silently through every output)."""
    fields = getattr(params, "__dataclass_fields__", None) or getattr(params, "_fields", None)
    if fields is None:
        raise InvalidInputError(f"{name} must be a network parameter object (from an init_* function), got "
                                f"{type(params).__name__}")
    for f in fields:
        val = getattr(params, f, None)
        arrays = val if isinstance(val, tuple) else (val,)
        for i, a in enumerate(arrays):
            if not isinstance(a, np.ndarray):
                if isinstance(a, numbers.Real) and not isinstance(a, (bool, np.bool_)) and not math.isfinite(float(a)):
                    raise NonFiniteError(f"{name}.{f} is {a}; parameters must be finite")
                continue
            where = f"{name}.{f}" + (f"[{i}]" if isinstance(val, tuple) else "")
            if a.dtype.kind not in "fc":
                raise DTypeError(f"{where} has dtype {a.dtype}; network parameters must be floating point "
                                 "(initialise with an init_* function or cast with .astype(float))")
            if a.dtype.kind == "c" and not allow_complex:
                raise DTypeError(f"{where} is complex but this network is real; pass real parameters")
            if not np.all(np.isfinite(a)):
                raise NonFiniteError(f"{where} holds NaN or inf; the network's outputs would be meaningless")


def check_float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """``float32`` or ``float64`` (what the networks and kernels compute in)."""
    try:
        dt = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        dt = None
    if dt is None or dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"{name} must be float32 or float64, got {dtype!r}")
    return dt


#: largest standard deviation / scale the kernels accept: its square must stay finite with room to spare
MAX_SCALE = 1e100


def check_scale(value: Any, name: str, *, positive: bool = False, nonnegative: bool = True) -> float:
    """A standard deviation, amplitude or inverse length: finite, >= 0 (or > 0), and at most :data:`MAX_SCALE`
    (``sigma_w = 1e200`` overflowed ``sigma_w**2`` with a bare OverflowError)."""
    v = check_finite_scalar(value, name, positive=positive, nonnegative=nonnegative)
    if abs(v) > MAX_SCALE:
        raise InvalidInputError(f"{name} = {v:.3g} is too large (its square overflows); use a value <= {MAX_SCALE:g}")
    return v
