"""The constant-kernel flow of any loss (nnqs_fast.dynamics.flow) against independent oracles.

* supervised special case = the closed form qsntk_mse_predictor (discrete and continuous; decoupled and mixing);
* delta kernel (Θ = 0, Φ = φ0·1) energy flow = normalised imaginary-time evolution e^{−κHτ}ψ0 (scipy
  expm_multiply) with κ = η φ0 / ⟨ψ0|ψ0⟩, and ⟨ψ|ψ⟩ conserved;
* continuous-time energy non-increasing for a random PSD Ω_RI;
* a linearised network (explicit Jacobians) trained on the energy follows the discrete flow to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from nnqs_fast.dynamics import (
    EnergyLoss,
    InfidelityLoss,
    MSELoss,
    TomographyLoss,
    loss_flow,
    qsntk_mse_predictor,
    sample_gp_states,
)
from nnqs_fast.kernels import qsntk_from_parts
from nnqs_fast.physics import Lattice, tfim_hamiltonian


def _psd(g, n, rank=None):
    a = g.standard_normal((n, rank or n))
    return a @ a.T / n


def _ham():
    return tfim_hamiltonian(Lattice(2, 2, "open"), J=0.8)


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize("mixing", [False, True])
def test_supervised_case_equals_closed_form(discrete, mixing):
    g = np.random.default_rng(1)
    n = 12
    y = g.standard_normal(n) + 1j * g.standard_normal(n)
    t1, t2 = _psd(g, n), _psd(g, n)
    if mixing:
        big = _psd(g, 2 * n)
        q = qsntk_from_parts(big[:n, :n], big[n:, n:], big[:n, n:])
    else:
        q = qsntk_from_parts(t1, t2)
    psi0 = g.standard_normal((3, n)) + 1j * g.standard_normal((3, n))
    lr = 0.3 * n / np.linalg.eigvalsh(q.omega_ri)[-1]
    steps = [0, 1, 5, 40]
    res = loss_flow(q, MSELoss(y), psi0, learning_rate=lr, n_steps=40, record_steps=steps, discrete=discrete,
                    record_states=True, rtol=1e-12, atol=1e-14)
    pred = qsntk_mse_predictor(q, y, lr, discrete=discrete, backend="cpu")
    for k in range(3):
        ref = np.array([pred(t, fx_train_0=psi0[k]) for t in steps])
        tol = 1e-11 if discrete else 1e-8
        np.testing.assert_allclose(res.states[k], ref, rtol=tol, atol=tol * np.abs(ref).max())
    np.testing.assert_allclose(res.loss[:, -1], np.mean(np.abs(res.states[:, -1] - y) ** 2, axis=1), rtol=1e-12)


def test_delta_kernel_energy_flow_is_imaginary_time_evolution():
    g = np.random.default_rng(2)
    H = _ham()
    D = H.shape[0]
    phi0 = 0.7                                        # Φ = φ0·1, Θ = 0  <=>  Θ1 = Θ2 = (φ0/2)·1, no mixing
    kernel = qsntk_from_parts(0.5 * phi0 * np.eye(D), 0.5 * phi0 * np.eye(D))
    assert np.allclose(kernel.theta, 0) and np.allclose(kernel.phi, phi0 * np.eye(D))
    psi0 = (g.standard_normal(D) + 1j * g.standard_normal(D)) * 2.0
    lr, T = 0.05, 60.0
    steps = np.linspace(0, T, 7)
    res = loss_flow(kernel, EnergyLoss(H), psi0, learning_rate=lr, n_steps=T, record_steps=steps, discrete=False,
                    hamiltonian=H, record_states=True, rtol=1e-12, atol=1e-13)
    assert res.config["flow_domain"] == "walsh"       # the identity kernel is Walsh-structured: the fast path
    n0 = np.vdot(psi0, psi0).real
    kappa = lr * phi0 / n0
    ref = spla.expm_multiply(-kappa * H.astype(complex), psi0, start=0, stop=T, num=7, endpoint=True)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True) * np.sqrt(n0)
    np.testing.assert_allclose(res.states[0], ref, rtol=1e-8, atol=1e-8 * np.sqrt(n0))
    np.testing.assert_allclose(res.norm2[0], n0, rtol=1e-9)          # ⟨ψ|ψ⟩ conserved
    assert np.all(np.diff(res.energy[0]) < 0)
    basis = loss_flow(kernel, EnergyLoss(H), psi0, learning_rate=lr, n_steps=T, record_steps=steps, discrete=False,
                      record_states=True, rtol=1e-12, atol=1e-13, structure="dense")
    assert basis.config["flow_domain"] == "basis"                    # the same oracle on the GEMM path
    np.testing.assert_allclose(basis.states[0], ref, rtol=1e-8, atol=1e-8 * np.sqrt(n0))


def test_continuous_energy_is_non_increasing_for_any_psd_kernel():
    g = np.random.default_rng(3)
    H = _ham()
    D = H.shape[0]
    omega = _psd(g, 2 * D, rank=D)                    # a rank-deficient PSD Ω_RI with mixing
    psi0 = g.standard_normal((2, D)) + 1j * g.standard_normal((2, D))
    res = loss_flow(omega, EnergyLoss(H), psi0, learning_rate=0.5, n_steps=50, record_steps=np.linspace(0, 50, 41),
                    discrete=False, hamiltonian=H, rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(res.energy, axis=1) <= 1e-10 * np.abs(res.energy[:, :-1]))
    assert np.all(res.energy[:, -1] < res.energy[:, 0] - 1e-3)


def _jac(p, x):
    """df(x)/dθ of the depth-1 ReLU network written out (the training tests' oracle)."""
    from tests.training._oracles import jacobian

    return jacobian(p, x)


def test_linearised_network_trained_on_the_energy_follows_the_flow():
    from nnqs_fast.networks.relu import apply_relu, init_relu
    from nnqs_fast.physics import encode_spins
    from nnqs_fast.physics.tfim import tfim_basis

    H = _ham()
    x = encode_spins(tfim_basis(4), 4)
    p1, p2 = init_relu(11, 4, 64), init_relu(12, 4, 64)
    J1, J2 = _jac(p1, x), _jac(p2, x)
    f1, f2 = apply_relu(p1, x), apply_relu(p2, x)
    loss = EnergyLoss(H)
    lr, T = 0.5, 30
    th1, th2 = np.zeros(J1.shape[1]), np.zeros(J2.shape[1])
    energies = []
    for _ in range(T + 1):  # explicit GD on the linearised model ψ = f1 + J1 θ1 + i (f2 + J2 θ2)
        psi = f1 + J1 @ th1 + 1j * (f2 + J2 @ th2)
        val, gw = loss.value_and_grad(psi)
        energies.append(val)
        th1 -= lr * J1.T @ (2 * gw.real)
        th2 -= lr * J2.T @ (2 * gw.imag)
    res = loss_flow((J1 @ J1.T, J2 @ J2.T), loss, f1 + 1j * f2, learning_rate=lr, n_steps=T,
                    record_steps=np.arange(T + 1), discrete=True)
    np.testing.assert_allclose(res.loss[0], energies, rtol=1e-11, atol=1e-12)
    assert energies[-1] < energies[0]


def test_batched_flow_equals_one_state_at_a_time_and_float32_kernel():
    g = np.random.default_rng(4)
    H = _ham()
    D = H.shape[0]
    K = _psd(g, D)
    psi0 = sample_gp_states(_psd(g, D), 4, seed=9)
    target = g.standard_normal(D) + 1j * g.standard_normal(D)
    for loss in (EnergyLoss(H), InfidelityLoss(target), TomographyLoss.from_state(target)):
        batch = loss_flow(K, loss, psi0, learning_rate=0.01, n_steps=20, record_steps=[0, 10, 20])
        one = [loss_flow(K, loss, psi0[k], learning_rate=0.01, n_steps=20, record_steps=[0, 10, 20]).loss[0]
               for k in range(4)]
        np.testing.assert_allclose(batch.loss, one, rtol=1e-12)
        f32 = loss_flow(K, loss, psi0, learning_rate=0.01, n_steps=20, record_steps=[0, 10, 20], dtype=np.float32)
        np.testing.assert_allclose(f32.loss, batch.loss, rtol=1e-4, atol=1e-5)


def test_gp_states_have_the_nngp_covariance():
    g = np.random.default_rng(5)
    C = _psd(g, 6)
    s = sample_gp_states(C, 20000, seed=1)
    np.testing.assert_allclose(np.cov(s.real.T), C, atol=0.05 * np.abs(C).max())
    np.testing.assert_allclose(np.cov(s.imag.T), C, atol=0.05 * np.abs(C).max())
    assert np.abs(np.mean(s.real[:, 0] * s.imag[:, 0])) < 0.05 * C[0, 0]
    np.testing.assert_array_equal(sample_gp_states(C, 3, seed=1), sample_gp_states(C, 3, seed=1))


def test_natural_gradient_at_full_rank_is_imaginary_time_evolution():
    """Stochastic reconfiguration θ̇ = −η S⁺ ∇_θ L (S = JᵀJ) moves u by −η J S⁺ Jᵀ ∇_u L: the function-space kernel
    is the projector onto the tangent space. With a full-rank tangent space (a network with more parameters than
    basis states) it is 1, i.e. the delta kernel with Φ = 2·1: normalised imaginary-time evolution with
    κ = 2η/⟨ψ0|ψ0⟩ (checked against expm_multiply)."""
    from nnqs_fast.networks.relu import apply_relu, init_relu
    from nnqs_fast.physics import encode_spins
    from nnqs_fast.physics.tfim import tfim_basis

    H = _ham()
    x = encode_spins(tfim_basis(4), 4)
    p1, p2 = init_relu(21, 4, 16), init_relu(22, 4, 16)            # 97 parameters per part > 16 basis states
    kernels = []
    for p in (p1, p2):
        U, s, _ = np.linalg.svd(_jac(p, x), full_matrices=False)
        assert s[-1] > 1e-8 * s[0]                                   # full-rank tangent space
        kernels.append(U @ U.T)                                      # J S⁺ Jᵀ, the projector
    np.testing.assert_allclose(kernels[0], np.eye(16), atol=1e-10)
    psi0 = apply_relu(p1, x) + 1j * apply_relu(p2, x)
    lr, T = 0.2, 40.0
    res = loss_flow(tuple(kernels), EnergyLoss(H), psi0, learning_rate=lr, n_steps=T,
                    record_steps=np.linspace(0, T, 5), discrete=False, record_states=True, rtol=1e-12, atol=1e-13)
    n0 = np.vdot(psi0, psi0).real
    ref = spla.expm_multiply(-(2 * lr / n0) * H.astype(complex), psi0, start=0, stop=T, num=5, endpoint=True)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True) * np.sqrt(n0)
    np.testing.assert_allclose(res.states[0], ref, rtol=1e-7, atol=1e-8 * np.sqrt(n0))


def test_walsh_structured_kernel_path_equals_the_dense_gemm():
    """The analytic kernels on the full ±1 basis depend on i ⊕ j only: the flow applies them by fast Walsh–Hadamard
    transforms; same trajectory as the dense GEMM to rounding, for a shared kernel and a pair."""
    from nnqs_fast.dynamics.flow import as_flow_kernel, walsh_spectrum
    from nnqs_fast.kernels import cosnet_kernel_fn, relu_kernel_fn
    from nnqs_fast.physics import encode_spins
    from nnqs_fast.physics.tfim import tfim_basis

    H = tfim_hamiltonian(Lattice(2, 3, "open"), J=1.0)
    x = encode_spins(tfim_basis(6), 6)
    k = relu_kernel_fn()(x, None, get=("nngp", "ntk"), backend="cpu")
    ntk, nngp = np.asarray(k.ntk), np.asarray(k.nngp)
    k2 = np.asarray(cosnet_kernel_fn()(x, None, get="ntk", backend="cpu"))
    lam = walsh_spectrum(ntk)
    np.testing.assert_allclose(np.sort(lam), np.linalg.eigvalsh(ntk), rtol=1e-9, atol=1e-12 * lam.max())
    assert as_flow_kernel(ntk).kind == "walsh" and as_flow_kernel(ntk, structure="dense").kind == "shared"
    g = np.random.default_rng(6)
    assert walsh_spectrum(_psd(g, 64)) is None
    psi0 = sample_gp_states(nngp, 3, seed=2)
    for kern in (ntk, (ntk, k2)):
        kw = dict(learning_rate=0.02, n_steps=30, record_steps=[0, 10, 30], record_states=True)
        fast = loss_flow(kern, EnergyLoss(H), psi0, **kw)
        dense = loss_flow(kern, EnergyLoss(H), psi0, structure="dense", **kw)
        np.testing.assert_allclose(fast.states, dense.states, rtol=1e-10, atol=1e-12 * np.abs(dense.states).max())
