"""QS-NTK of PyTorch modules via ``torch.func`` (docs/interop.md).

``module(x)`` maps a batch ``(c, d)`` to ``c`` amplitudes ``psi`` (``output="psi"``) or ``log psi``
(``output="log_psi"``). Every parameter with ``requires_grad`` is differentiated; a complex parameter ``w`` counts
as the two real parameters ``Re w``, ``Im w`` (through ``torch.view_as_real``), so the kernel is the one over REAL
parameters, as in :mod:`nnqs_fast.interop.jax`.
"""

from __future__ import annotations

import warnings
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
    from torch.func import functional_call, jvp, vjp, vmap
except ImportError as exc:  # pragma: no cover - exercised only without PyTorch
    raise OptionalDependencyError("nnqs_fast.interop.torch needs PyTorch: pip install \"nnqs_fast[torch]\"") from exc

__all__ = ["empirical_qsntk_fn", "linearize"]


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
            res = vjp(f, r)  # (output, vjp_fn) without has_aux
            val, pull = res[0], res[1]
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


def linearize(model: Any, params: dict[str, Any] | None = None, *, output: str = "psi") -> Callable[..., Any]:
    """First-order Taylor model of ``psi`` around ``params`` (neural-tangents' ``linearize``; ``torch.func.jvp``).

    The PyTorch counterpart of :func:`nnqs_fast.interop.jax.linearize`, same contract. ``model``: a
    ``torch.nn.Module`` (called as ``module(x)`` through ``torch.func.functional_call``) or a function
    ``apply_fn(params, x)`` of a dict name -> tensor. ``params``: that dict (default: the module's parameters with
    ``requires_grad``), the expansion point ``theta0``. Returns

        ``f_lin(p, x) = psi(theta0, x) + d psi(theta0, x)[p - theta0]``

    a complex ``(c,)`` tensor, affine in ``p`` and differentiable with respect to ``p`` (train it with any
    ``torch.optim`` optimiser, as the real model). For ``output="log_psi"`` the linearised quantity is
    ``psi = exp(log psi)`` (``d psi = psi d log psi``), the one whose gradient-descent dynamics the QS-NTK predicts.
    The directional derivative is taken over REAL parameters (complex tensors as ``view_as_real`` pairs), so
    complex parameters need not be holomorphic.
    """
    output = check_choice(output, "output", ("psi", "log_psi"))
    is_module = isinstance(model, torch.nn.Module)
    if not (is_module or callable(model)):
        raise InvalidInputError(f"model must be a torch.nn.Module or a function apply_fn(params, x), got "
                                f"{type(model).__name__}")
    if params is None:
        if not is_module:
            raise InvalidInputError("params is required when model is a function apply_fn(params, x)")
        params = {k: v for k, v in model.named_parameters() if v.requires_grad}
    if not isinstance(params, dict) or not params or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise InvalidInputError("params must be a non-empty dict name -> torch.Tensor")
    p0 = {k: v.detach().clone() for k, v in params.items()}
    r0, cplx = _split(p0)

    def psi_of(real: dict[str, Any], x: Any) -> Any:
        p = _merge(real, cplx)
        v = functional_call(model, p, (x,)) if is_module else model(p, x)
        v = v.reshape(-1)
        if not v.is_complex():
            v = torch.complex(v, torch.zeros_like(v))
        return torch.exp(v) if output == "log_psi" else v

    def f_lin(p: dict[str, Any], x: Any) -> Any:
        if not isinstance(p, dict) or set(p) != set(p0):
            raise InvalidInputError(f"p must be a dict with the keys of the expansion point: {sorted(p0)}")
        for k, v in p.items():
            if tuple(v.shape) != tuple(p0[k].shape) or v.is_complex() != p0[k].is_complex():
                raise ShapeMismatchError(f"parameter {k!r}: shape/dtype {tuple(v.shape)} {v.dtype} differs from the "
                                         f"expansion point's {tuple(p0[k].shape)} {p0[k].dtype}")
        dr = {k: (torch.view_as_real(p[k]) if k in cplx else p[k]) - r0[k] for k in r0}
        with warnings.catch_warnings():
            # torch's forward AD scripts its jvp decompositions on first use (torch.jit.script is deprecated in
            # torch 2.13): a library-internal DeprecationWarning, not the caller's concern
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=DeprecationWarning)
            res = jvp(lambda r: psi_of(r, x), (r0,), (dr,))  # (primal, tangent) without has_aux
        return res[0] + res[1]

    return f_lin
