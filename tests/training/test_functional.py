"""Finite-width ensembles on function-space losses (train_loss_ensemble): oracles are train_ensemble (supervised
special case), an explicit-Jacobian step (tests/training/_oracles.py) and the constant-kernel flow (width → ∞)."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast._random import member_seeds
from nnqs_fast.dynamics import EnergyLoss, MSELoss, loss_flow
from nnqs_fast.errors import InvalidInputError, UnsupportedLossError
from nnqs_fast.networks.relu import apply_relu, init_relu
from nnqs_fast.physics import Lattice, encode_spins, tfim_hamiltonian
from nnqs_fast.physics.tfim import tfim_basis
from nnqs_fast.training import train_ensemble, train_loss_ensemble

from ._oracles import analytic_ntk, flatten, jacobian, unflatten


def _tfim(lx=2, ly=3, J=1.0):
    L = lx * ly
    return tfim_hamiltonian(Lattice(lx, ly, "open"), J=J), encode_spins(tfim_basis(L), L)


def test_mse_special_case_equals_the_supervised_trainer():
    g = np.random.default_rng(0)
    x = g.choice([-1.0, 1.0], size=(40, 12))
    y = g.standard_normal(40) + 1j * g.standard_normal(40)
    y /= np.linalg.norm(y)
    kw = dict(width=48, n_members=2, n_steps=25, seed=4, quiet=True, record_steps=[0, 1, 5, 25])
    a = train_ensemble(x, y, **kw)
    b = train_loss_ensemble(x, MSELoss(y), lr_factor=0.9, **kw)
    assert b.learning_rate == a.learning_rate
    np.testing.assert_allclose(b.loss, a.train_loss, rtol=1e-12)
    np.testing.assert_array_equal(b.seeds, a.seeds)


def test_first_energy_step_equals_explicit_jacobian_step():
    H, x = _tfim()
    loss = EnergyLoss(H)
    lr = 0.3
    res = train_loss_ensemble(x, loss, width=32, n_members=1, n_steps=1, learning_rate=lr, seed=5,
                              record_steps=[0, 1], record_states=True, quiet=True)
    s1, s2 = member_seeds(5, 2)
    p1, p2 = init_relu(s1, 6, 32), init_relu(s2, 6, 32)
    psi0 = apply_relu(p1, x) + 1j * apply_relu(p2, x)
    np.testing.assert_allclose(res.states[0, 0], psi0, rtol=1e-12, atol=1e-14)
    _, gw = loss.value_and_grad(psi0)
    q1 = unflatten(flatten(p1) - lr * jacobian(p1, x).T @ (2 * gw.real), p1)
    q2 = unflatten(flatten(p2) - lr * jacobian(p2, x).T @ (2 * gw.imag), p2)
    np.testing.assert_allclose(res.states[0, 1], apply_relu(q1, x) + 1j * apply_relu(q2, x), rtol=1e-11,
                               atol=1e-13)
    assert res.energy[0, 1] < res.energy[0, 0]


def test_deviation_from_the_constant_kernel_flow_shrinks_with_width():
    """Each network against the flow started from its own initial function with the analytic QS-NTK: the
    relative deviation of the energy trajectory shrinks with the width (measured ~N^-1/2)."""
    H, x = _tfim(2, 2)
    loss = EnergyLoss(H)
    ntk = analytic_ntk(x)
    lr, T = 2.0, 60
    dev = {}
    for N in (64, 4096):
        r = train_loss_ensemble(x, loss, width=N, n_members=3, n_steps=T, learning_rate=lr, seed=1,
                                record_steps=[0, 20, 40, 60], record_states=True, hamiltonian=H, quiet=True)
        f = loss_flow(ntk, loss, r.states[:, 0], learning_rate=lr, n_steps=T, record_steps=[0, 20, 40, 60],
                      hamiltonian=H)
        drop = np.abs(f.energy[:, -1] - f.energy[:, 0])
        dev[N] = float(np.mean(np.max(np.abs(r.energy - f.energy), axis=1) / drop))
    assert dev[4096] < 0.5 * dev[64], dev
    assert dev[4096] < 0.1, dev


def test_engine_and_argument_checks():
    H, x = _tfim(2, 2)
    with pytest.raises(UnsupportedLossError):
        train_loss_ensemble(x, EnergyLoss(H), learning_rate=0.1, backend="cuda", quiet=True)
    with pytest.raises(InvalidInputError, match="max_learning_rate"):
        train_loss_ensemble(x, EnergyLoss(H), quiet=True)
    kw = dict(width=16, n_members=3, n_steps=12, learning_rate=0.5, seed=2, quiet=True, hamiltonian=H)
    a = train_loss_ensemble(x, EnergyLoss(H), n_workers=1, **kw)
    b = train_loss_ensemble(x, EnergyLoss(H), n_workers=2, **kw)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_allclose(a.energy, a.loss, rtol=1e-12)
    mean, sem = a.stats("energy")
    assert mean.shape == a.steps.shape and np.all(sem >= 0) and a.members_done == 3
