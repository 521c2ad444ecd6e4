"""Function-space losses: Wirtinger gradients against central finite differences, and closed-form special values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from nnqs_fast.dynamics import (
    EnergyLoss,
    InfidelityLoss,
    MSELoss,
    TomographyLoss,
    fidelity,
    hadamard_transform,
    mse_loss,
)
from nnqs_fast.errors import InvalidInputError, ShapeMismatchError
from nnqs_fast.physics import Lattice, tfim_hamiltonian


def _rand(g, shape):
    return g.standard_normal(shape) + 1j * g.standard_normal(shape)


def _fd_wirtinger(f, psi, h=1e-6):
    """½(∂f/∂ψ1 + i ∂f/∂ψ2) by central differences, for each state of a (K, D) batch."""
    out = np.zeros_like(psi)
    for j in range(psi.shape[-1]):
        e = np.zeros(psi.shape[-1])
        e[j] = h
        d1 = (f(psi + e) - f(psi - e)) / (2 * h)
        d2 = (f(psi + 1j * e) - f(psi - 1j * e)) / (2 * h)
        out[..., j] = 0.5 * (d1 + 1j * d2)
    return out


def _losses(g, D=16):
    H = tfim_hamiltonian(Lattice(2, 2, "open"), J=0.7)
    target = _rand(g, D)
    return [MSELoss(target), EnergyLoss(H), EnergyLoss(spla.aslinearoperator(H)), EnergyLoss(H.toarray()),
            InfidelityLoss(target), TomographyLoss.from_state(target),
            TomographyLoss.from_state(target, ("Z", "X"), n_shots=500, seed=3)]


@pytest.mark.parametrize("i", range(7))
def test_gradient_matches_finite_differences(i):
    g = np.random.default_rng(i)
    loss = _losses(g)[i]
    psi = _rand(g, (2, 16))
    val, grad = loss.value_and_grad(psi)
    assert np.shape(val) == (2,) and grad.shape == psi.shape
    fd = _fd_wirtinger(lambda p: np.asarray(loss.value(p)), psi)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7 * np.abs(fd).max())


def test_values_against_closed_forms():
    g = np.random.default_rng(0)
    H = tfim_hamiltonian(Lattice(2, 2, "open"), J=0.7)
    Hd = H.toarray()
    psi, t = _rand(g, 16), _rand(g, 16)
    assert EnergyLoss(H).value(psi) == pytest.approx((psi.conj() @ Hd @ psi).real / (psi.conj() @ psi).real)
    assert MSELoss(t).value(psi) == pytest.approx(mse_loss(psi, t))
    assert InfidelityLoss(t).value(psi) == pytest.approx(1 - fidelity(psi, t))
    # the Walsh–Hadamard transform is H^{⊗L} built with Kronecker products
    had = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    full = had
    for _ in range(3):
        full = np.kron(full, had)
    np.testing.assert_allclose(hadamard_transform(psi), full @ psi, atol=1e-13)
    # tomography with exact Born probabilities: the target is a stationary point with L = mean Shannon entropy
    tomo = TomographyLoss.from_state(t)
    val, grad = tomo.value_and_grad(3.0 * t)
    pz = np.abs(t) ** 2 / np.sum(np.abs(t) ** 2)
    px = np.abs(full @ t) ** 2 / np.sum(np.abs(t) ** 2)
    assert val == pytest.approx(-0.5 * (pz @ np.log(pz) + px @ np.log(px)))
    assert np.abs(grad).max() < 1e-12
    # energy gradient is orthogonal to ψ (scale invariance) and vanishes on an eigenvector
    _, ge = EnergyLoss(H).value_and_grad(psi)
    assert abs(np.vdot(psi, ge).real) < 1e-12
    _, V = np.linalg.eigh(Hd)
    assert np.abs(EnergyLoss(H).grad(V[:, 0].astype(complex))).max() < 1e-12


def test_validation():
    with pytest.raises(InvalidInputError):
        EnergyLoss(sp.csr_matrix(np.triu(np.ones((4, 4)))))
    with pytest.raises(ShapeMismatchError):
        EnergyLoss(np.eye(4)).value(np.ones(5))
    with pytest.raises(InvalidInputError):
        EnergyLoss(np.eye(4)).value(np.zeros(4))
    with pytest.raises(InvalidInputError):
        TomographyLoss.from_state(np.ones(4), n_shots=10)  # sampled counts need a seed
    with pytest.raises(InvalidInputError):
        TomographyLoss({"Y": np.ones(4) / 4})
    with pytest.raises(ShapeMismatchError):
        TomographyLoss.from_state(np.ones(6), ("X",))
