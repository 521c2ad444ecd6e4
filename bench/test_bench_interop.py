"""Benchmark: QS-NTK of a NetKet-style FFN with complex parameters (nnqs_fast.interop.jax.empirical_qsntk_fn).

Baseline in the same group: the unchunked route, the whole real Jacobian at once (``jax.vmap(jax.jacrev)`` of the
real-split model, as neural-tangents' jacobian contraction materialises it) and ``qsntk_from_jacobians``.
Correctness: both give the same Theta1, Theta2, mixing. Default size: 2x3 lattice (64 states), width 64;
``NNQS_BENCH_FULL=1``: 3x4 (4096 states), width 1024 (the issue's size; the side-by-side comparison with
neural-tangents itself is bench/peers/interop_vs_nt.py).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("flax")
jax.config.update("jax_enable_x64", True)
import flax.linen as nn  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from nnqs_fast.interop.jax import RealSplit, empirical_qsntk_fn  # noqa: E402
from nnqs_fast.kernels import qsntk_from_jacobians  # noqa: E402

FULL = os.environ.get("NNQS_BENCH_FULL") == "1"
L, WIDTH = (12, 1024) if FULL else (6, 64)


class FFN(nn.Module):
    """``psi = v . log cosh(W x + b) + c`` with complex parameters (the worked example's FFN)."""

    width: int

    @nn.compact
    def __call__(self, x):
        h = nn.Dense(self.width, param_dtype=complex,
                     kernel_init=jax.nn.initializers.normal(1 / np.sqrt(x.shape[-1])))(x)
        h = jnp.log(jnp.cosh(h))
        return nn.Dense(1, param_dtype=complex, kernel_init=jax.nn.initializers.normal(1 / np.sqrt(self.width)))(h)[
            ..., 0]


@pytest.fixture(scope="module")
def setup():
    states = 2.0 * ((np.arange(2 ** L)[:, None] >> np.arange(L)[None, :]) & 1) - 1.0
    x = jnp.asarray(states)
    model = FFN(WIDTH)
    params = model.init(jax.random.PRNGKey(0), x[:1])["params"]

    def apply(p, xs):
        return model.apply({"params": p}, xs)
    return apply, params, x


def full_jacobian_baseline(apply, params, x):
    rs = RealSplit(params)

    def one(r, xi):
        v = apply(rs.merge(r), xi[None])[0]
        return jnp.stack([v.real, v.imag])
    jac = jax.jit(jax.vmap(jax.jacrev(one), in_axes=(None, 0)))(rs.split(params), x)
    J = jnp.concatenate([j.reshape(x.shape[0], 2, -1) for j in jac], axis=2)
    return qsntk_from_jacobians(np.asarray(J), layout="n2p")


@pytest.mark.benchmark(group="interop-qsntk-ffn")
def test_bench_empirical_qsntk_fn(benchmark, setup):
    apply, params, x = setup
    fn = empirical_qsntk_fn(apply)
    k = benchmark.pedantic(fn, args=(x, None, params), rounds=1, iterations=1)
    ref = full_jacobian_baseline(apply, params, x)
    scale = np.max(np.abs(ref.phi))
    for f in ("theta1", "theta2", "mixing"):
        assert np.max(np.abs(getattr(k, f) - getattr(ref, f))) < 1e-10 * scale


@pytest.mark.benchmark(group="interop-qsntk-ffn")
def test_bench_full_jacobian_baseline(benchmark, setup):
    apply, params, x = setup
    k = benchmark.pedantic(full_jacobian_baseline, args=(apply, params, x), rounds=1, iterations=1)
    assert k.shape == (x.shape[0], x.shape[0]) and np.all(np.isfinite(k.phi))
