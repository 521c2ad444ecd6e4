"""Named exceptions of nnqs_fast.

Every error raised for bad user input is a subclass of :class:`NnqsError` and says what was wrong and what to
do about it. Input errors also subclass :class:`ValueError` (or :class:`TypeError`/:class:`MemoryError`) so
generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "NnqsError",
    "InvalidInputError",
    "ShapeMismatchError",
    "DTypeError",
    "NonFiniteError",
    "MemoryLimitError",
    "KernelNotPositiveDefiniteError",
    "LearningRateTooLargeError",
    "BackendUnavailableError",
    "PrecisionLossError",
    "PrecisionLossWarning",
    "ResourceLimitWarning",
    "CostLimitError",
    "InputFileError",
    "OutputPathError",
]


class NnqsError(Exception):
    """Base class of every nnqs_fast error."""


class InvalidInputError(NnqsError, ValueError):
    """An argument has an invalid value (non-positive size, unknown name, more fermions than sites, ...)."""


class ShapeMismatchError(InvalidInputError):
    """Array shapes are inconsistent with each other or with what the function expects."""


class DTypeError(NnqsError, TypeError):
    """An array has a dtype the function cannot use (e.g. complex where real is required)."""


class NonFiniteError(InvalidInputError):
    """An input contains NaN or infinity."""


class MemoryLimitError(NnqsError, MemoryError):
    """The requested computation would not fit in memory; the message gives the estimate and the limit."""


class KernelNotPositiveDefiniteError(NnqsError, ValueError):
    """A kernel matrix that must be positive definite is not (within tolerance).

    The message reports the smallest eigenvalue and suggests a ``diag_reg`` that would fix it.
    """


class LearningRateTooLargeError(NnqsError, ValueError):
    """The learning rate exceeds the maximal stable rate for gradient descent on the stated loss."""


class BackendUnavailableError(NnqsError, RuntimeError):
    """A requested backend (e.g. ``backend='cuda'``) cannot be used here; the message says why."""


class PrecisionLossError(NnqsError, ArithmeticError):
    """A computation lost so much precision that its result would be meaningless (instead of silent NaN)."""


class PrecisionLossWarning(UserWarning):
    """A computation lost some precision; the result is returned but should be treated with care."""


class ResourceLimitWarning(UserWarning):
    """A requested resource (e.g. an OpenMP thread count far above the machine's cores) was reduced to a usable
    value; the result is unaffected. Ask for fewer threads to silence it."""


class CostLimitError(NnqsError, ValueError):
    """The requested computation would run for hours (the message gives the estimate); reduce the problem size or
    raise the limit with the NNQS_FAST_MAX_FLOPS environment variable if you really mean it."""


class InputFileError(InvalidInputError):
    """An input file is missing, unreadable, truncated or corrupt, or does not hold the expected array; the
    message names the file and what was expected."""


class OutputPathError(InvalidInputError):
    """An output location (``--out``) cannot be used: it is an existing file, lies under a file, or is not
    writable. Checked before any work starts; choose another directory."""
