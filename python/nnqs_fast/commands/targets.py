"""``nnqs-fast targets``: build the paper's quench target (Eqs. 19–20) and write ψ_T and its input encoding."""

from __future__ import annotations

import argparse

import numpy as np

from ..experiments.io import save_results
from ._common import add_output_options, add_target_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "targets", help="build a quench target wavefunction (TFIM or Fermi-Hubbard) and its network inputs",
        description="Build the paper's target psi_T (TFIM: exp(-iH tau)|+>^L; Hubbard: exp(-iH(U) tau) applied to the "
                    "ground state at U0) on an lx x ly lattice and write OUT/targets_<system>.json (system, boundary, "
                    "lattice, dim, config, norm, energies) and .npz (psi, inputs, basis).")
    add_target_options(p)
    p.add_argument("--J", type=float, default=0.1, help="TFIM transverse field J (default: 0.1)")
    p.add_argument("--t", type=float, default=1.0, help="Hubbard hopping t (default: 1.0)")
    p.add_argument("--U0", type=float, default=4.0, help="Hubbard U of the initial ground state (default: 4.0)")
    p.add_argument("--U", type=float, default=8.0, help="Hubbard U of the quench Hamiltonian (default: 8.0)")
    p.add_argument("--n-up", dest="n_up", type=int, default=2, help="Hubbard spin-up fermions (default: 2)")
    p.add_argument("--n-down", dest="n_down", type=int, default=2, help="Hubbard spin-down fermions (default: 2)")
    p.add_argument("--tau", type=float, default=2.1, help="evolution time tau (default: 2.1)")
    p.add_argument("--name", default=None, help="result file stem (default: targets_<system>)")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..physics import make_target

    target = make_target(args.system, lx=args.lx, ly=args.ly, boundary=args.boundary, J=args.J, t=args.t,
                         U0=args.U0, U=args.U, n_up=args.n_up, n_down=args.n_down, tau=args.tau)
    norm = float(np.linalg.norm(target.psi))
    results = {"system": target.system, "boundary": target.boundary, "lattice": list(target.lattice),
               "n_sites": target.n_sites, "dim": target.dim, "norm": norm, "energies": target.energies,
               "max_abs_amplitude": float(np.abs(target.psi).max()),
               "inverse_participation_ratio": float(np.sum(np.abs(target.psi) ** 4))}
    from ..experiments.conventions import conventions

    name = args.name or f"targets_{target.system}"
    conv = conventions(system=target.system, lattice=list(target.lattice), boundary=target.boundary,
                       extra={"time_unit": "evolution time tau with hbar = 1, energies in the Hamiltonian's units "
                                           "(Eqs. 19-20)",
                              "psi": "psi_T = exp(-i H tau) psi_0, normalised over the full basis; arrays in the "
                                     "basis order of `basis`"})
    json_path, npz_path = save_results(
        args.out, name, config=target.config, results=results,
        arrays={"psi": target.psi, "inputs": target.inputs, "basis": target.basis}, seed=None, backend="cpu",
        conventions=conv)
    if not args.quiet:
        print(f"{target.system} {target.lattice[0]}x{target.lattice[1]} ({target.boundary}), dim {target.dim}, "
              f"<H> = {target.energies['energy']:.6f}, norm = {norm:.12f}")
        print(f"wrote {json_path} and {npz_path}")
    return 0
