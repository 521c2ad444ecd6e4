"""nnqs_fast.interop.torch.linearize against independent oracles.

* the exact first-order Taylor expansion ``psi0 + J (theta - theta0)`` with the real Jacobian ``J`` built here
  column by column by ``torch.autograd.functional.jacobian`` on ONE flat real vector (complex parameters as
  [Re, Im] blocks, independent of the package);
* central finite differences of the model along a random direction;
* the JAX front end (:func:`nnqs_fast.interop.jax.linearize`) on the same tiny model with the same weights;
* gradient descent on ``f_lin`` with ``torch.optim.SGD`` equals the closed-form QS-NTK prediction
  (``qsntk_mse_predictor``, discrete steps) — the linearised model is exactly what Eq. 13 describes.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnqs_fast import qsntk_mse_predictor  # noqa: E402
from nnqs_fast.errors import InvalidInputError, ShapeMismatchError  # noqa: E402
from nnqs_fast.interop import linearize as generic_linearize  # noqa: E402
from nnqs_fast.interop.torch import empirical_qsntk_fn, linearize  # noqa: E402


class Net(torch.nn.Module):
    """Complex first layer, real read-out, a non-holomorphic term (|.|)."""

    def __init__(self, d=4, h=5, log=False):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.W = torch.nn.Parameter(torch.randn(h, d, dtype=torch.complex128, generator=g) / 2)
        self.a = torch.nn.Parameter(torch.randn(h, dtype=torch.float64, generator=g) / 2)
        self.b = torch.nn.Parameter(torch.tensor(0.3 - 0.2j, dtype=torch.complex128))
        self.log = log

    def forward(self, x):
        h = torch.tanh(x.to(self.W.dtype) @ self.W.T)
        out = h @ self.a.to(h.dtype) + self.b * h[:, 0].abs()
        return 0.3 * out if self.log else out


@pytest.fixture
def x():
    g = torch.Generator().manual_seed(0)
    return (2.0 * torch.randint(0, 2, (7, 4), generator=g) - 1).to(torch.float64)


def flat_oracle(module, x, output):
    """psi(theta) of ONE flat real vector, its value and real Jacobian at theta0 (independent of the package)."""
    params = {k: v.detach() for k, v in module.named_parameters()}
    names = list(params)
    theta0 = torch.cat([torch.cat([v.real.reshape(-1), v.imag.reshape(-1)]) if v.is_complex() else v.reshape(-1)
                        for v in params.values()])

    def unflat(th):
        new, i = {}, 0
        for k in names:
            v, n = params[k], params[k].numel()
            if v.is_complex():
                new[k] = torch.complex(th[i:i + n], th[i + n:i + 2 * n]).reshape(v.shape)
                i += 2 * n
            else:
                new[k] = th[i:i + n].reshape(v.shape)
                i += n
        return new

    def psi(th):
        out = torch.func.functional_call(module, unflat(th), (x,)).reshape(-1)
        out = torch.exp(out) if output == "log_psi" else out
        return torch.cat([out.real, out.imag])

    J = torch.autograd.functional.jacobian(psi, theta0)  # (2c, P)
    return theta0, unflat, psi, J


@pytest.mark.parametrize("output", ["psi", "log_psi"])
def test_linearize_is_the_exact_first_order_taylor_model(x, output):
    net = Net(log=output == "log_psi")
    theta0, unflat, psi, J = flat_oracle(net, x, output)
    f_lin = linearize(net, output=output)
    c = x.shape[0]
    g = torch.Generator().manual_seed(5)
    for scale in (1e-3, 0.7):  # exact at every distance: f_lin is affine, not a small-step approximation
        th = theta0 + scale * torch.randn(theta0.shape, dtype=torch.float64, generator=g)
        want = psi(theta0) + J @ (th - theta0)
        got = f_lin(unflat(th), x)
        assert got.dtype == torch.complex128 and got.shape == (c,)
        np.testing.assert_allclose(got.detach().numpy(), (want[:c] + 1j * want[c:]).numpy(), rtol=1e-12, atol=1e-13)
    # at theta0 it is the model itself
    np.testing.assert_allclose(f_lin(unflat(theta0), x).detach().numpy(),
                               (psi(theta0)[:c] + 1j * psi(theta0)[c:]).numpy(), rtol=1e-14, atol=0)


def test_linearize_slope_equals_central_finite_differences(x):
    net = Net()
    theta0, unflat, psi, _ = flat_oracle(net, x, "psi")
    f_lin = linearize(net)
    v = torch.randn(theta0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    eps = 1e-5
    fd = (psi(theta0 + eps * v) - psi(theta0 - eps * v)) / (2 * eps)
    c = x.shape[0]
    slope = f_lin(unflat(theta0 + v), x) - f_lin(unflat(theta0), x)
    np.testing.assert_allclose(slope.detach().numpy(), (fd[:c] + 1j * fd[c:]).numpy(), rtol=1e-7, atol=1e-9)


def test_linearize_of_a_function_and_generic_dispatch(x):
    net = Net()
    params = {k: v.detach() for k, v in net.named_parameters()}

    def apply_fn(p, xs):
        return torch.func.functional_call(net, p, (xs,))

    p1 = {k: v + 0.05 for k, v in params.items()}
    a = linearize(net)(p1, x)
    b = linearize(apply_fn, params)(p1, x)
    c = generic_linearize(net, params)(p1, x)
    d = generic_linearize(apply_fn, params)(p1, x)
    for other in (b, c, d):
        np.testing.assert_allclose(other.detach().numpy(), a.detach().numpy(), rtol=1e-14, atol=1e-15)


def test_linearize_bad_input(x):
    net = Net()
    f_lin = linearize(net)
    params = {k: v.detach() for k, v in net.named_parameters()}
    with pytest.raises(InvalidInputError):
        f_lin({"W": params["W"]}, x)
    with pytest.raises(ShapeMismatchError):
        f_lin({**params, "a": params["a"][:2]}, x)
    with pytest.raises(InvalidInputError):
        linearize(lambda p, xs: xs)  # a function needs params
    with pytest.raises(InvalidInputError):
        linearize(net, {})
    with pytest.raises(InvalidInputError):
        linearize(net, output="amplitude")


def test_sgd_on_linearized_model_equals_qsntk_prediction(x):
    """torch.optim.SGD(eta) on REAL leaves (complex tensors as view_as_real pairs) of L = (1/n) sum |y - f_lin|^2
    reproduces qsntk_mse_predictor(empirical QS-NTK, y, eta, discrete=True) step for step (Eq. 13)."""
    net = Net()
    n = x.shape[0]
    y = np.exp(1j * np.arange(n)) * (1.0 + 0.1 * np.arange(n))
    k = empirical_qsntk_fn(net)(x)
    from nnqs_fast import qsntk_eta_max
    eta = 0.7 * qsntk_eta_max(k)
    f_lin = linearize(net)
    p0 = {k_: v.detach() for k_, v in net.named_parameters()}
    leaves = {k_: (torch.view_as_real(v) if v.is_complex() else v).clone().requires_grad_(True)
              for k_, v in p0.items()}
    opt = torch.optim.SGD(list(leaves.values()), lr=eta)
    yt = torch.as_tensor(y)

    def p_of():
        return {k_: (torch.view_as_complex(r) if p0[k_].is_complex() else r) for k_, r in leaves.items()}

    steps, out = [0, 1, 5, 20], []
    done = 0
    for s in steps:
        while done < s:
            opt.zero_grad()
            loss = torch.mean(torch.abs(yt - f_lin(p_of(), x)) ** 2)
            loss.backward()
            opt.step()
            done += 1
        out.append(f_lin(p_of(), x).detach().numpy())
    psi0 = torch.func.functional_call(net, p0, (x,)).detach().numpy()
    pred = qsntk_mse_predictor(k, y, eta, discrete=True)(np.array(steps), fx_train_0=psi0)
    np.testing.assert_allclose(np.stack(out), pred, rtol=1e-10, atol=1e-11)


def test_torch_and_jax_linearize_agree_on_the_same_model(x):
    """The same two-layer complex model written in torch and in JAX, same weights: the two front ends'
    f_lin agree at a perturbed point (different AD systems: torch.func.jvp vs jax.jvp)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from nnqs_fast.interop.jax import linearize as jax_linearize

    g = np.random.default_rng(2)
    W = (g.standard_normal((5, 4)) + 1j * g.standard_normal((5, 4))) / 2
    a = g.standard_normal(5) / 2

    def torch_apply(p, xs):
        return torch.tanh(xs.to(p["W"].dtype) @ p["W"].T) @ p["a"].to(torch.complex128)

    def jax_apply(p, xs):
        return jnp.tanh(xs @ p["W"].T) @ p["a"]

    pt = {"W": torch.as_tensor(W), "a": torch.as_tensor(a)}
    pj = {"W": jnp.asarray(W), "a": jnp.asarray(a)}
    dW = 0.1 * (g.standard_normal((5, 4)) + 1j * g.standard_normal((5, 4)))
    da = 0.1 * g.standard_normal(5)
    out_t = linearize(torch_apply, pt)({"W": pt["W"] + torch.as_tensor(dW), "a": pt["a"] + torch.as_tensor(da)}, x)
    out_j = jax_linearize(jax_apply, pj)({"W": pj["W"] + dW, "a": pj["a"] + da}, jnp.asarray(x.numpy()))
    np.testing.assert_allclose(out_t.detach().numpy(), np.asarray(out_j), rtol=1e-12, atol=1e-13)
