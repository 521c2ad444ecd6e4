"""Named exceptions of nnqs_fast.

Every error raised for bad user input is a subclass of :class:`NnqsError` and says what was wrong and what to
do about it. Input errors also subclass :class:`ValueError` (or :class:`TypeError`/:class:`MemoryError`) so
generic handlers keep working. Errors that carry data build their own message from it (one home per message,
as NetKet does): e.g. ``LearningRateTooLargeError(lr, eta_max, n)``; the data stay available as attributes.
Every class still accepts a single prepared message string.
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
    "SpecError",
    "UnsupportedLossError",
    "ResourceLimitWarning",
    "ConvergenceWarning",
    "CostLimitError",
    "InputFileError",
    "OutputPathError",
    "AmbiguousJacobianLayoutError", "NotHolomorphicError", "ZeroAmplitudeError", "BasisMismatchError",
    "OptionalDependencyError",
]

#: The loss every learning-rate bound refers to (paper Eq. 13).
_LOSS = "L = (1/n) Σ_x |ψ_T(x) − ψ(x)|²"


class NnqsError(Exception):
    """Base class of every nnqs_fast error.

    Cause: any failure the package detects and names. Fix: read the message; catch this class to handle all of
    them at once.
    """


class InvalidInputError(NnqsError, ValueError):
    """An argument has an invalid value (non-positive size, unknown name, more fermions than sites, ...).

    Cause: a value outside the documented range or set of choices. Fix: pass one of the values the message lists.
    """


class ShapeMismatchError(InvalidInputError):
    """Array shapes are inconsistent with each other or with what the function expects.

    Cause: e.g. a kernel with the wrong number of rows, inputs with the wrong number of features. Fix: pass arrays
    of the shapes the message names (it gives both the expected and the received shape).
    """


class DTypeError(NnqsError, TypeError):
    """An array has a dtype the function cannot use (e.g. complex where real is required).

    Cause: the array's dtype. Fix: convert it (e.g. take the real part, or cast to float64) before the call.
    """


class NonFiniteError(InvalidInputError):
    """An input contains NaN or infinity.

    Cause: a NaN/inf in the named argument (often from an earlier overflow). Fix: clean or recompute the input.
    """


class MemoryLimitError(NnqsError, MemoryError):
    """The requested computation would not fit in memory; the message gives the estimate and the limit.

    Cause: an allocation estimated above the limit (``NNQS_FAST_MAX_BYTES``, default a fraction of the RAM).
    Fix: a smaller system or ``chunk_size``, or raise the limit if the machine has the memory.

    ``MemoryLimitError(n_bytes, what, limit)`` builds the message.
    """

    def __init__(self, n_bytes: float | str, what: str | None = None, limit: float | None = None) -> None:
        self.n_bytes = None if isinstance(n_bytes, str) else float(n_bytes)
        self.what, self.limit = what, limit
        if isinstance(n_bytes, str) or what is None or limit is None:
            super().__init__(str(n_bytes))
            return
        super().__init__(
            f"{what} needs about {n_bytes / 1024**3:.2f} GiB, more than the limit of {limit / 1024**3:.2f} GiB; "
            "use a smaller system or chunk_size, or raise the limit with the NNQS_FAST_MAX_BYTES environment "
            "variable if the machine has the memory")


class KernelNotPositiveDefiniteError(NnqsError, ValueError):
    """A kernel matrix that must be positive definite is not (within tolerance).

    Cause: duplicate or nearly duplicate inputs, a kernel that is not train-vs-train, or rounding on a singular
    kernel. Fix: add ``diag_reg`` (the message suggests a value) or remove the duplicate inputs.

    ``KernelNotPositiveDefiniteError(what, lam_min, lam_max, tol, diag_reg)`` builds the message (``why``: what
    is wrong, e.g. ``"indefinite"``; ``hint``: how ``diag_reg`` is applied); see also :meth:`non_finite` and
    :meth:`no_positive_eigenvalue`.
    """

    def __init__(self, what: str, lam_min: float | None = None, lam_max: float | None = None,
                 tol: float | None = None, diag_reg: float | None = None, *, why: str = "not positive definite",
                 hint: str = "K + diag_reg * I", remedy: str = "remove duplicate inputs") -> None:
        self.what, self.lam_min, self.lam_max, self.tol, self.diag_reg = what, lam_min, lam_max, tol, diag_reg
        if lam_min is None or lam_max is None or tol is None or diag_reg is None:
            super().__init__(what)
            return
        super().__init__(
            f"{what} is {why}: smallest eigenvalue {lam_min:.6g} (largest {lam_max:.6g}, tolerance {tol:.3g}); "
            f"add diag_reg >= {diag_reg:.3g} ({hint}), or {remedy}")

    @classmethod
    def non_finite(cls, what: str) -> KernelNotPositiveDefiniteError:
        """The eigensolver returned NaN/inf for ``what`` (a NaN/inf in the kernel)."""
        err = cls(f"{what} has non-finite eigenvalues; check the kernel")
        err.what = what
        return err

    @classmethod
    def no_positive_eigenvalue(cls, what: str, lam_max: float) -> KernelNotPositiveDefiniteError:
        """``λ_max <= 0``: no learning rate is bounded by ``n/λ_max``."""
        err = cls(f"{what}'s largest eigenvalue is {lam_max:.3g} <= 0: no learning rate is stable-bounded; "
                  "check that the kernel is train-vs-train (a Gram matrix of the training inputs)")
        err.what, err.lam_max = what, lam_max
        return err


class LearningRateTooLargeError(NnqsError, ValueError):
    """The learning rate exceeds the maximal stable rate for gradient descent on the stated loss.

    Cause: ``η > η_max = n / λ_max(Θ)`` for the loss of Eq. 13 (discrete gradient descent then diverges). Fix: use
    at most ``η_max`` (the paper uses ``0.9 η_max``), or the alternative the message names.

    ``LearningRateTooLargeError(learning_rate, eta_max, n)`` builds the message (``lambda_max``: shown when given;
    ``alternative``: the other way out, e.g. ``"pass force=True"``).
    """

    def __init__(self, learning_rate: float | str, eta_max: float | None = None, n: int | None = None, *,
                 lambda_max: float | None = None, alternative: str | None = None) -> None:
        self.learning_rate = None if isinstance(learning_rate, str) else float(learning_rate)
        self.eta_max, self.n, self.lambda_max = eta_max, n, lambda_max
        if isinstance(learning_rate, str) or eta_max is None:
            super().__init__(str(learning_rate))
            return
        where = f"n = {n}" if n is not None else "n the number of training points"
        if lambda_max is not None:
            where += f", λ_max = {lambda_max:.6g}"
        tail = f" or {alternative}" if alternative else ""
        super().__init__(
            f"learning rate {learning_rate:.6g} exceeds the maximal stable rate {eta_max:.6g} = n/λ_max ({where}) "
            f"for gradient descent on {_LOSS}; gradient descent would diverge. Use at most {eta_max:.6g} (the "
            f"paper uses 0.9 × that = {0.9 * eta_max:.6g}){tail}")


class BackendUnavailableError(NnqsError, RuntimeError):
    """A requested backend (e.g. ``backend='cuda'``) cannot be used here; the message says why.

    Cause: no CUDA build, no device, no CuPy, or no CUDA implementation of the function. Fix: ``backend='cpu'``
    (or ``'auto'``), or install the missing piece the message names (``pip install .[gpu]``, a CUDA build).
    """


class PrecisionLossError(NnqsError, ArithmeticError):
    """A computation lost so much precision that its result would be meaningless (instead of silent NaN).

    Cause: cancellation or overflow in the named quantity. Fix: the message names a better-conditioned option
    (e.g. a log-space path, float64, a smaller system).
    """


class PrecisionLossWarning(UserWarning):
    """A computation lost some precision; the result is returned but should be treated with care.

    Cause: e.g. a training member whose loss became non-finite. Fix: a smaller learning rate, or float64.
    :meth:`member_diverged` builds the trainers' message.
    """

    @classmethod
    def member_diverged(cls, member: int, part: int, step: int, learning_rate: float,
                        eta_max: float) -> PrecisionLossWarning:
        """Member ``member``'s real part ``part`` (1: Re ψ, 2: Im ψ) diverged at ``step``."""
        return cls(f"member {member} part {part}: the loss became non-finite at step {step} (learning rate "
                   f"{learning_rate:.6g}, maximal stable {eta_max:.6g}); its later losses are NaN")


class SpecError(InvalidInputError):
    """A sweep SPEC (TOML grid for ``nnqs-fast sweep``) is invalid.

    Cause: an unknown key, a wrong type, an empty grid list or range, a train size outside the basis. Fix: the
    message names the key; correct the SPEC file (see examples/sweep_fig3_4x4.toml and docs/scale.md).
    """


class UnsupportedLossError(NnqsError, ValueError):
    """A loss was given to an engine that cannot train on it.

    Cause: the CUDA gradient-descent step implements only the supervised loss of Eq. 13. Fix: use
    ``backend="cpu"`` for the energy, fidelity and tomography losses (``train_loss_ensemble``), or
    :func:`nnqs_fast.training.train_ensemble` for the supervised loss on the GPU.
    """


# --- interop (nnqs_fast.interop, nnqs_fast.netket; docs/interop.md) ---
class AmbiguousJacobianLayoutError(InvalidInputError):
    """A Jacobian's layout cannot be read unambiguously.

    Cause: ``qsntk_from_jacobians`` got a 3-d array or a pytree without ``layout=``; it needs ``d psi / d theta``
    over REAL parameters. Fix: pass ``layout=`` ("n2p" for NetKet's ``(n, 2, P)`` real/imaginary layout,
    "holomorphic" for complex derivatives of a holomorphic model, "pytree" / "pytree_n2p" / "pytree_holomorphic").
    """


class NotHolomorphicError(InvalidInputError):
    """``holomorphic=True`` for a model that is not holomorphic in its parameters.

    Cause: the Cauchy-Riemann probe ``d psi[theta + t i v] = i d psi[theta + t v]`` failed. Fix: pass
    ``holomorphic=False`` (always correct).
    """


class ZeroAmplitudeError(InvalidInputError):
    """``psi = exp(log psi)`` vanishes or is not finite on some input of a ``log_psi`` model.

    Cause: ``d psi = psi d log psi`` is undefined where ``log psi = -inf``. Fix: drop those inputs, or use a model
    that outputs ``psi``.
    """


class BasisMismatchError(ShapeMismatchError):
    """A model, target or operator does not match the basis it is used with.

    Cause: another number of states or sites, another particle sector, or another kind of Hilbert space. Fix: the
    message names both sizes; use the matching lattice, Hilbert space or inputs.
    """


class OptionalDependencyError(NnqsError, ImportError):
    """An optional library (NetKet, JAX, flax, optax, PyTorch) is needed but not installed.

    Cause: a module of ``nnqs_fast.interop`` / ``nnqs_fast.netket`` was imported without its library. Fix: install
    the extra the message names, e.g. ``pip install "nnqs_fast[netket]"`` or ``"nnqs_fast[torch]"``.
    """


class ResourceLimitWarning(UserWarning):
    """A requested resource was reduced to a usable value; the result is unaffected.

    Cause: e.g. an OpenMP thread count (``step.threads``, ``OMP_NUM_THREADS``) far above the machine's cores.
    Fix: ask for at most the number of cores.
    """


class ConvergenceWarning(UserWarning):
    """An iterative method did not reach its tolerance within its iteration cap; the result was computed by the
    fallback the message names (so it is still accurate, only slower).

    Cause: e.g. the Krylov evaluation of the prediction at many times (``qsntk_mse_predictor(...,
    method="krylov")``) on a kernel whose spectrum needs more Krylov vectors than the cap at the largest time.
    Fix: nothing is required; pass ``method="eigh"`` to skip the attempt, or ask for fewer/smaller times.
    :meth:`krylov` builds the predictor's message.
    """

    @classmethod
    def krylov(cls, what: str, dim: int, t_max: float) -> ConvergenceWarning:
        """The Krylov evaluation for ``what`` stopped at dimension ``dim`` (largest time ``t_max``)."""
        return cls(f"the Krylov evaluation for {what} did not converge within {dim} vectors (largest time "
                   f"{t_max:.6g}); computed from the full eigendecomposition instead (pass method='eigh' to skip "
                   "the attempt)")


class CostLimitError(NnqsError, ValueError):
    """The requested computation would run for hours; the message gives the estimate and the limit.

    Cause: a size, depth or time parameter far beyond the usual (``depth=10**9``, ``tau=1e9``).
    Fix: reduce the problem size, or raise the limit with the NNQS_FAST_MAX_FLOPS environment variable.
    """


class InputFileError(InvalidInputError):
    """An input file cannot be used; the message names the file and what was expected.

    Cause: the file is missing, empty, truncated or corrupt, or lacks the array (or holds the wrong shape).
    Fix: give the ``.npz`` an nnqs-fast command wrote (``--key`` selects the array).
    """


class OutputPathError(InvalidInputError):
    """An output location (``--out``) cannot be used; checked before any work starts.

    Cause: the path is an existing file, lies under a file, or is not writable.
    Fix: choose a writable directory (it is created if missing).
    """
