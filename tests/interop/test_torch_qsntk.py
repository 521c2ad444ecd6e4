"""empirical_qsntk_fn for PyTorch modules against brute force over the real parameters.

Oracle: the explicit real Jacobian assembled column by column here with ``torch.autograd.functional.jacobian``
on a function of ONE flat real vector (complex parameters as [Re, Im] blocks, built independently of the
package), then ``qsntk_from_jacobians``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnqs_fast.errors import NotHolomorphicError, ZeroAmplitudeError  # noqa: E402
from nnqs_fast.interop import empirical_qsntk_fn as generic_fn  # noqa: E402
from nnqs_fast.interop.torch import empirical_qsntk_fn  # noqa: E402
from nnqs_fast.kernels import qsntk_from_jacobians  # noqa: E402


class Net(torch.nn.Module):
    """Complex first layer, real read-out, non-holomorphic (|.|)."""

    def __init__(self, d=4, h=6, complex_w=True):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        dt = torch.complex128 if complex_w else torch.float64
        self.W = torch.nn.Parameter(torch.randn(h, d, dtype=dt, generator=g) / 2)
        self.a = torch.nn.Parameter(torch.randn(h, dtype=torch.float64, generator=g))
        self.b = torch.nn.Parameter(torch.tensor(0.3 - 0.2j, dtype=torch.complex128))

    def forward(self, x):
        h = torch.tanh(x.to(self.W.dtype) @ self.W.T)
        return h @ self.a.to(h.dtype) + self.b * h[:, 0].abs() + self.b.conj() * h.sum(1) ** 2 / 6


def brute(module, x, output="psi"):
    names = [k for k, _ in module.named_parameters()]
    params = dict(module.named_parameters())
    pieces = []
    for k in names:
        v = params[k].detach()
        pieces += [v.real.reshape(-1), v.imag.reshape(-1)] if v.is_complex() else [v.reshape(-1)]
    theta = torch.cat(pieces)

    def psi(th):
        new, i = {}, 0
        for k in names:
            v = params[k]
            n = v.numel()
            if v.is_complex():
                new[k] = torch.complex(th[i:i + n], th[i + n:i + 2 * n]).reshape(v.shape)
                i += 2 * n
            else:
                new[k] = th[i:i + n].reshape(v.shape)
                i += n
        out = torch.func.functional_call(module, new, (x,)).reshape(-1)
        out = torch.exp(out) if output == "log_psi" else out
        return torch.stack([out.real, out.imag])

    J = torch.autograd.functional.jacobian(psi, theta)  # (2, n, P)
    return (J[0] + 1j * J[1]).numpy()


def close(k, ref, rtol=1e-10):
    scale = np.max(np.abs(ref.phi))
    for f in ("theta", "phi", "theta1", "theta2", "mixing", "mixing_t"):
        assert np.max(np.abs(getattr(k, f) - getattr(ref, f))) <= rtol * scale, f


@pytest.mark.parametrize("chunk", [None, 4])
def test_torch_matches_brute_force(chunk):
    torch.manual_seed(0)
    m = Net()
    x = torch.randint(0, 2, (9, 4), dtype=torch.float64) * 2 - 1
    ref = qsntk_from_jacobians(brute(m, x))
    close(empirical_qsntk_fn(m, chunk_size=chunk)(x), ref)
    close(generic_fn(m)(x.numpy()), ref)
    x2 = torch.randint(0, 2, (5, 4), dtype=torch.float64) * 2 - 1
    close(empirical_qsntk_fn(m, chunk_size=3)(x, x2), qsntk_from_jacobians(brute(m, x), brute(m, x2)))


def test_torch_log_psi_and_errors():
    m = Net(complex_w=False)
    x = torch.randint(0, 2, (7, 4), dtype=torch.float64) * 2 - 1
    close(empirical_qsntk_fn(m, output="log_psi")(x), qsntk_from_jacobians(brute(m, x, "log_psi")))
    with pytest.raises(NotHolomorphicError):
        class C(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.tensor([0.3 + 0.1j, -0.2j], dtype=torch.complex128))

            def forward(self, x):
                return (x.to(self.w.dtype) @ self.w.conj()).reshape(-1)
        empirical_qsntk_fn(C(), holomorphic=True)(x[:, :2])

    class Z(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([0.5], dtype=torch.float64))

        def forward(self, x):
            return torch.where(x[:, 0] > 0, -torch.inf, 0.0) + self.w * x[:, 1]
    with pytest.raises(ZeroAmplitudeError):
        empirical_qsntk_fn(Z(), output="log_psi")(x)


def test_torch_holomorphic_passes_probe_and_matches():
    class H(torch.nn.Module):
        def __init__(self):
            super().__init__()
            g = torch.Generator().manual_seed(2)
            self.W = torch.nn.Parameter(0.3 * torch.randn(5, 4, dtype=torch.complex128, generator=g))

        def forward(self, x):
            return torch.log(torch.cosh(x.to(self.W.dtype) @ self.W.T)).sum(1)
    m = H()
    x = torch.randint(0, 2, (8, 4), dtype=torch.float64) * 2 - 1
    k = empirical_qsntk_fn(m, output="log_psi", holomorphic=True)(x)
    ref = qsntk_from_jacobians(brute(m, x, "log_psi"))
    close(k, ref)
    assert np.max(np.abs(ref.theta)) < 1e-10 * np.max(np.abs(ref.phi))
