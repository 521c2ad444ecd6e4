"""The energy flow in the Walsh domain (nnqs_fast.dynamics._walsh) against independent oracles.

* ``H̃ = W H W`` against the dense product with ``W`` built from Kronecker products of the 2×2 Hadamard matrix;
* one fused step (C++ core and NumPy engines) against the real-space formula ``ψ − η Θ 2(Hψ − Eψ)/⟨ψ|ψ⟩`` with the
  dense kernel;
* ``loss_flow`` on the Walsh path against the reference dense-kernel flow (``structure="dense"``: GEMM per step,
  no Walsh structure used) on 2×3 and 3×3 lattices, discrete and continuous, float64 and float32 kernels;
* the supervised special case on a Walsh-structured kernel against the closed form (the per-step transform path).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from nnqs_fast import _core
from nnqs_fast.dynamics import EnergyLoss, MSELoss, loss_flow, qsntk_mse_predictor, sample_gp_states
from nnqs_fast.dynamics._walsh import WalshEnergyFlow, fwht_rows, walsh_conjugate
from nnqs_fast.dynamics.flow import walsh_spectrum
from nnqs_fast.errors import InvalidInputError
from nnqs_fast.kernels import cosnet_kernel_fn, relu_kernel_fn
from nnqs_fast.physics import Lattice, encode_spins, tfim_hamiltonian
from nnqs_fast.physics.tfim import tfim_basis


def _hadamard(L):
    w = np.array([[1.0]])
    for _ in range(L):
        w = np.kron(w, np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2))
    return w


def _problem(lx, ly, J=1.0, K=3, seed=2):
    L = lx * ly
    H = tfim_hamiltonian(Lattice(lx, ly, "open"), J=J)
    x = encode_spins(tfim_basis(L), L)
    k = relu_kernel_fn()(x, None, get=("nngp", "ntk"), backend="cpu")
    return H, x, np.asarray(k.ntk), sample_gp_states(np.asarray(k.nngp), K, seed=seed)


@pytest.mark.parametrize("lx, ly, J", [(2, 3, 1.0), (3, 3, 0.7), (1, 5, -1.3)])
def test_walsh_conjugate_equals_dense_hadamard_product(lx, ly, J):
    H = tfim_hamiltonian(Lattice(lx, ly, "open"), J=J)
    W = _hadamard(lx * ly)
    Ht = walsh_conjugate(H)
    assert Ht is not None and Ht.nnz <= 4 * H.nnz
    np.testing.assert_allclose(Ht.toarray(), W @ H.toarray() @ W, atol=1e-13 * abs(H).max())
    x = np.random.default_rng(0).standard_normal((3, W.shape[0]))
    np.testing.assert_allclose(fwht_rows(x), x @ W, atol=1e-13)


def test_walsh_conjugate_of_a_general_sparse_operator_and_when_it_is_not_sparse():
    g = np.random.default_rng(1)
    D = 32
    # a few random Pauli strings: X^m diag(±1 products) — sparse in both domains
    a = np.arange(D)
    H = np.zeros((D, D))
    for _ in range(5):
        m, zmask, c = int(g.integers(D)), int(g.integers(D)), g.standard_normal()
        z = 1.0 - 2.0 * (np.array([bin(v & zmask).count("1") for v in a]) & 1)
        P = np.zeros((D, D))
        P[a ^ m, a] = z
        H += c * (P + P.T)
    W = _hadamard(5)
    Ht = walsh_conjugate(sp.csr_matrix(H))
    assert Ht is not None
    np.testing.assert_allclose(Ht.toarray(), W @ H @ W, atol=1e-12 * np.abs(H).max())
    # a random diagonal: W D W is a dense XOR convolution, no sparse conjugate -> None (the flow keeps transforms)
    assert walsh_conjugate(sp.diags(g.standard_normal(D))) is None
    assert walsh_conjugate(sp.csr_matrix(H * (1 + 1j))) is None          # complex H: not handled here


@pytest.mark.parametrize("engine", ["core", "numpy"])
def test_one_fused_step_equals_the_real_space_formula(engine):
    H, _, ntk, psi = _problem(2, 3, K=5)
    k2 = np.asarray(cosnet_kernel_fn()(encode_spins(tfim_basis(6), 6), None, get="ntk", backend="cpu"))
    lams = (walsh_spectrum(ntk), walsh_spectrum(k2))
    Hd = H.toarray()
    eta = 0.03
    n = np.sum(np.abs(psi) ** 2, axis=1)
    hp = psi @ Hd.T
    e = np.sum(psi.conj() * hp, axis=1).real / n
    grad = 2 * (hp - e[:, None] * psi) / n[:, None]                     # ∇_u L = 2 (Re, Im) ∂L/∂ψ*
    ref = psi - eta * (grad.real @ ntk + 1j * (grad.imag @ k2))
    f = WalshEnergyFlow(walsh_conjugate(H), lams, 5, engine=engine)
    u = f.to_block(psi)
    e_got, n_got = f.step(u, eta)
    np.testing.assert_allclose(e_got, e, rtol=1e-13)
    np.testing.assert_allclose(n_got, n, rtol=1e-13)
    np.testing.assert_allclose(f.from_block(u), ref, rtol=1e-12, atol=1e-13 * np.abs(ref).max())
    f.gradient_step(f.to_block(psi), -eta)                               # velocity mode: hu = −η λ ⊙ ∇̃
    np.testing.assert_allclose(f.from_block(f.hu), ref - psi, atol=1e-13 * np.abs(ref).max())


def test_core_step_is_independent_of_the_thread_count_and_validates_its_inputs():
    H, _, ntk, psi = _problem(3, 3, K=6)
    f = WalshEnergyFlow(walsh_conjugate(H), (walsh_spectrum(ntk),), 6)
    out = []
    for th in (1, 2, 3):
        u = f.to_block(psi)
        for _ in range(3):
            _core.walsh_energy_step(f._indptr, f._indices, f.Ht.data, 6, u, f.hu, f.lam2, 0.01, True, th)
        out.append(u)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])
    u = f.to_block(psi)
    with pytest.raises(InvalidInputError, match="panels"):
        _core.walsh_energy_step(f._indptr, f._indices, f.Ht.data, 9, u, f.hu, f.lam2, 0.01, True)
    with pytest.raises(InvalidInputError, match="out of range"):
        bad = f._indices.copy()
        bad[3] = 10**6
        _core.walsh_energy_step(f._indptr, bad, f.Ht.data, 6, u, f.hu, f.lam2, 0.01, True)
    with pytest.raises(TypeError):                                   # never a silent copy of the updated state
        _core.walsh_energy_step(f._indptr, f._indices, f.Ht.data, 6, u.astype(np.float32), f.hu, f.lam2, 0.01, True)


@pytest.mark.parametrize("lx, ly", [(2, 3), (3, 3)])
def test_walsh_domain_flow_equals_the_dense_kernel_flow(lx, ly):
    H, x, ntk, psi0 = _problem(lx, ly, K=4)
    k2 = np.asarray(cosnet_kernel_fn()(x, None, get="ntk", backend="cpu"))
    n = 40 if lx * ly < 9 else 12
    kw = dict(learning_rate=0.02, n_steps=n, record_steps=[0, 1, 7, n], record_states=True, hamiltonian=H)
    for kern in (ntk, (ntk, k2)):
        fast = loss_flow(kern, EnergyLoss(H), psi0, **kw)
        dense = loss_flow(kern, EnergyLoss(H), psi0, structure="dense", **kw)
        assert fast.config["flow_domain"] == "walsh" and dense.config["flow_domain"] == "basis"
        np.testing.assert_allclose(fast.states, dense.states, rtol=1e-10, atol=1e-12 * np.abs(dense.states).max())
        np.testing.assert_allclose(fast.loss, dense.loss, rtol=1e-12)
        np.testing.assert_allclose(fast.energy, dense.energy, rtol=1e-12)
        np.testing.assert_allclose(fast.norm2, dense.norm2, rtol=1e-12)
        assert np.all(np.diff(fast.loss, axis=1) < 0)


def test_walsh_domain_flow_float32_kernel_accuracy():
    """float32 kernel: the Walsh path uses the eigenvalues of the float32-rounded kernel in a float64 flow; it
    agrees with the float64 flow to the kernel's rounding and with the dense float32 GEMM path as closely."""
    H, _, ntk, psi0 = _problem(2, 3, K=4)
    kw = dict(learning_rate=0.02, n_steps=200, record_steps=[0, 50, 200], record_states=True)
    ref = loss_flow(ntk, EnergyLoss(H), psi0, structure="dense", **kw)
    f32 = loss_flow(ntk.astype(np.float32), EnergyLoss(H), psi0, dtype=np.float32, **kw)
    d32 = loss_flow(ntk.astype(np.float32), EnergyLoss(H), psi0, dtype=np.float32, structure="dense", **kw)
    assert f32.config["flow_domain"] == "walsh"
    scale = np.abs(ref.states).max()
    np.testing.assert_allclose(f32.loss, ref.loss, rtol=1e-6)
    np.testing.assert_allclose(f32.states, ref.states, atol=1e-5 * scale)
    np.testing.assert_allclose(d32.loss, ref.loss, rtol=1e-5)


def test_walsh_domain_continuous_flow_equals_the_dense_kernel_flow():
    H, _, ntk, psi0 = _problem(2, 3, K=2)
    kw = dict(learning_rate=0.05, n_steps=30.0, record_steps=[0, 7.5, 30], discrete=False, record_states=True,
              rtol=1e-11, atol=1e-13)
    fast = loss_flow(ntk, EnergyLoss(H), psi0, **kw)
    dense = loss_flow(ntk, EnergyLoss(H), psi0, structure="dense", **kw)
    assert fast.config["flow_domain"] == "walsh"
    np.testing.assert_allclose(fast.states, dense.states, rtol=1e-8, atol=1e-9 * np.abs(dense.states).max())
    assert np.all(np.diff(fast.loss, axis=1) < 0)


def test_supervised_case_on_a_walsh_structured_kernel_equals_the_closed_form():
    _, _, ntk, psi0 = _problem(2, 3, K=2)
    g = np.random.default_rng(3)
    y = g.standard_normal(64) + 1j * g.standard_normal(64)
    lr = 0.3 * 64 / np.linalg.eigvalsh(ntk)[-1]
    steps = [0, 1, 9, 30]
    res = loss_flow(ntk, MSELoss(y), psi0, learning_rate=lr, n_steps=30, record_steps=steps, record_states=True)
    assert res.config["kernel_form"] == "walsh" and res.config["flow_domain"] == "basis"
    pred = qsntk_mse_predictor(ntk, y, lr, discrete=True, backend="cpu")
    for k in range(2):
        ref = np.array([pred(t, fx_train_0=psi0[k]) for t in steps])
        np.testing.assert_allclose(res.states[k], ref, rtol=1e-10, atol=1e-11 * np.abs(ref).max())
