"""Shared fixtures for the dynamics tests: small random positive-definite kernels from explicit Jacobians."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@dataclass
class Problem:
    n: int
    m: int
    J1: np.ndarray  # (n + m, P) Jacobian of ψ1 (train rows first)
    J2: np.ndarray
    y: np.ndarray   # complex targets on train
    yt: np.ndarray  # complex targets on test
    f0: np.ndarray  # complex initial function on train
    g0: np.ndarray  # complex initial function on test

    def k(self, J: np.ndarray) -> np.ndarray:
        return J @ J.T / J.shape[1]

    @property
    def K1(self) -> np.ndarray:
        return self.k(self.J1)

    @property
    def K2(self) -> np.ndarray:
        return self.k(self.J2)

    def tt(self, K: np.ndarray) -> np.ndarray:
        return K[: self.n, : self.n]

    def xt(self, K: np.ndarray) -> np.ndarray:
        return K[self.n:, : self.n]


def make_problem(seed: int = 0, n: int = 9, m: int = 5, P: int = 40) -> Problem:
    g = np.random.default_rng(seed)
    J1 = g.standard_normal((n + m, P)) + 0.3 * g.standard_normal((1, P))
    J2 = g.standard_normal((n + m, P)) + 0.5 * g.standard_normal((1, P))
    c = lambda k: g.standard_normal(k) + 1j * g.standard_normal(k)  # noqa: E731
    return Problem(n, m, J1, J2, c(n), c(m), 0.3 * c(n), 0.3 * c(m))


def omega_from_decoupled(T1: np.ndarray, T2: np.ndarray) -> np.ndarray:
    """Ω = [[Θ, Φ], [Φ*, Θ*]] with Θ = Θ1 − Θ2, Φ = Θ1 + Θ2 (Eqs. S10–S11, zero mixing)."""
    theta, phi = (T1 - T2).astype(complex), (T1 + T2).astype(complex)
    return np.block([[theta, phi], [phi.conj(), theta.conj()]])


@pytest.fixture
def prob() -> Problem:
    return make_problem()
