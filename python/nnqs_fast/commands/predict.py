"""``nnqs-fast predict``: QS-NTK predictions of supervised training (Eqs. 13–18, the paper's Fig. 2 QS-NTK lines).

Writes ``predict.json`` + ``predict.npz`` (+ ``predict.png``) into ``--out``. JSON ``results`` keys:
``learning_rate``, ``eta_max``, ``n_train``, ``n_test``, ``L_{mu,gamma,psi}_{train,test}_inf``, ``fidelity_inf``,
the same quantities at the last step with suffix ``_final``, ``final_step``, ``target``, ``timings_s``.
NPZ: ``steps``, ``train_idx``, ``test_idx`` (indices into the target's basis order), ``L_mu_train``,
``L_gamma_train``, ``L_psi_train``, ``L_mu_test``, ``L_gamma_test``, ``L_psi_test``, ``fidelity`` (over steps).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from ..networks.dense import B_STD, W_STD
from ._common import add_backend_option, add_output_options, add_seed_option, add_target_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="QS-NTK predictions of train/test losses and fidelity (Fig. 2 style)",
                       description="Split the target's basis at random into train/test points, compute the analytic "
                                   "NNGP/NTK of the one-hidden-layer ReLU network, and predict the infinite "
                                   "ensemble's L_mu, L_gamma, L_Psi_l (Eqs. 16-18) over a log grid of GD steps, "
                                   "their tau -> infinity limits and the fidelity of the mean state.")
    add_target_options(p)
    p.add_argument("--train-size", type=int, default=2400, help="number of train points (default: 2400)")
    add_seed_option(p)
    p.add_argument("--depth", type=int, default=1, help="hidden layers of the ReLU network (default: 1)")
    p.add_argument("--W-std", type=float, default=W_STD, help="weight std (default: 0.5)")
    p.add_argument("--b-std", type=float, default=B_STD, help="bias std (default: 0.1)")
    p.add_argument("--lr-fraction", type=float, default=0.9,
                   help="learning rate as a fraction of eta_max = n / lambda_max(NTK) (default: 0.9, the paper's)")
    p.add_argument("--learning-rate", type=float, default=None, help="absolute learning rate (overrides --lr-fraction)")
    p.add_argument("--max-step", type=int, default=10_000, help="last step of the log grid (default: 10000)")
    p.add_argument("--n-times", type=int, default=41, help="points of the log grid 1..max-step (default: 41)")
    p.add_argument("--discrete", action="store_true",
                   help="exact discrete GD steps instead of continuous gradient flow (time unit: steps either way)")
    p.add_argument("--diag-reg", type=float, default=0.0, help="added to the NTK diagonal (default: 0)")
    p.add_argument("--no-plot", action="store_true", help="skip predict.png")
    p.add_argument("--memory-limit", type=float, default=None, metavar="GIB",
                   help="total memory the run may hold, in GiB (default: 80%% of physical memory, or the "
                        "NNQS_FAST_MAX_TOTAL_BYTES environment variable); larger runs are refused before any work "
                        "with the estimate in the message")
    add_backend_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._backend import resolve_backend
    from ..experiments.io import save_results
    from ..experiments.predict_curves import PredictConfig, plot_predict_curves, run_predict_curves

    if args.memory_limit is not None:
        import os

        from .._validation import check_finite_scalar

        gib = check_finite_scalar(args.memory_limit, "--memory-limit", positive=True)
        os.environ["NNQS_FAST_MAX_TOTAL_BYTES"] = str(int(gib * 1024**3))
    backend = resolve_backend(args.backend)
    cfg = PredictConfig(system=args.system, boundary=args.boundary, lx=args.lx, ly=args.ly,
                        train_size=args.train_size, seed=args.seed, depth=args.depth, W_std=args.W_std,
                        b_std=args.b_std, lr_fraction=args.lr_fraction, learning_rate=args.learning_rate,
                        max_step=args.max_step, n_times=args.n_times, discrete=args.discrete,
                        diag_reg=args.diag_reg, backend=args.backend)
    res = run_predict_curves(cfg, quiet=args.quiet)
    save_results(args.out, "predict", config=asdict(cfg), results=res.results_dict(), arrays=res.arrays(),
                 seed=cfg.seed, backend=backend)
    if not args.no_plot:
        import matplotlib.pyplot as plt

        boundary = res.target_config.get("boundary", cfg.boundary)
        fig = plot_predict_curves(res.steps, res.curves, res.limits, path=Path(args.out) / "predict.png",
                                  title=f"{cfg.system} ({boundary}), n_train = {cfg.train_size}")
        plt.close(fig)
    if not args.quiet:
        r = res.results_dict()
        print(f"{cfg.system}: n_train={r['n_train']} n_test={r['n_test']} eta={r['learning_rate']:.4g} "
              f"(eta_max={r['eta_max']:.4g})")
        print(f"  tau->inf test: L_mu={r['L_mu_test_inf']:.4e} L_gamma={r['L_gamma_test_inf']:.4e} "
              f"L_psi={r['L_psi_test_inf']:.4e} fidelity={r['fidelity_inf']:.6f}")
        print(f"  wrote {Path(args.out) / 'predict.json'}")
    return 0
