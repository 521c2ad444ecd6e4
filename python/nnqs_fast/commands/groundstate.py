"""``nnqs-fast groundstate``: will an NNQS find the ground state, and does infinite-width theory predict it?

Trains finite-width ensembles on the energy (or the tomography / infidelity loss) and compares them with the
constant-kernel (infinite-width QS-NTK) flow of NNGP initial states; writes JSON + NPZ + PNG/PDF — see
docs/groundstate.md."""

from __future__ import annotations

import argparse

from ._common import add_output_options, add_seed_option


def _ints(text: str) -> list[int]:
    try:
        out = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not out or min(out) <= 0:
        raise argparse.ArgumentTypeError(f"widths must be positive integers, got {text!r}")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("groundstate", help="ground-state training: infinite-width QS-NTK flow vs finite widths",
                       description="Gradient descent of NNQS ψ = ψ1 + iψ2 (depth-1 ReLU nets, NTK parameterisation) "
                                   "on the exact energy ⟨ψ|H|ψ⟩/⟨ψ|ψ⟩ (or --loss tomography|infidelity) over the "
                                   "full basis: the infinite-width prediction (constant-kernel flow of NNGP initial "
                                   "states) against finite-width ensembles at the same learning rate and steps.")
    p.add_argument("--system", choices=("tfim", "hubbard"), default="tfim", help="system (default: tfim)")
    p.add_argument("--lx", type=int, default=None, help="lattice size along x (default: 3 tfim, 2 hubbard)")
    p.add_argument("--ly", type=int, default=None, help="lattice size along y (default: 3)")
    p.add_argument("--boundary", choices=("open", "periodic"), default=None, help="boundary (default: open)")
    p.add_argument("--J", type=float, default=1.0, help="TFIM transverse field (default 1.0)")
    p.add_argument("--U", type=float, default=4.0, help="Hubbard interaction (default 4.0; hopping t = 1)")
    p.add_argument("--n-up", type=int, default=2, help="Hubbard spin-up fermions (default 2)")
    p.add_argument("--n-down", type=int, default=2, help="Hubbard spin-down fermions (default 2)")
    p.add_argument("--loss", choices=("energy", "tomography", "infidelity"), default="energy",
                   help="training loss (default energy; tomography: NLL of Z…Z and X…X outcomes of the exact "
                        "ground state; infidelity with the exact ground state)")
    p.add_argument("--shots", type=int, default=None,
                   help="tomography: sampled outcomes per basis (seeded); default exact Born probabilities")
    p.add_argument("--widths", type=_ints, default=[64, 256, 1024], help="finite widths (default 64,256,1024)")
    p.add_argument("--members", type=int, default=4, help="finite-width members per width (default 4)")
    p.add_argument("--inf-members", type=int, default=32, help="infinite-width NNGP initial states (default 32)")
    p.add_argument("--steps", type=int, default=1000, help="gradient-descent steps (default 1000)")
    p.add_argument("--lr-factor", type=float, default=0.5, help="learning rate / η_max (default 0.5)")
    p.add_argument("--n-record", type=int, default=30, help="log-spaced record steps (default 30)")
    p.add_argument("--kernel-dtype", choices=("float64", "float32"), default="float64",
                   help="dtype of the kernel GEMM of the infinite-width flow (default float64)")
    p.add_argument("--workers", type=int, default=None, help="members trained concurrently (default: cores)")
    add_seed_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.groundstate import make_problem, plot_groundstate, run_groundstate
    from ..experiments.io import save_results

    prob = make_problem(args.system, lx=args.lx, ly=args.ly, boundary=args.boundary, J=args.J, U=args.U,
                        n_up=args.n_up, n_down=args.n_down)
    config, results, arrays = run_groundstate(prob, loss=args.loss, widths=args.widths, members=args.members,
                                              inf_members=args.inf_members, steps=args.steps,
                                              lr_factor=args.lr_factor, seed=args.seed, n_record=args.n_record,
                                              n_shots=args.shots, kernel_dtype=args.kernel_dtype,
                                              n_workers=args.workers, quiet=args.quiet)
    json_path, _ = save_results(args.out, "groundstate", config=config, results=results, arrays=arrays,
                                seed=args.seed, backend="cpu")
    figs = plot_groundstate(config, arrays, json_path.with_suffix(".png"))
    if not args.quiet:
        E0 = results["exact_ground_energy"]
        print(f"groundstate {args.system} {prob.config['lx']}x{prob.config['ly']} (dim {prob.config['dim']}), "
              f"{args.loss} loss: E0 = {E0:.6f}, lr = {results['learning_rate']:.4g} "
              f"(eta_max {results['eta_max']:.4g}), {args.steps} steps")
        print(f"  inf-width: E = {results['final_energy_infinite']:.6f} ± {results['final_energy_infinite_sem']:.2g}"
              f"  (E-E0)/|E0| = {results['final_rel_error_infinite']:.3e}  fidelity "
              f"{results['final_fidelity_infinite']:.4f}")
        for w in args.widths:
            k = str(w)
            if k in results["final_energy_finite"]:
                print(f"  N = {w:>6}: E = {results['final_energy_finite'][k]:.6f} ± "
                      f"{results['final_energy_finite_sem'][k]:.2g}  (E-E0)/|E0| = "
                      f"{results['final_rel_error_finite'][k]:.3e}  fidelity {results['final_fidelity_finite'][k]:.4f}"
                      f"  max |E_N - E_inf|/|E_inf(0) - E0| = {results['max_distance_to_infinite'][k]:.3f}")
        print(f"wrote {json_path} (+ .npz, {figs[0].name}, {figs[1].name}) in {results['wall_time_s']:.1f} s")
    return 0
