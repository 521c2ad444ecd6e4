"""The architecture objects (one spec per family) against independent oracles: Gaussian quadrature of the
activation duals, Monte Carlo over wide networks, finite differences of ``apply``, the C++ ReLU kernel against
the NumPy recursion, closed forms for a linear activation registered in the test; defaults live in one place."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from scipy import integrate

import nnqs_fast as nf
from nnqs_fast.errors import InvalidInputError
from nnqs_fast.networks import (
    B_STD,
    W_STD,
    Activation,
    ComplexSingle,
    CosNet,
    DenseNet,
    GaussNet,
    ReLUNet,
    get_activation,
    register_activation,
)
from nnqs_fast.networks.erf import erf_dual
from nnqs_fast.networks.relu import relu_dual

PHI = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)  # noqa: E731


def _quad_expectation(f, k11, k12, k22):
    """E[f(u, v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]), by dblquad over standard normal coordinates."""
    L = np.linalg.cholesky(np.array([[k11, k12], [k12, k22]]))
    return integrate.dblquad(lambda z1, z0: f(L[0, 0] * z0, L[1, 0] * z0 + L[1, 1] * z1) * PHI(z0) * PHI(z1),
                             -8, 8, -8, 8, epsabs=1e-8, epsrel=1e-8)[0]


@pytest.mark.parametrize("k11,k12,k22", [(1.0, 0.3, 2.0), (0.5, -0.45, 0.6), (2.0, 1.9, 2.1)])
def test_duals_equal_gaussian_quadrature(k11, k12, k22):
    from scipy.special import erf

    ess, edd = erf_dual(k12, k11, k22)
    assert ess == pytest.approx(_quad_expectation(lambda u, v: erf(u) * erf(v), k11, k12, k22), rel=1e-6)
    derf = lambda u: 2 / np.sqrt(np.pi) * np.exp(-u * u)  # noqa: E731
    assert edd == pytest.approx(_quad_expectation(lambda u, v: derf(u) * derf(v), k11, k12, k22), rel=1e-6)
    ess, edd = relu_dual(k12, k11, k22)
    # the kinks make the plain quadrature less accurate: a looser tolerance (test_analytic integrates exactly)
    assert ess == pytest.approx(_quad_expectation(lambda u, v: max(u, 0) * max(v, 0), k11, k12, k22), rel=1e-4)
    # E[step step] = P(u > 0, v > 0): Monte Carlo (4e6 samples, 5 standard errors)
    uv = np.random.default_rng(1).normal(size=(4_000_000, 2)) @ np.linalg.cholesky([[k11, k12], [k12, k22]]).T
    hits = np.all(uv > 0, axis=1)
    assert abs(edd - hits.mean()) < 5 * hits.std() / 2000


def test_relu_dual_zero_variance_and_equal_arguments():
    ess, edd = relu_dual(0.0, 0.0, 1.0)
    assert ess == 0.0 and edd == 0.0
    ess, edd = relu_dual(2.0, 2.0, 2.0)  # cos t = 1: E[relu(u)^2] = k/2, E[step^2] = 1/2
    assert ess == pytest.approx(1.0, rel=1e-15) and edd == pytest.approx(0.5, rel=1e-15)


def test_erf_dense_kernel_equals_wide_network_average(rng):
    """NNGP of a one-hidden-layer erf network: Monte Carlo over the hidden units of a very wide layer."""
    d, N, W, b = 4, 400_000, 1.3, 0.2
    x = rng.normal(size=(3, d))
    z = (W / math.sqrt(d)) * x @ rng.normal(size=(d, N)) + b * rng.normal(size=N)
    h = get_activation("erf").fn(z)
    emp = W * W * (h @ h.T) / N + b * b
    kf = DenseNet("erf", 1, W, b).kernel_fn()
    np.testing.assert_allclose(kf(x, get="nngp"), emp, rtol=1e-2, atol=1e-3)


def test_dense_ntk_equals_wide_network_jacobian(rng):
    """NTK of a one-hidden-layer erf network: the empirical J Jᵀ of one wide network (error ~ 1/sqrt(width))."""
    net = DenseNet("erf", 1, 1.1, 0.3)
    x = rng.normal(size=(3, 5))
    J = net.jacobian(net.init(3, 5, 50_000), x)
    np.testing.assert_allclose(J @ J.T, net.kernel_fn()(x, get="ntk"), rtol=0.02, atol=0.01)


def test_jacobian_equals_finite_differences(rng):
    net = DenseNet("erf", 2, 0.9, 0.2)
    p = net.init(1, 3, 6)
    x = rng.normal(size=(4, 3))
    J = net.jacobian(p, x)
    col, eps = 0, 1e-6
    flat = [a for pair in zip(p.weights, p.biases) for a in pair]
    for arr in flat:
        for idx in np.ndindex(arr.shape):
            saved = arr[idx]
            arr[idx] = saved + eps
            fp = net.apply(p, x)
            arr[idx] = saved - eps
            fm = net.apply(p, x)
            arr[idx] = saved
            np.testing.assert_allclose(J[:, col], (fp - fm) / (2 * eps), rtol=1e-6, atol=1e-8)
            col += 1
    assert col == J.shape[1] == p.n_params


def test_relu_cpp_kernel_equals_numpy_recursion_and_gp_kernel(rng):
    net = ReLUNet(depth=3, W_std=1.2, b_std=0.4)
    x1, x2 = rng.normal(size=(7, 4)), rng.normal(size=(5, 4))
    k, th = nf.networks.dense_kernels(x1 @ x2.T, (x1 * x1).sum(1)[:, None], (x2 * x2).sum(1)[None, :], input_dim=4,
                                      depth=3, W_std=1.2, b_std=0.4)
    out = net.kernel_fn()(x1, x2, backend="cpu")
    np.testing.assert_allclose(out.nngp, k, rtol=1e-12)
    np.testing.assert_allclose(out.ntk, th, rtol=1e-12)
    np.testing.assert_allclose(net.gp_kernel(4)(x1, x2), out.nngp, rtol=1e-12)


def test_stationary_specs_match_their_closed_forms(rng):
    x = rng.normal(size=(4, 3))
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    dot = x @ x.T
    cos = CosNet(1.5, 0.8, "all")
    nngp = 1.5 ** 2 / 2 * np.exp(-0.8 ** 2 * d2 / (2 * 3))
    out = cos.kernel_fn()(x)
    np.testing.assert_allclose(out.nngp, nngp, rtol=1e-12)
    np.testing.assert_allclose(out.ntk, nngp * (2 + 0.8 ** 2 * dot / 3), rtol=1e-12)
    np.testing.assert_allclose(cos.gp_kernel(3)(x), nngp, rtol=1e-12)
    gauss = GaussNet(sigma=0.7, sigma_a=1.4)
    nngp = 1.4 ** 2 * np.exp(-0.7 ** 2 * d2 / (2 * 3))
    np.testing.assert_allclose(gauss.kernel_fn()(x, get="ntk"), nngp, rtol=1e-12)
    np.testing.assert_allclose(gauss.gp_kernel(3)(x), nngp, rtol=1e-12)


def test_complex_single_spec_matches_monte_carlo(rng):
    x = rng.normal(size=(3, 2))
    for act in ("relu", "erf"):
        spec = ComplexSingle(act)
        q = spec.qsntk(x, backend="cpu")
        J = spec.jacobian(spec.init(5, 2, 100_000), x)
        np.testing.assert_allclose(J @ J.conj().T, q.phi, rtol=0.03, atol=0.02)


def test_new_activation_needs_only_its_registration(rng):
    """A linear activation registered here: the dense-layer recursion needs only its dual (E[uv] = k12,
    E[1·1] = 1), so K_{l+1} = W² K_l + b² and Θ_{l+1} = W² Θ_l + K_{l+1} in closed form."""
    name = "linear_for_test"
    try:
        act = get_activation(name)
    except InvalidInputError:
        act = register_activation(Activation(name, lambda z: z, np.ones_like,
                                             lambda k12, k11, k22: (np.asarray(k12, float), np.ones(np.shape(k12)))))
    with pytest.raises(InvalidInputError):
        register_activation(Activation(name, act.fn, act.deriv, act.dual))
    W, b, depth = 0.9, 0.3, 3
    x = rng.normal(size=(4, 3))
    K = W * W * (x @ x.T) / 3 + b * b
    T = K.copy()
    for _ in range(depth):
        K = W * W * K + b * b
        T = W * W * T + K
    net = DenseNet(name, depth, W, b)
    out = net.kernel_fn()(x, backend="cpu")
    np.testing.assert_allclose(out.nngp, K, rtol=1e-12)
    np.testing.assert_allclose(out.ntk, T, rtol=1e-12)
    p = net.init(0, 3, 8)
    f = net.apply(p, x)  # a linear network: f is affine in x
    f2 = net.apply(p, 2 * x)
    f0 = net.apply(p, 0 * x)
    np.testing.assert_allclose(f2 - f0, 2 * (f - f0), rtol=1e-10, atol=1e-12)


def test_defaults_live_in_one_place():
    assert (W_STD, B_STD) == (0.5, 0.1)
    net = ReLUNet()
    assert (net.depth, net.W_std, net.b_std) == (1, W_STD, B_STD)
    for fn in (nf.init_relu, nf.relu_kernel_fn, nf.relu_nngp_kernel):
        sig = inspect.signature(fn)
        assert sig.parameters["W_std"].default is W_STD and sig.parameters["b_std"].default is B_STD, fn


def test_wrappers_and_specs_agree_on_parameters():
    p = nf.init_relu(7, 3, 5, depth=2, W_std=0.7, b_std=0.2)
    assert isinstance(p, nf.ReLUParams) and p.depth == 2 and (p.W_std, p.b_std) == (0.7, 0.2)
    q = ReLUNet(depth=2, W_std=0.7, b_std=0.2).init(7, 3, 5)
    assert all(np.array_equal(a, b) for a, b in zip(p.weights + p.biases, q.weights + q.biases))
    kf = nf.relu_kernel_fn(2, 0.7, 0.2)
    assert (kf.depth, kf.W_std, kf.b_std) == (2, 0.7, 0.2)
    assert nf.relu_nngp_kernel(3, 2, 0.7, 0.2) == ReLUNet(2, 0.7, 0.2).gp_kernel(3)
    with pytest.raises(InvalidInputError):
        ReLUNet(activation="erf")
    with pytest.raises(InvalidInputError):
        DenseNet("no_such_activation")
    with pytest.raises(InvalidInputError):
        ReLUNet(depth=0)
    with pytest.raises(InvalidInputError):
        DenseNet("erf").gp_kernel(3)
    with pytest.raises(nf.errors.BackendUnavailableError):  # no CUDA erf kernel (and no device here)
        DenseNet("erf").kernel_fn()(np.ones((2, 3)), backend="cuda")


def test_dense_relu_params_work_with_the_structured_kernels(rng):
    """DenseNet("relu") gives ReLUParams, so the compiled structured NTK accepts it; equal to J Jᵀ (the Jacobian
    from the architecture object's pieces, checked against finite differences above)."""
    net = DenseNet("relu", 2, 0.8, 0.2)
    p = net.init(4, 3, 7)
    assert isinstance(p, nf.ReLUParams)
    x = rng.normal(size=(5, 3))
    J = net.jacobian(p, x)
    np.testing.assert_allclose(nf.empirical_ntk(p, x, backend="cpu"), J @ J.T, rtol=1e-10, atol=1e-12)
