"""QS-NTK and linearisation of JAX / flax / NetKet models (docs/interop.md).

``apply_fn(params, x)`` maps a pytree of real and/or complex parameters and a batch ``x`` ``(c, d)`` to ``c``
amplitudes ``psi`` (``output="psi"``) or log-amplitudes ``log psi`` (``output="log_psi"``, NetKet's
convention). The QS-NTK (Eq. 7, S8-S11) sums over REAL parameters: a complex leaf ``w`` is two real parameters
``Re w``, ``Im w``. Conventions and derivations (log-psi outputs, complex parameters, holomorphic models):
docs/interop.md.
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
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised only without JAX
    raise OptionalDependencyError("nnqs_fast.interop.jax needs JAX: pip install \"nnqs_fast[jax]\"") from exc

__all__ = ["empirical_qsntk_fn", "linearize", "psi_fn", "real_split", "check_holomorphic"]

OUTPUTS = ("psi", "log_psi")


def psi_fn(apply_fn: Callable, output: str = "psi") -> Callable:
    """``psi(params, x)`` as a flat complex ``(c,)`` array from ``apply_fn`` (``exp`` of it for ``"log_psi"``)."""
    output = check_choice(output, "output", OUTPUTS)

    def f(params: Any, x: Any) -> Any:
        v = jnp.reshape(apply_fn(params, x), (-1,))
        return jnp.exp(v) if output == "log_psi" else v
    return f


class RealSplit:
    """Maps a parameter pytree with complex leaves to a flat list of REAL leaves and back.

    A real leaf stays itself; a complex leaf ``w`` becomes two real leaves ``Re w``, ``Im w`` (in that order).
    Derivatives with respect to the list are derivatives over the real parameters of docs/interop.md.
    """

    def __init__(self, params: Any):
        leaves, self.treedef = jax.tree_util.tree_flatten(params)
        if not leaves:
            raise InvalidInputError("params has no leaves: there is nothing to differentiate")
        self.complex = [bool(jnp.iscomplexobj(leaf)) for leaf in leaves]
        self.dtypes = [jnp.asarray(leaf).dtype for leaf in leaves]
        self.n_real = int(sum(int(np.size(leaf)) * (2 if c else 1) for leaf, c in zip(leaves, self.complex)))

    def split(self, params: Any) -> list[Any]:
        out: list[Any] = []
        for leaf, c in zip(jax.tree_util.tree_leaves(params), self.complex):
            out.extend((jnp.real(leaf), jnp.imag(leaf)) if c else (leaf,))
        return out

    def merge(self, real: list[Any]) -> Any:
        leaves, k = [], 0
        for c, dt in zip(self.complex, self.dtypes):
            if c:
                leaves.append((real[k] + 1j * real[k + 1]).astype(dt))
                k += 2
            else:
                leaves.append(real[k])
                k += 1
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def real_split(params: Any) -> RealSplit:
    """The :class:`RealSplit` of ``params`` (for brute-force checks: differentiate over ``split(params)``)."""
    return RealSplit(params)


def check_holomorphic(apply_fn: Callable, params: Any, x: Any, *, output: str = "psi", seed: int = 0,
                      rtol: float | None = None) -> float:
    """Cauchy-Riemann probe: ``d psi[theta + t i v]/dt = i d psi[theta + t v]/dt`` for a random complex ``v``.

    Returns the relative violation; raises :class:`~nnqs_fast.errors.NotHolomorphicError` above ``rtol``
    (default 1e-6 in float64, 1e-3 in float32) and :class:`~nnqs_fast.errors.InvalidInputError` if a parameter
    leaf is real (a holomorphic model has complex parameters only).
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    if not all(jnp.iscomplexobj(leaf) for leaf in leaves):
        raise InvalidInputError("holomorphic=True needs complex parameters only (every leaf complex); this model "
                                "has real leaves: use holomorphic=False (always correct)")
    keys = jax.random.split(jax.random.PRNGKey(seed), 2 * len(leaves))
    v = [(jax.random.normal(keys[2 * i], jnp.shape(leaf)) + 1j * jax.random.normal(keys[2 * i + 1], jnp.shape(leaf))
          ).astype(leaf.dtype) for i, leaf in enumerate(leaves)]
    vt = jax.tree_util.tree_unflatten(treedef, v)
    ivt = jax.tree_util.tree_unflatten(treedef, [1j * a for a in v])
    f = psi_fn(apply_fn, output)
    xs = jnp.asarray(x)[: min(8, int(np.shape(x)[0]))]
    d1 = np.asarray(jax.jvp(lambda p: f(p, xs), (params,), (vt,))[1])
    d2 = np.asarray(jax.jvp(lambda p: f(p, xs), (params,), (ivt,))[1])
    scale = float(np.max(np.abs(d1)) + np.max(np.abs(d2))) or 1.0
    viol = float(np.max(np.abs(d2 - 1j * d1))) / scale
    single = all(jnp.asarray(leaf).dtype in (jnp.complex64,) for leaf in leaves)
    tol = (1e-3 if single else 1e-6) if rtol is None else float(rtol)
    if not viol <= tol:
        raise NotHolomorphicError(
            f"holomorphic=True but the model fails the Cauchy-Riemann probe: |d psi(i v) - i d psi(v)| / scale = "
            f"{viol:.3g} > {tol:g} on {xs.shape[0]} inputs; pass holomorphic=False (always correct)")
    return viol


def _block_fns(apply_fn: Callable, params: Any, output: str, holomorphic: bool) -> tuple[Callable, RealSplit]:
    """jitted ``x -> (values, jacobian block)``; values are the raw outputs (``psi`` or ``log psi``)."""
    rs = RealSplit(params)

    def single(p: Any, x: Any) -> Any:
        return jnp.reshape(apply_fn(p, x[None]), ())

    if holomorphic:
        def one(p: Any, x: Any) -> tuple[Any, Any]:
            val, pull = jax.vjp(lambda q: single(q, x), p)
            g = pull(jnp.ones((), val.dtype))[0]  # vjp of a holomorphic map: 1 * f'(w), no conjugation
            flat = jnp.concatenate([jnp.ravel(a) for a in jax.tree_util.tree_leaves(g)])
            if output == "log_psi":
                flat = jnp.exp(val) * flat
            return val, flat

        def block(p: Any, xb: Any) -> tuple[Any, Any]:
            return jax.vmap(one, in_axes=(None, 0))(p, xb)  # (c,), (c, P_c)
    else:
        def one_ri(r: list[Any], x: Any) -> tuple[Any, Any]:
            def f(rr: list[Any]) -> Any:
                v = single(rs.merge(rr), x)
                return jnp.stack([jnp.real(v), jnp.imag(v)])
            val, pull = jax.vjp(f, r)
            eye = jnp.eye(2, dtype=val.dtype)
            g = jax.vmap(pull)(eye)[0]  # list of (2, *shape)
            flat = jnp.concatenate([jnp.reshape(a, (2, -1)) for a in g], axis=1)  # (2, P_real)
            v = val[0] + 1j * val[1]
            if output == "log_psi":
                z = jnp.exp(v) * (flat[0] + 1j * flat[1])
                flat = jnp.stack([jnp.real(z), jnp.imag(z)])
            return v, flat

        def block(p: Any, xb: Any) -> tuple[Any, Any]:
            v, J = jax.vmap(one_ri, in_axes=(None, 0))(rs.split(p), xb)  # (c,), (c, 2, P)
            return v, jnp.transpose(J, (1, 0, 2))  # (2, c, P): J1 and J2 rows contiguous

    return jax.jit(block), rs


def empirical_qsntk_fn(apply_fn: Callable, *, output: str = "psi", holomorphic: bool = False,
                       chunk_size: int | None = None, check_holomorphic_probe: bool = True,
                       ) -> Callable[..., QSNTK]:
    """QS-NTK of any JAX/flax/NetKet model, in the shape of neural-tangents' ``empirical_ntk_fn``.

    Returns ``qsntk_fn(x1, x2=None, params) -> QSNTK`` with ``Theta``, ``Phi``, ``Theta1``, ``Theta2`` and the
    mixing kernels (Eq. 7, S8-S11) summed over the REAL parameters (complex leaves split into real and imaginary
    parts), so the result is what :func:`~nnqs_fast.kernels.qsntk_from_jacobians` gives for the explicit real
    Jacobian ``d psi / d theta`` (docs/interop.md derives every case):

    * ``output="psi"``: ``apply_fn(params, x)`` returns ``psi``; ``"log_psi"``: it returns ``log psi`` (NetKet)
      and ``d psi = psi d log psi`` row by row (:class:`~nnqs_fast.errors.ZeroAmplitudeError` where ``psi = 0``);
    * ``holomorphic=True`` (complex parameters, ``psi`` holomorphic in them): one complex derivative ``F`` per
      input and ``Theta1 = Theta2 = Re F F^H``, ``Theta12 = -Im F F^H``, ``Theta = 0``, ``Phi = 2 F F^H`` (half
      the work); a Cauchy-Riemann probe on the first inputs guards it (:class:`NotHolomorphicError`).

    Rows go in blocks of ``chunk_size`` (default: two blocks within 256 MiB); at most one row block and one column
    block of the Jacobian are alive. On CPU devices Gram tiles are SciPy BLAS SYRK/GEMM on zero-copy views
    (DLPack) of the JAX blocks; on accelerators the tiles are ``jnp`` matmuls on the device and only the ``c x c``
    tiles come to the host. Results are float64 when the parameters are double precision.
    """
    output = check_choice(output, "output", OUTPUTS)
    chunk = check_chunk_size(chunk_size)
    cache: dict[Any, Any] = {}

    def qsntk_fn(x1: Any, x2: Any = None, params: Any = None) -> QSNTK:
        if params is None:
            raise InvalidInputError("params is required: qsntk_fn(x1, x2, params)")
        a = jnp.asarray(as_array(x1, "x1", ndim=2, allow_complex=False) if not isinstance(x1, jax.Array) else x1)
        sym = x2 is None or x2 is x1
        b = a if sym else jnp.asarray(x2)
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(a.shape[0], b.shape[0]) == 0:
            raise ShapeMismatchError(f"x1 {tuple(a.shape)} and x2 {tuple(b.shape)} must be non-empty (n, d) arrays "
                                     "with the same d")
        if holomorphic and check_holomorphic_probe:
            check_holomorphic(apply_fn, params, a, output=output)
        leaves, treedef = jax.tree_util.tree_flatten(params)
        key = (str(treedef), tuple((jnp.shape(v), str(jnp.asarray(v).dtype)) for v in leaves))
        if key not in cache:
            cache.clear()
            cache[key] = _block_fns(apply_fn, params, output, holomorphic)
        block, rs = cache[key]
        dt = np.dtype(np.float64 if any(np.dtype(d) in (np.float64, np.complex128) for d in rs.dtypes)
                      else np.float32)
        p_real = rs.n_real
        c = auto_chunk(max(a.shape[0], b.shape[0]), p_real, dt.itemsize, chunk)
        sets = (a, b)
        on_cpu = all(d.platform == "cpu" for d in jax.tree_util.tree_leaves(params)[0].devices())

        def jac(which: int, i0: int, i1: int) -> Any:
            v, J = block(params, sets[which][i0:i1])
            vv = np.asarray(v)
            if output == "log_psi":
                bad = ~np.isfinite(np.exp(vv)) | (np.exp(vv) == 0)
                if np.any(bad):
                    raise ZeroAmplitudeError(
                        f"output='log_psi' but psi = exp(log psi) is zero or not finite on {int(bad.sum())} inputs "
                        f"of x{which + 1} (first row {i0 + int(np.argmax(bad))}): d psi = psi d log psi is "
                        "undefined there; drop those inputs")
            if not np.all(np.isfinite(vv)) and output == "psi":
                raise ZeroAmplitudeError(f"the model returned non-finite psi on x{which + 1} rows {i0}:{i1}")
            if on_cpu:
                return np.from_dlpack(J)
            return J

        if on_cpu:
            mm = None
        else:
            mm = jax.jit(lambda u, w: u @ (jnp.conj(w).T if holomorphic else w.T))
        return qsntk_tiles(jac, np.asarray, mm, int(a.shape[0]), int(b.shape[0]), sym, c,
                           "holo" if holomorphic else "ri", dt,
                           {"kind": "empirical", "library": "jax", "output": output, "holomorphic": holomorphic,
                            "n_real_parameters": p_real, "chunk_size": c,
                            "convention": "sum over real parameters; complex leaves split into Re, Im"})

    return qsntk_fn


def linearize(apply_fn: Callable, params: Any, *, output: str = "psi") -> Callable:
    """First-order Taylor model of ``psi`` around ``params`` (neural-tangents' ``linearize``, jvp-based).

    Returns ``f_lin(p, x) = psi(params0, x) + d psi(params0, x)[p - params0]`` (a complex ``(c,)`` array); for
    ``output="log_psi"`` the linearised quantity is ``psi = exp(log psi)`` (``d psi = psi d log psi``), the one
    whose gradient-descent dynamics the QS-NTK predicts. ``jax.jvp`` is the real directional derivative, so
    complex parameters need not be holomorphic.
    """
    f = psi_fn(apply_fn, output)
    p0 = params

    def f_lin(p: Any, x: Any) -> Any:
        dp = jax.tree_util.tree_map(lambda u, w: u - w, p, p0)
        y0, dy = jax.jvp(lambda q: f(q, x), (p0,), (dp,))
        return y0 + dy

    return f_lin
