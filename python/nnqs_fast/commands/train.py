"""``nnqs-fast train``: train an ensemble of finite-width NNQS on a target by full-batch gradient descent and write
the recorded losses (JSON + NPZ) and a figure of them (train.png/.pdf) — see docs/training.md.

Defaults follow the paper's experiment (one hidden ReLU layer, W_std 0.25, b_std 0.01 as in the reproductions,
0.9 × η_max, 2400 train points, 10⁴ steps) at width 1000 and K = 10.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ._common import (
    add_backend_option,
    add_deprecated_alias,
    add_output_options,
    add_seed_option,
    add_target_options,
    add_weight_scale_arguments,
    weight_scale,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a finite-width NNQS ensemble by gradient descent (records losses)",
                       description="Train K NNQS psi = psi1 + i psi2 (one-hidden-layer ReLU nets, NTK "
                                   "parameterisation) on a uniform train split of the target's basis with full-batch "
                                   "gradient descent at 0.9 x eta_max of the analytic NTK; record train/test losses "
                                   "at log-spaced steps. Writes train.json/.npz and train.png/.pdf.")
    add_target_options(p)
    p.add_argument("--width", type=int, default=1000, help="hidden width N (default 1000)")
    p.add_argument("--members", type=int, default=10, help="ensemble size K (default 10)")
    p.add_argument("--steps", type=int, default=10_000, help="gradient-descent steps (default 10000)")
    p.add_argument("--train-size", type=int, default=2400, help="train points (default 2400)")
    add_weight_scale_arguments(p)
    p.add_argument("--lr-factor", type=float, default=0.9,
                   help="learning rate as a fraction of eta_max = n / lambda_max(analytic NTK) (default 0.9)")
    add_deprecated_alias(p, "--lr-fraction", dest="lr_factor", new="--lr-factor", type=float)
    p.add_argument("--learning-rate", type=float, default=None, help="an absolute learning rate instead")
    p.add_argument("--force", action="store_true", help="allow a learning rate above eta_max (warns)")
    p.add_argument("--early-stop", type=float, default=0.0, metavar="RTOL",
                   help="stop a network when its train loss changes by less than RTOL per step (default off)")
    p.add_argument("--n-record", type=int, default=40, help="log-spaced record steps (default 40)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="training precision (float32: float32 parameters and activations, float64 losses; "
                        "default float64)")
    p.add_argument("--workers", type=int, default=None, help="networks trained concurrently (default: cores)")
    p.add_argument("--no-plot", action="store_true", help="skip the figure train.png/.pdf")
    add_seed_option(p)
    add_backend_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments import _training_figs as tf
    from ..experiments.conventions import conventions, weight_scale_reading
    from ..experiments.io import save_results
    from ..training import train_ensemble
    from ..training.step import precision_convention

    W_std, b_std = weight_scale(args)
    target = tf.load_target(args)
    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    tr, te = tf.split(psi.shape[0], args.train_size, args.seed)
    res = train_ensemble(x[tr], psi[tr], x[te], psi[te], width=args.width, n_members=args.members,
                         n_steps=args.steps, learning_rate=args.learning_rate, lr_factor=args.lr_factor,
                         force=args.force, W_std=W_std, b_std=b_std, seed=args.seed, n_record=args.n_record,
                         early_stop_rtol=args.early_stop, n_workers=args.workers, backend=args.backend,
                         quiet=args.quiet, desc=f"train {args.system} N={args.width}", dtype=args.dtype)
    given = args.learning_rate is not None
    config = {"system": args.system, "lattice": [args.lx, args.ly], "boundary": target.boundary,
              "target": dict(target.config), "train_size": args.train_size, **res.config,
              "lr_factor": args.lr_factor, "learning_rate_given": given, "learning_rate": res.learning_rate,
              "weight_scale": weight_scale_reading(W_std, b_std)}
    conv = conventions(system=args.system, lattice=[args.lx, args.ly], boundary=target.boundary, time="discrete",
                       eta_max=res.max_learning_rate, learning_rate=res.learning_rate, lr_factor=args.lr_factor,
                       learning_rate_given=given, W_std=W_std, b_std=b_std, depth=1,
                       extra={"split": "rng(seed).permutation(D): first n = train, the rest = test (sorted)",
                              "members": "member k uses member_seeds(seed, 2K)[2k] for psi1 and [2k+1] for psi2",
                              "training_precision": precision_convention(args.dtype)})
    results = res.summary()
    arrays = {**res.arrays(), "train_idx": tr, "test_idx": te}
    json_path, _ = save_results(args.out, "train", config=config, results=results, arrays=arrays, seed=args.seed,
                                backend=res.backend, conventions=conv)
    if not args.no_plot:
        plot(config, arrays, Path(args.out))
    if not args.quiet:
        print(f"train {args.system}: N={args.width} K={args.members} n={tr.size} lr={res.learning_rate:.4g} "
              f"(eta_max {res.max_learning_rate:.4g}), {res.wall_time_s:.1f} s")
        print(f"  step {int(res.steps[-1])}: L_Psi_l train {res.train_loss_ensemble[-1]:.4e} test "
              f"{res.test_loss_ensemble[-1]:.4e}; ensemble-mean loss train {res.train_loss_of_mean[-1]:.4e} "
              f"test {res.test_loss_of_mean[-1]:.4e}")
        if res.interrupted:
            print(f"  interrupted: kept {res.members_done} complete member(s) and partial records")
        print(f"wrote {json_path} (+ .npz{'' if args.no_plot else ', .png, .pdf'})")
    return 130 if res.interrupted else 0


def make_figure(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """train.png/.pdf: the ensemble loss L_Psi_l (markers) and each member's loss (thin lines) on train and test
    vs step, and the loss of the ensemble-mean state (open markers, the finite-K estimate of L_mu)."""
    from ..experiments import plotting as pl

    steps = np.asarray(arrays["steps"])
    keep = steps > 0
    t = steps[keep]
    fig, (ax,) = pl.new_figure(1, panel_size=(6.0, 4.0))
    for part in ("train", "test"):
        members = np.asarray(arrays[f"{part}_loss"])[:, keep]
        for m in members:
            ax.plot(t, m, color=pl.width_shade(part, 0, 3), lw=0.6, alpha=0.7, zorder=1)
        pl.ensemble_points(ax, t, np.asarray(arrays[f"{part}_loss_ensemble"])[keep], part,
                           label=f"{part}: " + r"$L_{\Psi_l}$ (mean of member losses)", ms=4)
        pl.ensemble_points(ax, t, np.asarray(arrays[f"{part}_loss_of_mean"])[keep], part, marker="o", mfc="white",
                           ms=4, label=f"{part}: loss of the ensemble mean")
    ax.plot([], [], color="#999999", lw=0.6, label="single members")
    ax.set_xscale("log")
    ax.set_yscale("log")
    rate = pl.rate_label(config["lr_factor"], bool(config.get("learning_rate_given")))
    ax.set_xlabel(f"gradient-descent step $t$ ({rate})")
    ax.set_ylabel("loss " + pl.LOSS_LABEL)
    pl.legend(ax, loc="lower left")
    system = {"tfim": "transverse-field Ising", "hubbard": "Fermi–Hubbard"}.get(config["system"], config["system"])
    lx, ly = config["lattice"]
    fig.suptitle(f"{system} {lx}×{ly} ({config['boundary']}): width N = {config['width']}, K = {config['n_members']}, "
                 f"train size n = {config['train_size']}")
    pl.settings_note(ax, f"$W_{{std}}$ = {config['W_std']:g}, $b_{{std}}$ = {config['b_std']:g}", loc="upper right")
    return fig


def plot(config: dict[str, Any], arrays: dict[str, np.ndarray], out_dir: Path) -> tuple[Path, Path]:
    """Draw the figure (:func:`make_figure`) and write train.png (300 dpi) + .pdf into ``out_dir``."""
    from ..experiments import plotting as pl

    return pl.save_figure(make_figure(config, arrays), out_dir, "train")
