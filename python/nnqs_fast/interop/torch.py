"""QS-NTK of PyTorch modules via ``torch.func`` (docs/interop.md).

``module(x)`` maps a batch ``(c, d)`` to ``c`` amplitudes ``psi`` (``output="psi"``) or ``log psi``
(``output="log_psi"``). Every parameter with ``requires_grad`` is differentiated; a complex parameter ``w`` counts
as the two real parameters ``Re w``, ``Im w`` (through ``torch.view_as_real``), so the kernel is the one over REAL
parameters, as in :mod:`nnqs_fast.interop.jax`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import as_array, check_choice, check_chunk_size
from ..errors import (
    InvalidInputError,
    NotHolomorphicError,
    OptionalDependencyError,
    ShapeMismatchError,
    ZeroAmplitudeError,
)
from ..kernels.qsntk import QSNTK
from ._tiles import auto_chunk, qsntk_tiles

try:
    import torch
    from torch.func import functional_call, vjp, vmap
except ImportError as exc:  # pragma: no cover - exercised only without PyTorch
    raise OptionalDependencyError("nnqs_fast.interop.torch needs PyTorch: pip install \"nnqs_fast[torch]\"") from exc

__all__ = ["empirical_qsntk_fn"]


def _split(params: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    cplx = {k for k, v in params.items() if v.is_complex()}
    return {k: (torch.view_as_real(v) if k in cplx else v) for k, v in params.items()}, cplx


def _merge(real: dict[str, Any], cplx: set[str]) -> dict[str, Any]:
    return {k: (torch.view_as_complex(v) if k in cplx else v) for k, v in real.items()}


def _probe_holomorphic(J: Any, complex_only: bool, double: bool) -> float:
    """Cauchy-Riemann probe on real-split Jacobian rows ``J`` (2, c, P) of complex parameters stored as
    ``view_as_real`` pairs: a holomorphic model has ``d psi / d Im w = i d psi / d Re w``."""
    if not complex_only:
        raise InvalidInputError("holomorphic=True needs complex parameters only; use holomorphic=False")
    Jc = torch.complex(J[0], J[1])
    d_re, d_im = Jc[:, 0::2], Jc[:, 1::2]
    scale = float(Jc.abs().max()) or 1.0
    viol = float((d_im - 1j * d_re).abs().max()) / scale
    tol = 1e-6 if double else 1e-3
    if not viol <= tol:
        raise NotHolomorphicError(f"holomorphic=True but the module fails the Cauchy-Riemann probe (violation "
                                  f"{viol:.3g} > {tol:g}); pass holomorphic=False")
    return viol


def empirical_qsntk_fn(module: Any, *, output: str = "psi", holomorphic: bool = False,
                       chunk_size: int | None = None) -> Callable[..., QSNTK]:
    """``qsntk_fn(x1, x2=None, params=None) -> QSNTK`` of a ``torch.nn.Module`` (neural-tangents' shape).

    ``params``: a dict name -> tensor (default: the module's own parameters with ``requires_grad``). Per-sample
    Jacobians ``d Re psi``, ``d Im psi`` over the real parameters come from ``torch.func.vmap`` of ``vjp`` in row
    blocks of ``chunk_size``; Gram tiles are BLAS products (NumPy views of CPU tensors, ``torch.matmul`` on other
    devices). ``holomorphic=True`` is checked by a Cauchy-Riemann probe and then computed by the general path.
    See :func:`nnqs_fast.interop.jax.empirical_qsntk_fn` for the conventions.
    """
    output = check_choice(output, "output", ("psi", "log_psi"))
    chunk = check_chunk_size(chunk_size)

    def qsntk_fn(x1: Any, x2: Any = None, params: dict[str, Any] | None = None) -> QSNTK:
        p = {k: v.detach() for k, v in module.named_parameters() if v.requires_grad} if params is None else \
            {k: v.detach() for k, v in params.items()}
        if not p:
            raise InvalidInputError("the module has no trainable parameters")
        dev = next(iter(p.values())).device
        real_dt = torch.float64 if any(v.dtype in (torch.float64, torch.complex128) for v in p.values()) \
            else torch.float32

        def as_t(x: Any, name: str) -> Any:
            if isinstance(x, torch.Tensor):
                t = x
            else:
                t = torch.as_tensor(as_array(x, name, ndim=2, allow_complex=False))
            return t.to(device=dev, dtype=real_dt)
        a = as_t(x1, "x1")
        sym = x2 is None or x2 is x1
        b = a if sym else as_t(x2, "x2")
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(a.shape[0], b.shape[0]) == 0:
            raise ShapeMismatchError(f"x1 {tuple(a.shape)} and x2 {tuple(b.shape)} must be non-empty (n, d) with the "
                                     "same d")
        rp, cplx = _split(p)
        names = list(rp)

        def one(r: dict[str, Any], x: Any) -> tuple[Any, Any]:
            def f(rr: dict[str, Any]) -> Any:
                v = functional_call(module, _merge(rr, cplx), (x[None],)).reshape(())
                v = v if v.is_complex() else torch.complex(v, torch.zeros_like(v))
                return torch.stack([v.real, v.imag])
            val, pull = vjp(f, r)
            g = vmap(pull)(torch.eye(2, dtype=val.dtype, device=val.device))[0]
            flat = torch.cat([g[k].reshape(2, -1) for k in names], dim=1)
            v = torch.complex(val[0], val[1])
            if output == "log_psi":
                z = torch.exp(v) * torch.complex(flat[0], flat[1])
                flat = torch.stack([z.real, z.imag])
            return v, flat

        batched = vmap(one, in_dims=(None, 0))
        if holomorphic:
            with torch.no_grad():
                Jp = batched(rp, a[:8])[1].transpose(0, 1)
            _probe_holomorphic(Jp, len(cplx) == len(rp), real_dt == torch.float64)
        p_real = int(sum(t.numel() for t in rp.values()))
        dt = np.dtype(np.float64 if real_dt == torch.float64 else np.float32)
        c = auto_chunk(max(a.shape[0], b.shape[0]), p_real, dt.itemsize, chunk)
        sets = (a, b)
        on_cpu = dev.type == "cpu"

        def jac(which: int, i0: int, i1: int) -> Any:
            with torch.no_grad():
                v, J = batched(rp, sets[which][i0:i1])
            if output == "log_psi":
                e = torch.exp(v)
                bad = ~torch.isfinite(e) | (e == 0)
                if bool(bad.any()):
                    raise ZeroAmplitudeError(f"output='log_psi' but psi = exp(log psi) is zero or not finite on "
                                             f"{int(bad.sum())} inputs of x{which + 1}; drop those inputs")
            J = J.transpose(0, 1).contiguous()  # (2, c, P)
            return J.numpy() if on_cpu else J

        mm = None if on_cpu else (lambda u, w: u @ w.T)
        return qsntk_tiles(jac, lambda t: t.cpu().numpy(), mm, int(a.shape[0]), int(b.shape[0]), sym, c, "ri",
                           dt, {"kind": "empirical", "library": "torch", "output": output,
                                "n_real_parameters": p_real, "chunk_size": c,
                                "convention": "sum over real parameters; complex parameters split into Re, Im"})

    return qsntk_fn
