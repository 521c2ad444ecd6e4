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
    "AmbiguousJacobianLayoutError", "NotHolomorphicError", "ZeroAmplitudeError", "BasisMismatchError",
    "OptionalDependencyError",
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


# --- interop (nnqs_fast.interop, nnqs_fast.netket; docs/interop.md) ---
class AmbiguousJacobianLayoutError(InvalidInputError):
    """A Jacobian's layout cannot be read unambiguously (a 3-d array, a pytree, or a holomorphic-mode Jacobian).

    ``qsntk_from_jacobians`` needs ``d psi / d theta`` over REAL parameters. Fix: pass ``layout=`` ("n2p" for
    NetKet's ``(n, 2, P)`` real/imaginary layout, "pytree" / "pytree_n2p" for pytrees of per-leaf Jacobians,
    "holomorphic" for complex derivatives of a holomorphic model).
    """


class NotHolomorphicError(InvalidInputError):
    """``holomorphic=True`` was given for a function that fails the Cauchy-Riemann probe
    ``d psi[theta + t i v] = i d psi[theta + t v]``. Fix: pass ``holomorphic=False`` (always correct)."""


class ZeroAmplitudeError(InvalidInputError):
    """``output="log_psi"`` and ``psi = exp(log psi)`` vanishes (``log psi = -inf``) or is not finite on some input:
    ``d psi = psi d log psi`` is then undefined. Fix: drop those inputs or use a model that outputs ``psi``."""


class BasisMismatchError(ShapeMismatchError):
    """A model, target or operator does not match the basis it is used with (number of states, sites, or the
    Hilbert space's kind). The message names both sizes; fix the lattice, Hilbert space or inputs."""


class OptionalDependencyError(NnqsError, ImportError):
    """An optional library (NetKet, JAX, flax, optax, PyTorch) is needed but not installed. Fix: install the
    extra the message names, e.g. ``pip install "nnqs_fast[netket]"`` or ``"nnqs_fast[torch]"``."""
