"""Targets from any operator: the ground state or a quench of a sparse (or dense) Hermitian matrix.

``target_from_operator(H, kind="ground" | "quench", ...)`` generalises :func:`~nnqs_fast.physics.make_target`
(TFIM and Hubbard on rectangles only) to any Hamiltonian given as a matrix in some basis: a SciPy sparse matrix
(QuSpin's ``hamiltonian.tocsr()``), a dense array, or anything with ``to_sparse()`` (a NetKet operator; the
NetKet bridge :mod:`nnqs_fast.netket` supplies the basis order and inputs). It reuses the quench code of
:mod:`nnqs_fast.physics.quench` (``ground_state``: dense ``eigh`` / ``eigsh`` with a fixed start vector and the
phase rule of :func:`~nnqs_fast.physics.quench.fix_phase`; ``evolve``: ``expm_multiply``).

* ``kind="ground"``: ``psi_T`` = the ground state of ``H``;
* ``kind="quench"``: ``psi_T = e^{-i H tau} psi_0 / ||.||`` with ``psi_0`` given, or the ground state of ``H0``.

The rows of ``H`` define the basis order of ``psi``; ``inputs`` (one row per basis state, same order) are what a
network sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import as_array, check_choice, check_finite_scalar
from ..errors import BasisMismatchError, InvalidInputError
from .quench import evolve, ground_state
from .targets import Target

__all__ = ["target_from_operator", "as_sparse_operator"]

KINDS = ("ground", "quench")


def as_sparse_operator(H: Any, name: str = "H", *, hermitian_rtol: float = 1e-10) -> sp.csr_matrix:
    """CSR matrix of ``H`` (SciPy sparse, dense array, or an object with ``to_sparse()`` such as a NetKet operator);
    checks squareness and Hermiticity (``max |H - H^H| <= hermitian_rtol * max |H|``). Real when ``H`` is."""
    if hasattr(H, "to_sparse") and not sp.issparse(H):
        H = H.to_sparse()
    if sp.issparse(H):
        M = sp.csr_matrix(H, copy=True)  # own, writable arrays (NetKet's may be read-only views)
    else:
        M = sp.csr_matrix(as_array(H, name, ndim=2))
    if M.shape[0] != M.shape[1] or M.shape[0] == 0:
        raise BasisMismatchError(f"{name} must be a non-empty square matrix, got shape {M.shape}")
    if np.iscomplexobj(M.data) and (M.data.size == 0 or np.max(np.abs(M.data.imag)) == 0.0):
        M = sp.csr_matrix(M.real)
    scale = float(np.max(np.abs(M.data))) if M.nnz else 0.0
    asym = abs(M - M.conj().T)
    dev = float(asym.max()) if asym.nnz else 0.0
    if dev > hermitian_rtol * max(scale, np.finfo(float).tiny):
        raise InvalidInputError(f"{name} is not Hermitian (max |H - H^H| = {dev:.3g}, scale {scale:.3g}); "
                                "a Hamiltonian must be")
    M.sort_indices()
    return M


def target_from_operator(H: Any, *, kind: str = "ground", inputs: Any = None, psi0: Any = None, H0: Any = None,
                         tau: float | None = None, basis: Any = None, system: str = "operator",
                         lattice: tuple[int, int] | None = None, boundary: str = "n/a",
                         config: dict | None = None) -> Target:
    """A :class:`~nnqs_fast.physics.Target` from the Hamiltonian ``H`` (ground state or quench, see the module).

    Args:
      H: the Hamiltonian as a matrix over the basis (rows = basis states in the order of ``inputs``).
      kind: ``"ground"`` or ``"quench"``.
      inputs: ``(dim, d)`` network input of each basis state (required; e.g. NetKet's ``hilbert.all_states()``).
      psi0, H0: the quench's initial state (a vector) or the Hamiltonian whose ground state it is (one of them).
      tau: the quench time (``e^{-i H tau}``), required for ``kind="quench"``.
      basis: optional int64 codes of the basis states (default ``arange(dim)``).
      system, lattice, boundary, config: recorded in the Target (``lattice`` default ``(d, 1)``).

    Raises :class:`~nnqs_fast.errors.BasisMismatchError` when ``inputs``, ``psi0``, ``H0`` or ``basis`` do not
    have ``dim`` rows.
    """
    kind = check_choice(kind, "kind", KINDS)
    M = as_sparse_operator(H, "H")
    dim = M.shape[0]
    if inputs is None:
        raise InvalidInputError("inputs (one row per basis state, the network's input) is required")
    x = np.array(as_array(inputs, "inputs", ndim=2, allow_complex=False), dtype=np.float64)  # own copy
    if x.shape[0] != dim:
        raise BasisMismatchError(f"H has {dim} basis states but inputs has {x.shape[0]} rows")
    codes = np.arange(dim, dtype=np.int64) if basis is None else np.array(basis, dtype=np.int64)
    if codes.shape != (dim,):
        raise BasisMismatchError(f"basis must hold {dim} codes, got shape {codes.shape}")
    cfg: dict[str, Any] = {"system": system, "kind": kind, "dim": dim, "source": "target_from_operator"}
    energies: dict[str, float] = {}
    if kind == "ground":
        if psi0 is not None or H0 is not None or tau is not None:
            raise InvalidInputError("kind='ground' takes no psi0, H0 or tau")
        e0, psi, gap = ground_state(M)
        energies = {"energy": e0, "ground_energy": e0, "gap": gap}
    else:
        if tau is None:
            raise InvalidInputError("kind='quench' needs the quench time tau")
        tau = check_finite_scalar(tau, "tau")
        if (psi0 is None) == (H0 is None):
            raise InvalidInputError("kind='quench' needs exactly one of psi0 (initial vector) or H0 (its ground "
                                    "state is the initial state)")
        if H0 is not None:
            M0 = as_sparse_operator(H0, "H0")
            if M0.shape != M.shape:
                raise BasisMismatchError(f"H0 has shape {M0.shape} but H has {M.shape}; same basis required")
            e00, p0, gap0 = ground_state(M0)
            energies.update({"ground_energy_H0": e00, "gap_H0": gap0})
        else:
            p0 = np.asarray(as_array(psi0, "psi0", ndim=1), dtype=np.complex128)
            if p0.shape[0] != dim:
                raise BasisMismatchError(f"psi0 has {p0.shape[0]} amplitudes but H has {dim} basis states")
            nrm = float(np.linalg.norm(p0))
            if not nrm > 0:
                raise InvalidInputError("psi0 is the zero vector")
            p0 = p0 / nrm
        psi = evolve(M, p0, tau)
        psi = psi / np.linalg.norm(psi)
        energies["energy_initial"] = float(np.real(np.vdot(p0, M @ p0)))
        cfg["tau"] = tau
        energies["energy"] = float(np.real(np.vdot(psi, M @ psi)))
    cfg.update(config or {})
    psi = np.ascontiguousarray(psi, dtype=np.complex128)
    for a in (psi, x, codes):
        a.setflags(write=False)
    lat = (int(x.shape[1]), 1) if lattice is None else (int(lattice[0]), int(lattice[1]))
    return Target(psi=psi, inputs=x, basis=codes, system=system, boundary=boundary, lattice=lat, dim=dim,
                  config=cfg, energies=energies)
