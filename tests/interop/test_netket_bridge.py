"""The NetKet bridge, every convention checked against NetKet itself (oracle: NetKet's own operators,
Hilbert spaces, graphs and Jacobians)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

nk = pytest.importorskip("netket")
jax = pytest.importorskip("jax")
from netket.operator.fermion import number  # noqa: E402

from nnqs_fast import netket as nb  # noqa: E402

# NetKet's advice to use a number-conserving operator class (raised lazily by to_sparse) is not a defect here
pytestmark = pytest.mark.filterwarnings("ignore:(?s).*fixed number of fermions:UserWarning")
from nnqs_fast.errors import AmbiguousJacobianLayoutError, BasisMismatchError  # noqa: E402
from nnqs_fast.kernels import qsntk_from_jacobians  # noqa: E402
from nnqs_fast.physics import Lattice, hubbard_hamiltonian, make_target, tfim_hamiltonian  # noqa: E402


def nk_tfim(lx, ly, J):
    g = nk.graph.Grid([lx, ly], pbc=False)
    hi = nk.hilbert.Spin(0.5, g.n_nodes)
    return nk.operator.Ising(hi, g, h=J, J=-1.0), hi, g  # NetKet: -h sum X + J sum ZZ


def nk_hubbard(lx, ly, n_up, n_dn, t, U):
    """Eq. 20 written with NetKet's own fermion operators (numba backend: compiles in seconds, not minutes)."""
    g = nk.graph.Grid([lx, ly], pbc=False)
    hi = nk.hilbert.SpinOrbitalFermions(g.n_nodes, s=0.5, n_fermions_per_spin=(n_dn, n_up))
    terms, w = [], []
    for sz in (-1, 1):
        for i, j in g.edges():
            a, b = hi._get_index(i, sz), hi._get_index(j, sz)
            terms += [((a, 1), (b, 0)), ((b, 1), (a, 0))]
            w += [-t, -t]
    for i in g.nodes():
        u, d = hi._get_index(i, 1), hi._get_index(i, -1)
        terms.append(((u, 1), (u, 0), (d, 1), (d, 0)))
        w.append(U)
    return nk.operator.FermionOperator2ndNumba(hi, terms, w), hi, g


def test_netket_order_claims():
    """The docstring's claims about NetKet, read off NetKet."""
    hi = nk.hilbert.Spin(0.5, 4)
    st = np.asarray(hi.all_states())
    digits = (st == -1).astype(int)  # +1 first, site 0 most significant
    assert np.array_equal(digits @ (2 ** np.arange(3, -1, -1)), np.arange(16))
    g = nk.graph.Grid([3, 4], pbc=False)
    k = np.arange(12)
    assert np.array_equal(np.asarray(g.positions), np.stack([k // 4, k % 4], 1))
    hf = nk.hilbert.SpinOrbitalFermions(3, s=0.5, n_fermions_per_spin=(1, 2))
    occ = np.asarray(hf.all_states())
    assert np.all(occ[:, :3].sum(1) == 1) and np.all(occ[:, 3:].sum(1) == 2)  # (N_down, N_up), down block first
    for o in range(3):
        assert np.array_equal(number(hf, o, -1).to_sparse().diagonal(), occ[:, o])
        assert np.array_equal(number(hf, o, 1).to_sparse().diagonal(), occ[:, 3 + o])
    assert np.all(np.diff(occ @ (2 ** np.arange(5, -1, -1))) > 0)  # mode 0 most significant, ascending


def test_site_permutation_grid():
    g = nk.graph.Grid([3, 4], pbc=False)
    perm = nb.site_permutation((3, 4), g)
    lat = Lattice(3, 4)
    for s in range(12):
        x, y = lat.coords(s)
        assert perm[s] == x * 4 + y


@pytest.mark.parametrize("lx,ly", [(2, 3), (3, 2)])
def test_tfim_matrix_and_spectrum_equal_netket(lx, ly):
    op, hi, g = nk_tfim(lx, ly, 0.1)
    t = make_target("tfim", lx=lx, ly=ly)
    index, sign = nb.basis_map(t, hi, graph=g)
    Hn = op.to_sparse().toarray()
    Hp = tfim_hamiltonian(Lattice(lx, ly), 0.1).toarray()
    assert np.all(sign == 1)
    assert np.max(np.abs(Hn[np.ix_(index, index)] - Hp)) < 1e-14
    assert np.max(np.abs(np.linalg.eigvalsh(Hn) - np.linalg.eigvalsh(Hp))) < 1e-12


def test_tfim_quench_target_overlap_and_round_trip():
    op, hi, g = nk_tfim(2, 3, 0.1)
    t = make_target("tfim", lx=2, ly=3)
    tn = nb.target_from_operator(op, kind="quench", psi0=np.ones(hi.n_states), tau=2.1)
    assert abs(abs(np.vdot(t.to_netket(hi, graph=g), tn.psi)) - 1) < 1e-12
    tm = nb.target_from_operator(op, kind="quench", psi0=np.ones(hi.n_states), tau=2.1, order="nnqs",
                                 lattice=(2, 3), graph=g)
    assert np.max(np.abs(tm.psi - t.psi)) < 1e-12 and np.array_equal(tm.inputs, t.inputs)
    back = nb.from_netket(nb.to_netket(t, hi, graph=g), hi, lattice=(2, 3), graph=g)
    assert np.array_equal(back.psi, t.psi)


def test_hubbard_matrix_signs_spectrum_and_target():
    H, hi, g = nk_hubbard(2, 3, 2, 2, 1.0, 8.0)
    lat = Lattice(2, 3)
    Hp, _ = hubbard_hamiltonian(lat, 2, 2, t=1.0, U=8.0)
    t = make_target("hubbard", lx=2, ly=3)
    index, sign = nb.basis_map(t, hi, graph=g)
    assert np.any(sign < 0)  # the Jordan-Wigner signs matter here
    Hn = H.to_sparse().toarray()
    S = np.diag(sign)
    assert np.max(np.abs(Hn[np.ix_(index, index)] - S @ Hp.toarray() @ S)) < 1e-14
    assert np.max(np.abs(np.linalg.eigvalsh(Hn) - np.linalg.eigvalsh(Hp.toarray()))) < 1e-12
    H0, _, _ = nk_hubbard(2, 3, 2, 2, 1.0, 4.0)
    tn = nb.target_from_operator(H, kind="quench", H0=H0, tau=2.1)
    assert abs(abs(np.vdot(t.to_netket(hi, graph=g), tn.psi)) - 1) < 1e-10
    # without the signs the overlap is not 1: the signs are necessary
    plain = np.zeros(hi.n_states, complex)
    plain[index] = t.psi
    assert abs(np.vdot(plain, tn.psi)) < 0.999
    back = nb.from_netket(tn.psi, hi, lattice=(2, 3), graph=g)
    assert abs(abs(np.vdot(back.psi, t.psi)) - 1) < 1e-10


def test_basis_mismatch_errors():
    t = make_target("tfim", lx=2, ly=3)
    with pytest.raises(BasisMismatchError, match="sites"):
        nb.basis_map(t, nk.hilbert.Spin(0.5, 5))
    th = make_target("hubbard", lx=2, ly=3)
    with pytest.raises(BasisMismatchError, match="n_fermions_per_spin"):
        nb.basis_map(th, nk.hilbert.SpinOrbitalFermions(6, s=0.5, n_fermions_per_spin=(1, 2)))
    with pytest.raises(BasisMismatchError, match="Spin"):
        nb.basis_map(t, nk.hilbert.SpinOrbitalFermions(6, s=0.5, n_fermions_per_spin=(1, 2)))


def test_scipy_operator_target():
    """QuSpin-style input: a plain scipy sparse matrix and inputs."""
    from nnqs_fast.physics import target_from_operator
    lat = Lattice(2, 2)
    H = tfim_hamiltonian(lat, 0.3)
    t = make_target("tfim", lx=2, ly=2, J=0.3)
    q = target_from_operator(sp.csc_matrix(H), kind="quench", psi0=np.ones(16), tau=2.1, inputs=t.inputs)
    assert abs(abs(np.vdot(q.psi, t.psi)) - 1) < 1e-12
    g = target_from_operator(H, kind="ground", inputs=t.inputs)
    w = np.linalg.eigvalsh(H.toarray())
    assert abs(g.energies["energy"] - w[0]) < 1e-12
    with pytest.raises(BasisMismatchError):
        target_from_operator(H, kind="ground", inputs=t.inputs[:5])


@pytest.fixture(scope="module")
def rbm_state():
    hi = nk.hilbert.Spin(0.5, 6)
    model = nk.models.RBM(alpha=1, param_dtype=complex)
    vs = nk.vqs.FullSumState(hi, model, seed=1)
    return hi, vs


def test_vstate_qsntk_matches_netket_jacobians(rbm_state):
    """Oracle: NetKet's own log-derivative Jacobian in its (n, 2, P) and holomorphic layouts."""
    hi, vs = rbm_state
    x = np.asarray(hi.all_states())
    psi = np.asarray(vs.to_array(normalize=False))
    k = nb.qsntk(vs, x=x)
    Jc = nk.jax.jacobian(vs._apply_fun, vs.parameters, x, vs.model_state, mode="complex", dense=True)
    ref = qsntk_from_jacobians(np.asarray(Jc), layout="n2p", psi=psi)
    Jh = nk.jax.jacobian(vs._apply_fun, vs.parameters, x, vs.model_state, mode="holomorphic", dense=True)
    ref_h = qsntk_from_jacobians(np.asarray(Jh), layout="holomorphic", psi=psi)
    kh = nb.qsntk(vs, x=x, holomorphic=True)
    scale = np.max(np.abs(ref.phi))
    for a in (k, kh, ref_h):
        assert np.max(np.abs(a.phi - ref.phi)) < 1e-10 * scale
        assert np.max(np.abs(a.theta - ref.theta)) < 1e-10 * scale
    assert np.max(np.abs(ref.theta)) < 1e-10 * scale  # holomorphic model: Theta vanishes
    # the failure modes of the issue are now loud or explicit
    with pytest.raises(AmbiguousJacobianLayoutError):
        qsntk_from_jacobians(np.asarray(Jc))
    naive = qsntk_from_jacobians(np.asarray(Jh) * psi[:, None])  # holomorphic J read as real-parameter J
    assert np.max(np.abs(naive.phi - ref.phi / 2)) < 1e-10 * scale


def test_vstate_qsntk_on_target_basis(rbm_state):
    hi, vs = rbm_state
    t = make_target("tfim", lx=2, ly=3)
    k = nb.qsntk(vs, t)
    index, _ = nb.basis_map(t, hi)
    full = nb.qsntk(vs)
    assert np.allclose(k.phi, full.phi[np.ix_(index, index)], rtol=0, atol=1e-12 * np.max(np.abs(full.phi)))
    with pytest.raises(BasisMismatchError):
        nb.qsntk(vs, make_target("tfim", lx=2, ly=2))


@pytest.mark.slow
def test_paper_size_tfim_and_hubbard_spectra():
    import scipy.sparse.linalg as spla
    op, hi, g = nk_tfim(3, 4, 0.1)
    t = make_target("tfim")
    index, _ = nb.basis_map(t, hi, graph=g)
    Hn = op.to_sparse().tocsr()
    Hp = tfim_hamiltonian(Lattice(3, 4), 0.1)
    assert abs(Hn[index][:, index] - Hp).max() < 1e-14
    v0 = np.random.default_rng(0).standard_normal(Hp.shape[0])   # a fixed start vector: no ARPACK-seeded draw
    wn = np.sort(spla.eigsh(Hn, k=4, which="SA", tol=1e-13, v0=v0[np.argsort(index)])[0])
    wp = np.sort(spla.eigsh(Hp, k=4, which="SA", tol=1e-13, v0=v0)[0])
    assert np.max(np.abs(wn - wp)) < 1e-11
    tn = nb.target_from_operator(op, kind="quench", psi0=np.ones(hi.n_states), tau=2.1)
    assert abs(abs(np.vdot(t.to_netket(hi, graph=g), tn.psi)) - 1) < 1e-12
    H, hf, g = nk_hubbard(3, 4, 2, 2, 1.0, 8.0)
    H0, _, _ = nk_hubbard(3, 4, 2, 2, 1.0, 4.0)
    th = make_target("hubbard")
    tn = nb.target_from_operator(H, kind="quench", H0=H0, tau=2.1)
    assert abs(abs(np.vdot(th.to_netket(hf, graph=g), tn.psi)) - 1) < 1e-10


def test_amplitudes_and_predicted_training_in_a_few_lines(rbm_state):
    """The docs' few-line recipe runs; t = 0 returns psi(0) and psi(0) is the state's own vector, mapped."""
    from nnqs_fast import qsntk_eta_max, qsntk_mse_predictor
    hi, vs = rbm_state
    t = make_target("tfim", lx=2, ly=3)
    k = nb.qsntk(vs, t, holomorphic=True)
    psi0 = nb.amplitudes(vs, t)
    index, sign = nb.basis_map(t, hi)
    assert np.allclose(psi0, sign * np.asarray(vs.to_array(normalize=False))[index], rtol=1e-12, atol=0)
    out = qsntk_mse_predictor(k, t.psi, 0.5 * qsntk_eta_max(k), discrete=True)([0, 5], fx_train_0=psi0)
    assert np.allclose(out[0], psi0, rtol=0, atol=1e-12 * np.max(np.abs(psi0)))
    assert np.linalg.norm(out[1] - t.psi) < np.linalg.norm(psi0 - t.psi)
