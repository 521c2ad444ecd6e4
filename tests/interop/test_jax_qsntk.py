"""empirical_qsntk_fn for JAX/flax models against brute force over the REAL parameters.

Oracle: the real parameter vector is built here independently (``ravel_pytree`` of the parameters, then
``[Re; Im]``; real leaves get dummy imaginary entries whose Jacobian columns are zero), the explicit Jacobian
``d psi / d theta_real`` comes from ``jax.jacfwd`` (one case also from central finite differences), and the
package's ``qsntk_from_jacobians`` turns it into Theta/Phi/mixing.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)
from jax.flatten_util import ravel_pytree  # noqa: E402

from nnqs_fast.errors import NotHolomorphicError, ZeroAmplitudeError  # noqa: E402
from nnqs_fast.interop import empirical_qsntk_fn as generic_fn  # noqa: E402
from nnqs_fast.interop.jax import empirical_qsntk_fn, linearize  # noqa: E402
from nnqs_fast.kernels import qsntk_from_jacobians  # noqa: E402


def brute_jacobian(apply_fn, params, x, output="psi"):
    flat, unravel = ravel_pytree(params)
    flat = flat.astype(jnp.complex128)
    P = flat.size

    def psi(theta):
        p = unravel((theta[:P] + 1j * theta[P:]).astype(flat.dtype))
        p = jax.tree_util.tree_map(lambda new, old: (new if jnp.iscomplexobj(old) else jnp.real(new)).astype(old.dtype),
                                   p, params)
        v = jnp.reshape(apply_fn(p, x), (-1,))
        return jnp.exp(v) if output == "log_psi" else v

    theta = jnp.concatenate([flat.real, flat.imag])
    return np.asarray(jax.jacfwd(psi)(theta)), psi, theta


def close(k, ref, rtol=1e-10):
    scale = max(np.max(np.abs(ref.phi)), 1e-300)  # Theta may vanish identically: compare on Phi's scale
    for f in ("theta", "phi", "theta1", "theta2", "mixing", "mixing_t"):
        a, b = np.asarray(getattr(k, f)), np.asarray(getattr(ref, f))
        assert np.max(np.abs(a - b)) <= rtol * scale, (f, np.max(np.abs(a - b)), scale)


def mixed_model():
    """Non-holomorphic: complex and real leaves, |.| and conj of a parameter."""
    k = jax.random.split(jax.random.PRNGKey(3), 4)
    params = {"W": jax.random.normal(k[0], (7, 4)) + 1j * jax.random.normal(k[1], (7, 4)),
              "a": jax.random.normal(k[2], (7,)),
              "b": jnp.asarray(0.3 - 0.2j)}

    def apply(p, x):
        h = jnp.tanh(x @ p["W"].T / 2)
        return h @ p["a"] + jnp.conj(p["b"]) * jnp.abs(h[:, 0]) + p["b"] * jnp.sum(h, 1) ** 2 / 7
    return apply, params


def holo_model():
    k = jax.random.split(jax.random.PRNGKey(5), 4)
    params = {"W": 0.3 * (jax.random.normal(k[0], (6, 4)) + 1j * jax.random.normal(k[1], (6, 4))),
              "c": 0.1 * (jax.random.normal(k[2], (6,)) + 1j * jax.random.normal(k[3], (6,)))}

    def log_apply(p, x):  # a complex RBM-like log psi: holomorphic in the parameters
        return jnp.sum(jnp.log(jnp.cosh(x @ p["W"].T + p["c"])), axis=1)
    return log_apply, params


@pytest.fixture
def x(rng):
    return rng.choice([-1.0, 1.0], size=(11, 4))


@pytest.mark.parametrize("chunk", [None, 3])
def test_non_holomorphic_psi_matches_brute_force(x, chunk):
    apply, params = mixed_model()
    J, _, _ = brute_jacobian(apply, params, x)
    ref = qsntk_from_jacobians(J)
    k = empirical_qsntk_fn(apply, chunk_size=chunk)(x, None, params)
    close(k, ref)
    assert np.max(np.abs(k.mixing)) > 1e-3  # the mixing kernel is really exercised


def test_cross_block_x2(x, rng):
    apply, params = mixed_model()
    x2 = rng.choice([-1.0, 1.0], size=(5, 4))
    J1, _, _ = brute_jacobian(apply, params, x)
    J2, _, _ = brute_jacobian(apply, params, x2)
    ref = qsntk_from_jacobians(J1, J2)
    close(empirical_qsntk_fn(apply, chunk_size=4)(x, x2, params), ref)


def test_finite_differences_oracle(x):
    """The jacfwd oracle itself against central differences (float64, h = 1e-6)."""
    apply, params = mixed_model()
    J, psi, theta = brute_jacobian(apply, params, x)
    h = 1e-6
    cols = [2, 30, int(theta.size) - 1, int(theta.size) // 2 + 1]
    for c in cols:
        e = jnp.zeros_like(theta).at[c].set(h)
        fd = (np.asarray(psi(theta + e)) - np.asarray(psi(theta - e))) / (2 * h)
        assert np.allclose(fd, J[:, c], atol=1e-7)


@pytest.mark.parametrize("holomorphic", [False, True])
def test_log_psi_holomorphic_matches_brute_force(x, holomorphic):
    log_apply, params = holo_model()
    J, _, _ = brute_jacobian(log_apply, params, x, output="log_psi")
    ref = qsntk_from_jacobians(J)
    k = empirical_qsntk_fn(log_apply, output="log_psi", holomorphic=holomorphic, chunk_size=5)(x, None, params)
    close(k, ref)
    if holomorphic:  # derived identities: Theta = 0, Phi = 2 F F^H (docs/interop.md)
        assert np.max(np.abs(ref.theta)) < 1e-10 * np.max(np.abs(ref.phi))


def test_holomorphic_probe_rejects_non_holomorphic(x):
    apply, params = mixed_model()
    params = {k: v.astype(jnp.complex128) for k, v in params.items()}
    with pytest.raises(NotHolomorphicError, match="Cauchy-Riemann"):
        empirical_qsntk_fn(apply, holomorphic=True)(x, None, params)


def test_log_psi_zero_amplitude_is_named(x):
    def apply(p, x):
        return jnp.where(x[:, 0] > 0, -jnp.inf, 0.0) + p["a"] * x[:, 1]
    with pytest.raises(ZeroAmplitudeError, match="zero or not finite"):
        empirical_qsntk_fn(apply, output="log_psi")(x, None, {"a": jnp.asarray(0.5)})


def test_generic_dispatch_and_linearize(x):
    apply, params = mixed_model()
    k = generic_fn(apply)(x, None, params)
    assert k.shape == (x.shape[0], x.shape[0])
    f_lin = linearize(apply, params)
    dp = jax.tree_util.tree_map(lambda a: 1e-4 * jnp.ones_like(a), params)
    p1 = jax.tree_util.tree_map(lambda a, b: a + b, params, dp)
    # exact for the linear term: difference to the true model is second order in |dp|
    err = np.max(np.abs(np.asarray(f_lin(p1, x)) - np.asarray(apply(p1, x))))
    lin_step = np.max(np.abs(np.asarray(f_lin(p1, x)) - np.asarray(apply(params, x))))
    assert err < 1e-3 * lin_step
