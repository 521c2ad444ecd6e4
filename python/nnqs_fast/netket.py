"""NetKet bridge (docs/interop.md): models and variational states, basis maps, targets from NetKet operators.

Importable only with NetKet installed (``pip install "nnqs_fast[netket]"``); otherwise importing it raises
:class:`~nnqs_fast.errors.OptionalDependencyError`.

Conventions, each checked numerically against NetKet in tests/interop/test_netket_bridge.py:

* **Spin-1/2 basis.** NetKet's ``Spin(0.5, N).all_states()`` lists ``local_states = [+1, -1]`` with site 0 the
  most significant digit: index ``sum_k d_k 2^(N-1-k)`` with ``d_k = 0`` for ``+1`` and ``1`` for ``-1``.
  nnqs_fast's code ``s`` has bit ``i`` = site ``i`` and bit 1 = spin up = +1 (:mod:`nnqs_fast.physics.encoding`),
  index = code. The two orders differ; :func:`basis_map` gives the permutation.
* **Sites.** nnqs_fast numbers site ``(x, y)`` of an ``lx x ly`` lattice ``x + lx*y`` (x fastest). NetKet's
  ``Grid([lx, ly])`` / ``Square`` number it ``x*ly + y`` (last extent fastest: ``positions[k] = (k // ly, k % ly)``).
  Pass ``graph=`` (any NetKet graph with integer ``positions``) to map sites by coordinates, or ``sites=`` an
  explicit array ``nk_site[s]``; by default site ``s`` is NetKet site ``s``.
* **Fermions.** NetKet's ``SpinOrbitalFermions(L, s=1/2)`` orders its ``2L`` modes ``o + L*b`` with block
  ``b = 0`` for ``sz = -1`` (down) and ``b = 1`` for ``sz = +1`` (up); ``n_fermions_per_spin = (N_down, N_up)``;
  ``all_states()`` lists occupation vectors with mode 0 the most significant digit, 0 first. nnqs_fast orders
  modes "all up, then all down" (:mod:`nnqs_fast.physics.hubbard`). Both define ``|n> = prod_{p ascending}
  (c+_p)^{n_p} |0>`` in their own mode order, so amplitudes differ by the sign of the permutation that reorders
  the occupied modes: ``psi_nk[index[k]] = sign[k] psi_nn[k]`` (Jordan-Wigner signs), see :func:`basis_map`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from .errors import BasisMismatchError, InvalidInputError, OptionalDependencyError

try:
    import netket as nk
except ImportError as exc:  # pragma: no cover - exercised only without NetKet
    raise OptionalDependencyError("nnqs_fast.netket needs NetKet: pip install \"nnqs_fast[netket]\"") from exc

from .interop.jax import empirical_qsntk_fn
from .kernels.qsntk import QSNTK, qsntk_from_parts
from .physics.encoding import encode_occupations, encode_spins, popcount
from .physics.hubbard import HubbardBasis
from .physics.lattice import Lattice
from .physics.operators import target_from_operator as _target_from_matrix
from .physics.targets import Target
from .physics.tfim import tfim_basis

__all__ = ["site_permutation", "basis_map", "to_netket", "from_netket", "netket_states", "target_from_operator",
           "apply_fn_of", "qsntk", "qsntk_fn", "amplitudes"]

_SPIN_SYSTEMS = ("tfim", "spin")
_FERMION_SYSTEMS = ("hubbard", "fermion")


# ----------------------------------------------------------------------------------------------- sites and bases
def site_permutation(lattice: Lattice | tuple[int, int], graph: Any = None, sites: Any = None) -> np.ndarray:
    """``nk_site[s]``: the NetKet site of nnqs_fast site ``s = x + lx*y``.

    ``sites`` (explicit) wins; else ``graph`` (NetKet graph with integer ``positions``, matched by coordinates
    ``(x, y)``); else the identity.
    """
    lx, ly = (lattice.lx, lattice.ly) if isinstance(lattice, Lattice) else (int(lattice[0]), int(lattice[1]))
    L = lx * ly
    if sites is not None:
        perm = np.asarray(sites, dtype=np.int64)
        if perm.shape != (L,) or sorted(perm.tolist()) != list(range(L)):
            raise BasisMismatchError(f"sites must be a permutation of range({L}), got {perm!r}")
        return perm
    if graph is None:
        return np.arange(L, dtype=np.int64)
    if graph.n_nodes != L:
        raise BasisMismatchError(f"the graph has {graph.n_nodes} sites but the lattice {lx}x{ly} has {L}")
    pos = np.asarray(graph.positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2 or not np.allclose(pos, np.round(pos)):
        raise InvalidInputError("graph positions are not integer 2-d coordinates; pass sites= explicitly")
    ipos = np.rint(pos).astype(np.int64)
    lookup = {(int(p[0]), int(p[1])): k for k, p in enumerate(ipos)}
    perm = np.empty(L, dtype=np.int64)
    for s in range(L):
        xy = (s % lx, s // lx)
        if xy not in lookup:
            raise BasisMismatchError(f"site (x={xy[0]}, y={xy[1]}) of the {lx}x{ly} lattice is not a graph "
                                     "position; pass sites= explicitly")
        perm[s] = lookup[xy]
    return perm


def _kind(hilbert: Any) -> str:
    if isinstance(hilbert, nk.hilbert.Spin):
        if not np.isclose(float(hilbert._s), 0.5):
            raise BasisMismatchError(f"only spin-1/2 Hilbert spaces map to nnqs_fast's spin basis, got s={hilbert._s}")
        return "spin"
    if isinstance(hilbert, nk.hilbert.SpinOrbitalFermions):
        if hilbert.spin is None or not np.isclose(float(hilbert.spin), 0.5):
            raise BasisMismatchError("only spin-1/2 SpinOrbitalFermions map to nnqs_fast's Hubbard basis")
        return "fermion"
    raise BasisMismatchError(f"unsupported Hilbert space {type(hilbert).__name__}: use nk.hilbert.Spin(0.5, N) or "
                             "nk.hilbert.SpinOrbitalFermions(L, s=1/2, ...)")


def _fermion_modes(hilbert: Any, perm: np.ndarray) -> np.ndarray:
    """NetKet mode of each nnqs_fast mode ``p`` (``p < L``: (site p, up); ``p >= L``: (site p - L, down))."""
    L = perm.size
    up = [int(hilbert._get_index(int(perm[s]), 1)) for s in range(L)]
    dn = [int(hilbert._get_index(int(perm[s]), -1)) for s in range(L)]
    return np.asarray(up + dn, dtype=np.int64)


def netket_states(codes: Any, hilbert: Any, lattice: Lattice | tuple[int, int], *, graph: Any = None,
                  sites: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """NetKet configurations of nnqs_fast basis codes and their Jordan-Wigner signs.

    Returns ``(states, sign)``: ``states[k]`` is the NetKet configuration (spins ``+-1`` per NetKet site, or
    occupations per NetKet mode) of code ``codes[k]`` and ``psi_nk(states[k]) = sign[k] psi_nn(codes[k])``
    (``sign = 1`` for spins).
    """
    codes = np.asarray(codes, dtype=np.int64)
    perm = site_permutation(lattice, graph, sites)
    L = perm.size
    kind = _kind(hilbert)
    if kind == "spin":
        if hilbert.size != L:
            raise BasisMismatchError(f"the Hilbert space has {hilbert.size} sites but the lattice has {L}")
        st = np.empty((codes.size, L), dtype=np.float64)
        st[:, perm] = encode_spins(codes, L)  # NetKet site perm[s] carries nnqs site s
        return st, np.ones(codes.size)
    if hilbert.n_orbitals != L:
        raise BasisMismatchError(f"the Hilbert space has {hilbert.n_orbitals} orbitals but the lattice has {L} sites")
    q = _fermion_modes(hilbert, perm)
    occ = (codes[:, None] >> np.arange(2 * L, dtype=np.int64)[None, :]) & 1  # nnqs modes
    st = np.zeros((codes.size, 2 * L), dtype=np.float64)
    st[:, q] = occ
    # sign of the permutation reordering the occupied modes from nnqs order to NetKet order: inversions
    par = np.zeros(codes.size, dtype=np.int64)
    for p in range(2 * L):
        later = q[p + 1:] < q[p]
        if np.any(later):
            par += occ[:, p] * occ[:, p + 1:][:, later].sum(axis=1)
    return st, 1.0 - 2.0 * (par & 1)


def _target_sites(target: Target) -> tuple[str, Lattice | tuple[int, int]]:
    if target.system in _SPIN_SYSTEMS:
        return "spin", target.lattice
    if target.system in _FERMION_SYSTEMS:
        return "fermion", target.lattice
    raise InvalidInputError(f"target.system {target.system!r} has no known basis; basis maps need a spin "
                            f"({_SPIN_SYSTEMS}) or fermion ({_FERMION_SYSTEMS}) target")


def basis_map(target: Target, hilbert: Any, *, graph: Any = None, sites: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(index, sign)`` with ``psi_nk[index[k]] = sign[k] * target.psi[k]`` in NetKet's ``all_states()`` order.

    Raises :class:`~nnqs_fast.errors.BasisMismatchError` if the Hilbert space is of the other kind, has another
    number of sites/orbitals, or does not contain every basis state of the target (another particle sector).
    """
    kind, lat = _target_sites(target)
    if _kind(hilbert) != kind:
        raise BasisMismatchError(f"a {kind} target needs a {'Spin(0.5)' if kind == 'spin' else 'SpinOrbitalFermions'}"
                                 f" Hilbert space, got {type(hilbert).__name__}")
    st, sign = netket_states(target.basis, hilbert, lat, graph=graph, sites=sites)
    if kind == "fermion" and hilbert.n_fermions_per_spin is not None:
        L = target.n_sites
        n_up = int(popcount(target.basis[:1] & ((1 << L) - 1))[0])
        n_dn = int(popcount(target.basis[:1] >> L)[0])
        if tuple(hilbert.n_fermions_per_spin) != (n_dn, n_up):
            raise BasisMismatchError(f"the target has (N_down, N_up) = {(n_dn, n_up)} but the Hilbert space has "
                                     f"n_fermions_per_spin = {tuple(hilbert.n_fermions_per_spin)}")
    if hilbert.n_states < target.dim:
        raise BasisMismatchError(f"the Hilbert space has {hilbert.n_states} states, fewer than the target's "
                                 f"{target.dim}")
    index = np.asarray(hilbert.states_to_numbers(st.astype(np.asarray(hilbert.all_states()[:1]).dtype)),
                       dtype=np.int64)
    return index, sign


def to_netket(target: Target, hilbert: Any, *, graph: Any = None, sites: Any = None) -> np.ndarray:
    """``target.psi`` as a vector over ``hilbert.all_states()`` (zeros on states outside the target's sector)."""
    index, sign = basis_map(target, hilbert, graph=graph, sites=sites)
    out = np.zeros(hilbert.n_states, dtype=np.complex128)
    out[index] = sign * target.psi
    return out


def _as_vector(psi: Any, hilbert: Any) -> tuple[np.ndarray, Any]:
    if hasattr(psi, "to_array") and hasattr(psi, "hilbert"):
        return np.asarray(psi.to_array(normalize=True), dtype=np.complex128), psi.hilbert
    if hilbert is None:
        raise InvalidInputError("pass hilbert= with a plain vector (or pass a NetKet variational state)")
    return np.asarray(psi, dtype=np.complex128), hilbert


def from_netket(psi: Any, hilbert: Any = None, *, lattice: Lattice | tuple[int, int], graph: Any = None,
                sites: Any = None, boundary: str = "n/a") -> Target:
    """A NetKet wavefunction (vector over ``hilbert.all_states()``, or a variational state) as a nnqs_fast
    :class:`~nnqs_fast.physics.Target` in nnqs_fast's basis order with the paper's encoding as ``inputs``.

    Spin-1/2: every ``2^L`` state (system ``"spin"``). SpinOrbitalFermions with fixed ``n_fermions_per_spin``:
    the ``(N_up, N_down)`` sector (system ``"fermion"``), Jordan-Wigner signs applied. Not normalised again.
    """
    vec, hilbert = _as_vector(psi, hilbert)
    if vec.shape != (hilbert.n_states,):
        raise BasisMismatchError(f"psi has shape {vec.shape} but the Hilbert space has {hilbert.n_states} states")
    lx, ly = (lattice.lx, lattice.ly) if isinstance(lattice, Lattice) else (int(lattice[0]), int(lattice[1]))
    L = lx * ly
    kind = _kind(hilbert)
    if kind == "spin":
        codes, system = tfim_basis(L), "spin"
        inputs = encode_spins(codes, L)
    else:
        if hilbert.n_fermions_per_spin is None:
            raise BasisMismatchError("from_netket needs SpinOrbitalFermions with fixed n_fermions_per_spin")
        n_dn, n_up = (int(v) for v in hilbert.n_fermions_per_spin)
        codes, system = np.array(HubbardBasis(L, n_up, n_dn).codes), "fermion"
        inputs = encode_occupations(codes, L)
    st, sign = netket_states(codes, hilbert, (lx, ly), graph=graph, sites=sites)
    index = np.asarray(hilbert.states_to_numbers(st.astype(np.asarray(hilbert.all_states()[:1]).dtype)))
    out = np.ascontiguousarray(sign * vec[index], dtype=np.complex128)
    for a in (out, inputs, codes):
        a.setflags(write=False)
    return Target(psi=out, inputs=inputs, basis=codes, system=system, boundary=boundary, lattice=(lx, ly),
                  dim=int(out.size), config={"source": "netket", "hilbert": repr(hilbert)})


def target_from_operator(op: Any, *, kind: str = "ground", order: str = "netket", lattice: Any = None,
                         graph: Any = None, sites: Any = None, psi0: Any = None, H0: Any = None,
                         tau: float | None = None, boundary: str = "n/a") -> Target:
    """Ground state or quench target of a NetKet operator (see :func:`nnqs_fast.physics.target_from_operator`).

    ``order="netket"``: basis = ``op.hilbert.all_states()`` (also the ``inputs``, NetKet's encoding);
    ``"nnqs"``: mapped to nnqs_fast's order and the paper's encoding (needs ``lattice``; ``graph``/``sites`` as in
    :func:`site_permutation`), so the result compares directly with :func:`~nnqs_fast.physics.make_target`.
    ``psi0`` is in NetKet order; ``H0`` a NetKet operator on the same Hilbert space.
    """
    hilbert = op.hilbert
    H = op.to_sparse()
    M0 = None if H0 is None else H0.to_sparse()
    t = _target_from_matrix(H, kind=kind, inputs=np.asarray(hilbert.all_states(), dtype=np.float64), psi0=psi0,
                            H0=M0, tau=tau, system="netket", boundary=boundary,
                            config={"operator": type(op).__name__, "order": order})
    if order == "netket":
        return t
    if order != "nnqs":
        raise InvalidInputError(f"order must be 'netket' or 'nnqs', got {order!r}")
    if lattice is None:
        raise InvalidInputError("order='nnqs' needs lattice=(lx, ly) (and graph= for NetKet's Grid numbering)")
    mapped = from_netket(t.psi, hilbert, lattice=lattice, graph=graph, sites=sites, boundary=boundary)
    return replace(mapped, config={**t.config, **mapped.config}, energies=t.energies)


# ----------------------------------------------------------------------------------------------- models
def apply_fn_of(model: Any) -> tuple[Callable, Any, str]:
    """``(apply_fn(params, x), params, output)`` of a NetKet variational state or a flax module.

    Variational states (MCState, FullSumState): their ``_apply_fun`` with the model state closed over, their
    ``parameters``, output ``"log_psi"``. A flax module: ``model.apply({"params": p}, x)`` with ``"log_psi"``
    (NetKet's models return log-amplitudes); its parameters must then be passed explicitly.
    """
    if hasattr(model, "parameters") and hasattr(model, "_apply_fun"):
        state = dict(getattr(model, "model_state", {}) or {})
        fun = model._apply_fun

        def apply_vs(p: Any, x: Any) -> Any:
            return fun({"params": p, **state}, x)
        return apply_vs, model.parameters, "log_psi"
    if hasattr(model, "apply") and hasattr(model, "init"):
        def apply_mod(p: Any, x: Any) -> Any:
            return model.apply({"params": p}, x)
        return apply_mod, None, "log_psi"
    raise InvalidInputError(f"expected a NetKet variational state or a flax module, got {type(model).__name__}")


def qsntk_fn(model: Any, *, output: str | None = None, holomorphic: bool = False,
             chunk_size: int | None = None) -> tuple[Callable[..., QSNTK], Any]:
    """``(qsntk_fn, params)`` for a NetKet variational state or flax module (``params`` None for a module)."""
    apply_fn, params, out = apply_fn_of(model)
    return empirical_qsntk_fn(apply_fn, output=output or out, holomorphic=holomorphic, chunk_size=chunk_size), params


def qsntk(model: Any, target: Target | None = None, *, params: Any = None, x: Any = None, graph: Any = None,
          sites: Any = None, output: str | None = None, holomorphic: bool = False,
          chunk_size: int | None = None) -> QSNTK:
    """QS-NTK of a NetKet model or variational state on a basis.

    * ``target`` given: rows are the target's basis states in nnqs_fast order (the network sees their NetKet
      configurations, :func:`netket_states`); for fermions the Jordan-Wigner signs multiply every block
      (``psi_nn = sign psi_nk``), so the kernel matches ``target.psi`` for :mod:`nnqs_fast.dynamics`.
    * else ``x`` (NetKet configurations) or, by default, all states of the variational state's Hilbert space.

    Raises :class:`~nnqs_fast.errors.BasisMismatchError` when the model's Hilbert space does not have the
    target's number of sites / states or ``x`` has the wrong width.
    """
    fn, p = qsntk_fn(model, output=output, holomorphic=holomorphic, chunk_size=chunk_size)
    params = p if params is None else params
    if params is None:
        raise InvalidInputError("pass params= for a flax module (a variational state carries its own)")
    hilbert = getattr(model, "hilbert", None)
    sign = None
    if target is not None:
        if hilbert is None:
            raise InvalidInputError("a target needs a variational state (which knows its Hilbert space)")
        index, sign = basis_map(target, hilbert, graph=graph, sites=sites)
        x = np.asarray(hilbert.all_states())[index]
    elif x is None:
        if hilbert is None:
            raise InvalidInputError("pass x= (NetKet configurations) for a flax module")
        x = np.asarray(hilbert.all_states())
    x = np.asarray(x, dtype=np.float64)
    if hilbert is not None and x.shape[1] != hilbert.size:
        raise BasisMismatchError(f"the inputs have {x.shape[1]} degrees of freedom but the model's Hilbert space "
                                 f"has {hilbert.size}")
    k = fn(x, None, params)
    if sign is None or np.all(sign == 1):
        return k
    s = np.outer(sign, sign)
    return qsntk_from_parts(k.theta1 * s, k.theta2 * s, k.mixing * s, k.mixing_t * s, symmetric=True,
                            meta={**k.meta, "jordan_wigner_signs": True})


def amplitudes(model: Any, target: Target, *, params: Any = None, graph: Any = None, sites: Any = None,
               output: str | None = None) -> np.ndarray:
    """``psi`` of a NetKet variational state (or flax module with ``params``; then its Hilbert space is inferred
    from the target) on the target's basis, in nnqs_fast order and sign convention (``psi_nn = sign psi_nk``): the
    ``fx_train_0`` of :func:`nnqs_fast.qsntk_mse_predictor`. Not normalised (the model's own amplitudes)."""
    from .interop.jax import psi_fn
    apply_fn, p, out = apply_fn_of(model)
    params = p if params is None else params
    if params is None:
        raise InvalidInputError("pass params= for a flax module (a variational state carries its own)")
    _, lat = _target_sites(target)
    st, sign = netket_states(target.basis, getattr(model, "hilbert", None) or _default_hilbert(target), lat,
                             graph=graph, sites=sites)
    return sign * np.asarray(psi_fn(apply_fn, output or out)(params, st))


def _default_hilbert(target: Target) -> Any:
    L = target.n_sites
    if target.system in _SPIN_SYSTEMS:
        return nk.hilbert.Spin(0.5, L)
    n_up = int(popcount(target.basis[:1] & ((1 << L) - 1))[0])
    n_dn = int(popcount(target.basis[:1] >> L)[0])
    return nk.hilbert.SpinOrbitalFermions(L, s=0.5, n_fermions_per_spin=(n_dn, n_up))
