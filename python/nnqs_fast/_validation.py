"""Input validation shared by the public API: shapes, dtypes, finiteness, sizes.

The Python layer validates and converts; the compiled layer only computes. Every check raises a named error
from :mod:`nnqs_fast.errors` whose message names the argument.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np

from .errors import DTypeError, InvalidInputError, MemoryLimitError, NonFiniteError, ShapeMismatchError

#: Default memory budget (bytes) for a single array the package allocates; override with NNQS_FAST_MAX_BYTES.
DEFAULT_MAX_BYTES = int(os.environ.get("NNQS_FAST_MAX_BYTES", 8 * 1024**3))


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


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, requiring ``value >= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


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
    limit = DEFAULT_MAX_BYTES if limit is None else limit
    if n_bytes > limit:
        raise MemoryLimitError(n_bytes, what, limit)


def check_chunk_size(chunk_size: Any, name: str = "chunk_size") -> int | None:
    """``None`` (automatic) or a positive int."""
    if chunk_size is None:
        return None
    return check_positive_int(chunk_size, name)
