"""The erf activation (used by the complex single-layer network of Eq. S16; closed-form Gaussian dual, Eq. S18).

For centred Gaussians ``(u, v)`` with variances ``k11``, ``k22`` and covariance ``k12`` (Williams 1997)::

    E[erf(u) erf(v)]   = (2/pi) asin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22)))
    E[erf'(u) erf'(v)] = (4/pi) / sqrt((1 + 2 k11)(1 + 2 k22) - 4 k12^2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import erf

from .activations import Activation, register_activation

__all__ = ["erf_dual"]


def erf_dual(k12: Any, k11: Any, k22: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(E[erf(u) erf(v)], E[erf'(u) erf'(v)])`` (see the module docstring; paper Eq. S18 with ``σ = erf``)."""
    k12, k11, k22 = (np.asarray(a, np.float64) for a in (k12, k11, k22))
    den = (1.0 + 2.0 * k11) * (1.0 + 2.0 * k22)
    ess = (2.0 / np.pi) * np.arcsin(np.clip(2.0 * k12 / np.sqrt(den), -1.0, 1.0))
    edd = (4.0 / np.pi) / np.sqrt(den - 4.0 * k12 * k12)
    return ess, edd


def _erf_deriv(z: np.ndarray) -> np.ndarray:
    return (2 / np.sqrt(np.pi)) * np.exp(-z * z)


ERF = register_activation(Activation("erf", erf, _erf_deriv, erf_dual))
