"""neural-tangents' names that the package does NOT define (issue 12: never NT's names with other semantics).

The paper-convention functions that once carried these names were renamed; the names themselves are absent from
``nnqs_fast``, ``nnqs_fast.dynamics`` and ``nnqs_fast.kernels`` (no alias, no deprecation shim), and exist with
neural-tangents' exact semantics only in :mod:`nnqs_fast.nt`. Looking one up raises an ``AttributeError`` that
names both replacements (conversion table: docs/interop.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

#: NT name -> (the paper-convention function, where NT's semantics live)
RENAMED: dict[str, tuple[str, str]] = {
    "gradient_descent_mse": ("qsntk_mse_predictor", "nnqs_fast.nt.predict.gradient_descent_mse"),
    "gradient_descent_mse_ensemble": ("qsntk_mse_ensemble", "nnqs_fast.nt.predict.gradient_descent_mse_ensemble"),
    "max_learning_rate": ("qsntk_eta_max", "nnqs_fast.nt.max_learning_rate"),
    "gp_inference": ("nngp_posterior", "neural-tangents' nt.predict.gp_inference (relative diag_reg)"),
}


def module_getattr(module: str) -> Callable[[str], NoReturn]:
    """A PEP 562 ``__getattr__`` for ``module`` that explains the absent neural-tangents names."""

    def __getattr__(name: str) -> NoReturn:
        if name in RENAMED:
            new, nt = RENAMED[name]
            raise AttributeError(
                f"module {module!r} has no attribute {name!r}: neural-tangents' name is not used for the paper's "
                f"conventions. Use {module.split('.')[0]}.{new} (loss (1/n) sum |psi_T - psi|^2, time in GD steps, "
                f"absolute diag_reg) or, for neural-tangents' exact semantics, {nt}; see docs/interop.md")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
