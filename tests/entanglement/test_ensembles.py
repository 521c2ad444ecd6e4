"""Sampled NNQS ensembles: the streaming Cos-net/Gauss-net evaluators equal a direct forward pass, the empirical
two-point function matches the NNGP kernel (Eq. 4), per-member entropies equal the state functions, statistics
are mean ± SEM, and a wide near-delta Cos-net ensemble sits at the Page value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnqs_fast import errors
from nnqs_fast._random import member_seeds
from nnqs_fast._random import rng as make_rng
from nnqs_fast.entanglement import (
    cosnet_gp_kernel,
    entanglement_entropy,
    gaussnet_gp_kernel,
    page_entropy,
    parse_entropy_kind,
    renyi_entropy,
    sample_ensemble_entropies,
    sample_nnqs_state,
    spin_basis_inputs,
)
from nnqs_fast.entanglement.ensembles import _cosnet_matrix, _gaussnet_matrix
from nnqs_fast.networks.relu import apply_relu, init_relu


def test_streaming_evaluators_equal_direct_forward_pass():
    L, N = 5, 37
    XA, XB, X = spin_basis_inputs(2), spin_basis_inputs(3), spin_basis_inputs(5)
    for chunk in (5, 64):
        M = _cosnet_matrix(3, L, N, 1.5, 2.0, XA, XB, chunk)
        g = make_rng(3)
        a, W = g.normal(0, 1.5 / math.sqrt(N), N), g.normal(0, 2 / math.sqrt(L), (N, L))
        b = g.uniform(-math.pi, math.pi, N)
        np.testing.assert_allclose(M.T.ravel(), np.cos(X @ W.T + b) @ a, atol=1e-13)
        M = _gaussnet_matrix(3, L, N, 1.5, 2.0, XA, XB, chunk)
        g = make_rng(3)
        a, W = g.normal(0, 1.5 / math.sqrt(N), N), g.normal(0, 2 / math.sqrt(L), (N, L))
        np.testing.assert_allclose(M.T.ravel(), np.exp(X @ W.T - 4.0 / L * np.sum(X * X, 1)[:, None]) @ a,
                                   atol=1e-12)


@pytest.mark.parametrize("net,kern", [("cosnet", cosnet_gp_kernel), ("gaussnet", gaussnet_gp_kernel)])
def test_empirical_two_point_function_matches_nngp_kernel(net, kern):
    L, N, K, sa, sw = 3, 300, 1500, 1.3, 1.2
    X = spin_basis_inputs(L)
    vals = np.stack([sample_nnqs_state(net, n_sites=L, width=N, seed=s, sigma_a=sa, sigma_w=sw, complex_psi=False,
                                       normalize=False) for s in range(K)])
    emp = vals.T @ vals / K
    ref = kern(sa, sw, L)(X)
    se = np.sqrt((vals[:, :, None] ** 2 * vals[:, None, :] ** 2).mean(0) / K)
    assert np.all(np.abs(emp - ref) < 5 * se + 1e-3)


def test_members_equal_state_functions_and_statistics():
    L, K, N = 6, 5, 20
    seeds = member_seeds(7, 2 * K)

    def net(seed, x):  # a deterministic custom network: ReLU MLP from the package
        return apply_relu(init_relu(seed, x.shape[1], N), x)

    cuts = [3, [0, 5], [1, 2, 4]]
    r = sample_ensemble_entropies(net, n_sites=L, n_members=K, width=N, cuts=cuts, seed=7,
                                  kinds=("vn", "renyi2", ("renyi", np.inf), "tsallis2"))
    r_builtin = sample_ensemble_entropies("relu", n_sites=L, n_members=K, width=N, cuts=cuts, seed=7)
    X = spin_basis_inputs(L)
    ref = np.empty((K, 3))
    for k in range(K):
        psi = apply_relu(init_relu(seeds[2 * k], L, N), X) + 1j * apply_relu(init_relu(seeds[2 * k + 1], L, N), X)
        psi /= np.linalg.norm(psi)
        ref[k] = [entanglement_entropy(psi, c) for c in cuts]
        assert r.values["renyi2"][k, 1] == pytest.approx(renyi_entropy(psi, [0, 5], n=2), rel=1e-10)
    np.testing.assert_allclose(r.values["vn"], ref, rtol=1e-10)
    np.testing.assert_allclose(r_builtin.values["vn"], ref, rtol=1e-10)
    np.testing.assert_allclose(r.mean["vn"], ref.mean(0), rtol=1e-12)
    np.testing.assert_allclose(r.sem["vn"], ref.std(0, ddof=1) / math.sqrt(K), rtol=1e-10)
    assert set(r.values) == {"vn", "renyi2", "renyi_inf", "tsallis2"}
    assert r.cuts == ((0, 1, 2), (0, 5), (1, 2, 4))
    # Rényi monotonicity per member
    assert np.all(r.values["renyi_inf"] <= r.values["renyi2"] + 1e-12)
    assert np.all(r.values["renyi2"] <= r.values["vn"] + 1e-12)


def test_wide_near_delta_cosnet_reaches_page_value():
    L, K = 6, 60
    r = sample_ensemble_entropies("cosnet", n_sites=L, n_members=K, width=3000, cuts=[1, 2, 3], seed=1,
                                  sigma_a=10.0, sigma_w=30.0)
    for i, k in enumerate((1, 2, 3)):
        page = page_entropy(2 ** k, 2 ** (L - k))
        assert abs(r.mean["vn"][i] - page) < 4 * r.sem["vn"][i] + 0.01


def test_chunking_does_not_change_results():
    a = sample_ensemble_entropies("gaussnet", n_sites=5, n_members=3, width=50, cuts=[2], seed=3, chunk_size=7)
    b = sample_ensemble_entropies("gaussnet", n_sites=5, n_members=3, width=50, cuts=[2], seed=3)
    np.testing.assert_allclose(a.values["vn"], b.values["vn"], rtol=1e-12)
    c = sample_ensemble_entropies("gaussnet", n_sites=5, n_members=5, width=50, cuts=[2], seed=3)
    np.testing.assert_allclose(c.values["vn"][:3], b.values["vn"], rtol=1e-12)  # member k independent of K


def test_errors():
    with pytest.raises(errors.InvalidInputError):
        sample_ensemble_entropies("resnet", n_sites=4, n_members=2, width=3)
    with pytest.raises(errors.InvalidInputError):
        sample_ensemble_entropies("cosnet", n_sites=4, n_members=0, width=3)
    with pytest.raises(errors.InvalidInputError):
        sample_ensemble_entropies("cosnet", n_sites=4, n_members=2, width=3, cuts=[[0, 9]])
    with pytest.raises(errors.InvalidInputError):
        sample_ensemble_entropies("cosnet", n_sites=4, n_members=2, width=3, kinds=("shannon",))
    with pytest.raises(errors.InvalidInputError):
        sample_ensemble_entropies("cosnet", n_sites=4, n_members=2, width=3, sigma_w=-1.0)
    assert parse_entropy_kind("renyi1") == ("vn", "vn", None)
    assert parse_entropy_kind("Renyi_inf")[0] == "renyi_inf"
    assert parse_entropy_kind(("tsallis", 2.5))[0] == "tsallis2.5"


def test_private_evaluators_equal_the_networks_area():
    """Same seed -> same network as nnqs_fast.networks.cosnet / gaussnet (skipped until the kernels area lands)."""
    cos = pytest.importorskip("nnqs_fast.networks.cosnet")
    gauss = pytest.importorskip("nnqs_fast.networks.gaussnet")
    L, N = 5, 23
    X = spin_basis_inputs(L)
    XA, XB = spin_basis_inputs(2), spin_basis_inputs(3)
    p = cos.init_cosnet(11, L, N, sigma_a=1.7, sigma_w=2.2)
    np.testing.assert_allclose(_cosnet_matrix(11, L, N, 1.7, 2.2, XA, XB, 8).T.ravel(), cos.apply_cosnet(p, X),
                               rtol=1e-10, atol=1e-12)
    q = gauss.init_gaussnet(11, L, N, sigma=1.2, sigma_a=0.9)
    np.testing.assert_allclose(_gaussnet_matrix(11, L, N, 0.9, 1.2, XA, XB, 8).T.ravel(), gauss.apply_gaussnet(q, X),
                               rtol=1e-10, atol=1e-12)
