"""Built-in networks: seeded init, forward passes, explicit Jacobians vs central finite differences, and the
Cos-net / Gauss-net output covariance vs Eq. 4 / S27 by sampling."""

from __future__ import annotations

import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast.errors import InvalidInputError, NonFiniteError, ShapeMismatchError
from nnqs_fast.networks.complex_single import ComplexSingleParams
from nnqs_fast.networks.cosnet import CosNetParams
from nnqs_fast.networks.gaussnet import GaussNetParams
from nnqs_fast.networks.relu import relu_from_vector, relu_param_vector


def _fd(fun, theta, eps=1e-6):
    cols = []
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = eps
        cols.append((fun(theta + e) - fun(theta - e)) / (2 * eps))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_relu_jacobian_matches_finite_differences(depth, rng):
    p = nf.init_relu(3, 4, 6, depth=depth, W_std=1.3, b_std=0.4)
    x = rng.standard_normal((5, 4))
    J = nf.relu_jacobian(p, x)
    assert J.shape == (5, p.n_params)
    fd = _fd(lambda th: nf.apply_relu(relu_from_vector(p, th), x), relu_param_vector(p))
    np.testing.assert_allclose(J, fd, atol=1e-7)


def test_cosnet_jacobian_matches_finite_differences(rng):
    p = nf.init_cosnet(1, 3, 5, sigma_a=1.7, sigma_w=0.9)
    x = rng.standard_normal((4, 3))
    th0 = np.concatenate([p.a, p.w.ravel(), p.b])

    def f(th):
        q = CosNetParams(th[:5], th[5:20].reshape(5, 3), th[20:], p.sigma_a, p.sigma_w)
        return nf.apply_cosnet(q, x)

    np.testing.assert_allclose(nf.cosnet_jacobian(p, x, "all"), _fd(f, th0), atol=1e-7)
    np.testing.assert_allclose(nf.cosnet_jacobian(p, x, "last"), _fd(f, th0)[:, :5], atol=1e-7)


def test_gaussnet_jacobian_matches_finite_differences(rng):
    p = nf.init_gaussnet(2, 3, 5, sigma=0.8, sigma_a=1.2)
    x = 0.5 * rng.standard_normal((4, 3))
    th0 = np.concatenate([p.a, p.w.ravel()])

    def f(th):
        return nf.apply_gaussnet(GaussNetParams(th[:5], th[5:].reshape(5, 3), p.sigma, p.sigma_a), x)

    np.testing.assert_allclose(nf.gaussnet_jacobian(p, x, "all"), _fd(f, th0), atol=1e-7)


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_complex_single_jacobian_matches_finite_differences(act, rng):
    p = nf.init_complex_single(4, 2, 5, activation=act)
    x = rng.standard_normal((4, 2))
    th0 = np.concatenate([p.a, p.b, p.c.ravel()])

    def f(th):
        return nf.apply_complex_single(ComplexSingleParams(th[:5], th[5:10], th[10:].reshape(5, 2), act), x)

    np.testing.assert_allclose(nf.complex_single_jacobian(p, x), _fd(f, th0), atol=1e-7)


def test_seeded_init_is_reproducible_and_seed_dependent():
    a, b, c = nf.init_relu(7, 3, 10), nf.init_relu(7, 3, 10), nf.init_relu(8, 3, 10)
    assert all(np.array_equal(u, v) for u, v in zip(a.weights, b.weights))
    assert not np.array_equal(a.weights[0], c.weights[0])
    for init in (nf.init_cosnet, nf.init_gaussnet, nf.init_complex_single):
        p, q = init(5, 3, 4), init(5, 3, 4)
        assert np.array_equal(p.a, q.a)


def test_cosnet_bias_is_uniform_per_hidden_unit():
    p = nf.init_cosnet(0, 3, 20000)
    assert p.b.shape == (20000,)
    assert p.b.min() >= -np.pi and p.b.max() <= np.pi
    assert abs(p.b.mean()) < 0.05 and abs(p.b.var() - np.pi ** 2 / 3) < 0.05


def test_forward_is_linear_in_readout(rng):
    x = rng.standard_normal((5, 3))
    p = nf.init_cosnet(1, 3, 7)
    np.testing.assert_allclose(nf.apply_cosnet(p, x), nf.cosnet_jacobian(p, x) @ p.a, rtol=1e-12)
    q = nf.init_gaussnet(1, 3, 7)
    np.testing.assert_allclose(nf.apply_gaussnet(q, 0.5 * x), nf.gaussnet_jacobian(q, 0.5 * x) @ q.a, rtol=1e-12)


# Output covariance by sampling: the hidden units of one very wide network are i.i.d. width-1 networks, so
# sqrt(N) * (unit i's contribution) are independent samples of a width-1 network's output.
K = 400_000


def test_cosnet_output_covariance_is_eq4(rng):
    """E[f(x) f(y)] = (sigma_a^2/2) exp(-sigma_w^2 |x-y|^2 / (2d)) (one bias per hidden unit)."""
    x = 0.6 * rng.standard_normal((4, 3))
    p = nf.init_cosnet(11, 3, K, sigma_a=1.5, sigma_w=1.2)
    f = 1.5 * p.a[None, :] * np.cos(1.2 / np.sqrt(3) * x @ p.w.T + p.b)  # (4, K) samples
    cov = f @ f.T / K
    r2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    eq4 = 1.5 ** 2 / 2 * np.exp(-1.2 ** 2 * r2 / (2 * 3))
    np.testing.assert_allclose(cov, eq4, atol=0.015)  # ~5 standard errors
    np.testing.assert_allclose(nf.cosnet_kernel_fn(1.5, 1.2)(x, get="nngp"), eq4, rtol=1e-12)


def test_cosnet_per_input_bias_gives_a_different_kernel(rng):
    """The transcription of Eq. 3 with one bias per *input* does not reproduce Eq. 4 (why we use per-unit b)."""
    x = np.array([[0.3, -0.2, 0.1], [0.0, 0.4, -0.5]])
    g = np.random.default_rng(3)
    a, w, bj = g.standard_normal(K), g.standard_normal((K, 3)), g.uniform(-np.pi, np.pi, (K, 3))
    f = a[None] * np.cos(x[:, None, :] * w[None] + bj[None]).sum(-1)
    cov = f @ f.T / K
    eq4 = 0.5 * np.exp(-((x[0] - x[1]) ** 2).sum() / 6)
    assert abs(cov[0, 1] - eq4) > 0.2


def test_gaussnet_output_covariance_is_s27(rng):
    x = 0.4 * rng.standard_normal((4, 3))
    p = nf.init_gaussnet(12, 3, K, sigma=1.1, sigma_a=1.3)
    g = np.exp(1.1 / np.sqrt(3) * x @ p.w.T - 1.1 ** 2 / 3 * (x * x).sum(1)[:, None])
    f = 1.3 * p.a[None, :] * g
    cov = f @ f.T / K
    r2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    s27 = 1.3 ** 2 * np.exp(-1.1 ** 2 * r2 / (2 * 3))
    np.testing.assert_allclose(cov, s27, atol=0.03)
    np.testing.assert_allclose(nf.gaussnet_kernel_fn(1.1, 1.3)(x, get="nngp"), s27, rtol=1e-12)


def test_network_input_errors(rng):
    p = nf.init_relu(0, 3, 4)
    with pytest.raises(ShapeMismatchError):
        nf.apply_relu(p, rng.standard_normal((2, 4)))
    with pytest.raises(NonFiniteError):
        nf.apply_relu(p, np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(InvalidInputError):
        nf.init_cosnet(0, 0, 3)
    with pytest.raises(InvalidInputError):
        nf.init_complex_single(0, 2, 3, activation="tanh")
    with pytest.raises(ShapeMismatchError):
        nf.cosnet_jacobian(nf.init_cosnet(0, 3, 4), rng.standard_normal((2, 2)))
