"""``nnqs-fast train``: train an ensemble of finite-width NNQS on a target by full-batch gradient descent and write
the recorded losses (JSON + NPZ) — see docs/training.md."""

from __future__ import annotations

import argparse

import numpy as np

from ._common import add_backend_option, add_output_options, add_seed_option, add_target_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a finite-width NNQS ensemble by gradient descent (records losses)",
                       description="Train K NNQS ψ = ψ1 + iψ2 (one-hidden-layer ReLU nets, NTK parameterisation) on a "
                                   "uniform train split of the target's basis with full-batch gradient descent at "
                                   "0.9 × η_max of the analytic NTK; record train/test losses at log-spaced steps.")
    add_target_options(p)
    p.add_argument("--width", type=int, default=1000, help="hidden width N (default 1000)")
    p.add_argument("--members", type=int, default=10, help="ensemble size K (default 10)")
    p.add_argument("--steps", type=int, default=10_000, help="gradient-descent steps (default 10000)")
    p.add_argument("--train-size", type=int, default=2400, help="train points (default 2400)")
    p.add_argument("--lr-factor", type=float, default=0.9, help="learning rate / η_max (default 0.9)")
    p.add_argument("--learning-rate", type=float, default=None, help="an absolute learning rate instead")
    p.add_argument("--force", action="store_true", help="allow a learning rate above η_max (warns)")
    p.add_argument("--early-stop", type=float, default=0.0, metavar="RTOL",
                   help="stop a network when its train loss changes by less than RTOL per step (default off)")
    p.add_argument("--n-record", type=int, default=40, help="log-spaced record steps (default 40)")
    p.add_argument("--workers", type=int, default=None, help="networks trained concurrently (default: cores)")
    add_seed_option(p)
    add_backend_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments import _training_figs as tf
    from ..experiments.io import save_results
    from ..training import train_ensemble

    target = tf.load_target(args)
    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    tr, te = tf.split(psi.shape[0], args.train_size, args.seed)
    res = train_ensemble(x[tr], psi[tr], x[te], psi[te], width=args.width, n_members=args.members,
                         n_steps=args.steps, learning_rate=args.learning_rate, lr_factor=args.lr_factor,
                         force=args.force, seed=args.seed, n_record=args.n_record, early_stop_rtol=args.early_stop,
                         n_workers=args.workers, backend=args.backend, quiet=args.quiet,
                         desc=f"train {args.system} N={args.width}")
    config = {"system": args.system, "lattice": [args.lx, args.ly], "boundary": target.boundary,
              "target": dict(target.config), "train_size": args.train_size, **res.config}
    results = res.summary()
    arrays = {**res.arrays(), "train_idx": tr, "test_idx": te}
    json_path, _ = save_results(args.out, "train", config=config, results=results, arrays=arrays, seed=args.seed,
                                backend=res.backend)
    if not args.quiet:
        print(f"train {args.system}: N={args.width} K={args.members} n={tr.size} lr={res.learning_rate:.4g} "
              f"(eta_max {res.max_learning_rate:.4g}), {res.wall_time_s:.1f} s")
        print(f"  step {int(res.steps[-1])}: L_Psi_l train {res.train_loss_ensemble[-1]:.4e} test "
              f"{res.test_loss_ensemble[-1]:.4e}; ensemble-mean loss train {res.train_loss_of_mean[-1]:.4e} "
              f"test {res.test_loss_of_mean[-1]:.4e}")
        if res.interrupted:
            print(f"  interrupted: kept {res.members_done} complete member(s) and partial records")
        print(f"wrote {json_path} (+ .npz)")
    return 130 if res.interrupted else 0
