"""Fig. 2: training dynamics of finite-width NNQS ensembles vs the QS-NTK prediction of the ∞-NNQS.

ψ = ψ1 + iψ2 (two one-hidden-layer ReLU networks in the NTK parameterisation, W_std 0.25, b_std 0.01 by default:
the paper's "W ~ N(0, 0.25), b ~ N(0, 0.01)" read as standard deviations, see docs/training.md; --weight-scale
paper-variance for 0.5 / 0.1) trained by full-batch gradient descent on the loss of Eq. 13 over train_size
uniformly drawn basis states of the target (TFIM or Hubbard quench), the rest being the test set, at
0.9 x eta_max of the analytic NTK. For each width: the ensemble's L_Psi_l (Eq. 17 at finite tau: the mean of the
member losses) on train and test, recorded at exactly the steps of the QS-NTK curves L_Psi_l = L_mu + L_gamma
(Eq. 18), and the QS-NTK test loss at tau -> infinity (dashed). A lower panel shows the relative deviation of
each width's test loss from the QS-NTK: it shrinks as the width grows.

Paper: width 5000, K = 10, 2400 train points, 10^4 steps (--paper). Without a usable GPU the default is reduced
(widths 64, 256, 1024 overlaid, K = 1, same n and steps; about two minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import _training_figs as tf

#: Plain-text description for ``--help``.
DESCRIPTION = ("Fig. 2: training dynamics of finite-width NNQS ensembles (several widths overlaid) vs the QS-NTK "
               "prediction of the infinite-width limit: train and test loss L_Psi_l vs gradient-descent step, the "
               "QS-NTK test loss at tau -> infinity, and each width's relative deviation from the QS-NTK. Paper: "
               "width 5000, K = 10, n = 2400, 10^4 steps (--paper); CPU default: widths 64, 256, 1024, K = 1. "
               "Weights W_std 0.25, b_std 0.01 (--weight-scale paper-std; paper-variance gives 0.5, 0.1).")

NAME = "fig2"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``nnqs-fast reproduce fig2`` (skips options the caller already added)."""
    tf.add_common_arguments(parser, NAME)
    tf.add(parser, "--widths", type=int, nargs="+", default=None, dest="width", metavar="N",
           help="hidden widths N, overlaid (paper 5000; reduced 64 256 1024)")
    tf.add_deprecated_alias(parser, "--width", dest="width", new="--widths", nargs="+", type=int)
    tf.add(parser, "--train-size", type=int, default=None, help="train points (paper 2400)")
    tf.add(parser, "--dtype", choices=("float64", "float32"), default="float64",
           help="training precision of the networks (float32: float32 parameters and activations, float64 losses; "
                "default float64)")
    tf.add(parser, "--n-record", type=int, default=41,
           help="log-spaced steps 1..T at which the QS-NTK is evaluated and the ensembles are recorded (default 41)")


def widths_of(s: dict[str, Any]) -> list[int]:
    """The widths of a fig2 setting (``width`` is one int or a list)."""
    w = s["width"]
    return [int(v) for v in (w if isinstance(w, (list, tuple)) else [w])]


def compute(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    from .._backend import resolve_backend
    from ..training import train_ensemble

    backend = resolve_backend(args.backend)
    s, mode = tf.settings(args, NAME, backend)
    W_std, b_std = tf.weight_scale(args)
    widths = widths_of(s)
    t0 = time.perf_counter()
    target = tf.load_target(args)
    steps_T = int(s["steps"])
    q = tf.qsntk(target, s["train_size"], args.seed, steps_T, args.learning_rate, args.lr_factor, backend,
                 W_std=W_std, b_std=b_std, n_times=args.n_record)
    t_q = time.perf_counter() - t0
    tr, te = tf.split(target.psi.shape[0], s["train_size"], args.seed)
    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    qs = np.asarray(q["steps"], float)
    record = np.unique(np.r_[0, np.rint(qs).astype(np.int64)])  # the QS-NTK grid exactly (plus t = 0)
    per_width: dict[int, Any] = {}
    t_train = 0.0
    interrupted = False
    for N in widths:
        ens = train_ensemble(x[tr], psi[tr], x[te], psi[te], width=N, n_members=s["members"],
                             n_steps=steps_T, learning_rate=q["learning_rate"], max_learning_rate=q["eta_max"],
                             force=args.force, W_std=W_std, b_std=b_std, seed=args.seed,
                             record_steps=record, early_stop_rtol=args.early_stop,
                             n_workers=args.workers, backend=backend, quiet=args.quiet,
                             desc=f"fig2 {args.system} N={N}", dtype=getattr(args, "dtype", "float64"))
        per_width[N] = ens
        t_train += ens.wall_time_s
        if ens.interrupted:
            interrupted = True
            break
    config = {"system": args.system, "lattice": [args.lx, args.ly], "boundary": target.boundary,
              "target": dict(target.config), "mode": mode, **s, "width": widths, "lr_factor": args.lr_factor,
              "learning_rate_given": args.learning_rate is not None, "seed": args.seed,
              "early_stop_rtol": args.early_stop, "depth": 1, "W_std": W_std, "b_std": b_std,
              "weight_scale": tf.weight_scale_name(W_std, b_std), "n_record": args.n_record,
              "qsntk_source": q["source"], "dtype": getattr(args, "dtype", "float64")}
    L_tr, L_te = np.asarray(q["curves"]["L_psi_train"]), np.asarray(q["curves"]["L_psi_test"])

    def qsntk_at(curve: np.ndarray, t: int) -> float:
        return float(curve[int(np.flatnonzero(np.rint(qs) == t)[0])])

    grid = set(np.rint(qs).astype(int).tolist())
    probe = [t for t in (1, 10, 100, 1000, 10_000) if t in grid]
    table: dict[str, Any] = {}
    for t in probe:
        row: dict[str, Any] = {"qsntk_train": qsntk_at(L_tr, t), "qsntk_test": qsntk_at(L_te, t)}
        for N, ens in per_width.items():
            r = int(np.flatnonzero(ens.steps == t)[0])
            row[str(N)] = {"ensemble_train": float(ens.train_loss_ensemble[r]),
                           "ensemble_test": float(ens.test_loss_ensemble[r]),
                           "ensemble_mean_train": float(ens.train_loss_of_mean[r]),
                           "ensemble_mean_test": float(ens.test_loss_of_mean[r])}
        table[str(t)] = row
    final = {str(N): {"test": float(e.test_loss_ensemble[-1]), "train": float(e.train_loss_ensemble[-1]),
                      "test_relative_deviation": float(e.test_loss_ensemble[-1] / L_te[-1] - 1.0)}
             for N, e in per_width.items()}
    results = {"learning_rate": q["learning_rate"], "eta_max": q["eta_max"], "n_train": int(tr.size),
               "n_test": int(te.size), "widths": list(per_width), "final_step": steps_T,
               "qsntk_test_final": float(L_te[-1]), "qsntk_train_final": float(L_tr[-1]),
               "qsntk_test_inf": q["limits"]["L_psi_test_inf"], "qsntk_limits": q["limits"], "final": final,
               "at_steps": table, "members_done": {str(N): e.members_done for N, e in per_width.items()},
               "interrupted": interrupted, "wall_time_training_s": t_train, "wall_time_qsntk_s": t_q,
               "backend": backend}
    arrays: dict[str, np.ndarray] = {"widths": np.array(list(per_width)), "qsntk_steps": qs,
                                     **{f"qsntk_{k}": np.asarray(v) for k, v in q["curves"].items()},
                                     "train_idx": tr, "test_idx": te}
    for N, ens in per_width.items():
        arrays.update({f"ensemble_w{N}_{k}": v for k, v in ens.arrays().items()})
    widest = per_width[max(per_width)]
    arrays.update({f"ensemble_{k}": v for k, v in widest.arrays().items()})  # the widest, under the plain keys
    return config, results, arrays


def make_figure(config: dict, arrays: dict, results: dict) -> Any:
    """The Fig. 2 figure from the saved config/arrays/results (re-plot from files with
    :func:`nnqs_fast.experiments.io.load_results`): loss vs step per width over the QS-NTK curves, and each width's
    relative deviation of the test loss from the QS-NTK."""
    from matplotlib.lines import Line2D

    from . import plotting as pl

    widths = [int(w) for w in arrays["widths"]]
    qs = arrays["qsntk_steps"]
    L_tr, L_te = arrays["qsntk_L_psi_train"], arrays["qsntk_L_psi_test"]
    fig, (ax, axr) = pl.new_figure(2, panel_size=(7.0, 3.4), height_ratios=(3.0, 1.35), sharex=True)
    pl.theory_line(ax, qs, L_tr, "train", label="QS-NTK train")
    pl.theory_line(ax, qs, L_te, "test", label="QS-NTK test")
    pl.limit_line(ax, results["qsntk_test_inf"], "test", label=r"QS-NTK test, $\tau\to\infty$")
    axr.axhline(0.0, color=pl.PALETTE["test"], lw=1.2)
    n = len(widths)
    for i, N in enumerate(widths):
        st = arrays[f"ensemble_w{N}_steps"]
        keep = st > 0
        e_tr = arrays[f"ensemble_w{N}_train_loss_ensemble"][keep]
        e_te = arrays[f"ensemble_w{N}_test_loss_ensemble"][keep]
        pl.ensemble_points(ax, st[keep], e_tr, "train", rank=i, n_ranks=n, ms=4)
        pl.ensemble_points(ax, st[keep], e_te, "test", rank=i, n_ranks=n, ms=4)
        q_at = np.interp(st[keep], qs, L_te)  # exact: the ensembles are recorded on the QS-NTK grid
        pl.ensemble_points(axr, st[keep], e_te / q_at - 1.0, "test", rank=i, n_ranks=n, ms=3.5, connect=True)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("loss " + pl.LOSS_LABEL)
    K = config["members"]
    first = pl.legend(ax, loc="upper left", bbox_to_anchor=(1.02, 1.0), title=r"infinite width ($N\to\infty$)")
    ax.add_artist(first)
    handles = [Line2D([], [], marker=pl.MARKERS[i], ls="none", color=pl.width_shade("reference", i, n),
                      mec="#333333", mew=0.6, label=f"N = {N}") for i, N in enumerate(widths)]
    pl.legend(ax, handles, loc="lower left", bbox_to_anchor=(1.02, 0.0),
              title=f"finite width, K = {K}\n(blue train, orange test)")
    axr.set_xscale("log")
    rate = pl.rate_label(config["lr_factor"], bool(config.get("learning_rate_given")))
    axr.set_xlabel(f"gradient-descent step $t$  ({rate})")
    axr.set_ylabel("test loss:\nfinite / QS-NTK − 1")
    system = {"tfim": "transverse-field Ising", "hubbard": "Fermi–Hubbard"}.get(config["system"], config["system"])
    lx, ly = config["lattice"]
    fig.suptitle(f"{system}, {lx}×{ly} ({config['boundary']}), train size n = {results['n_train']}, "
                 f"test {results['n_test']}")
    note = (f"$W_{{std}}$ = {config['W_std']:g}, $b_{{std}}$ = {config['b_std']:g}")
    if config["mode"] == "reduced":
        note = (f"reduced CPU settings: N = {', '.join(map(str, widths))}, K = {K}\n"
                f"(paper: N = 5000, K = 10); " + note)
        if K < 5:
            note += f"; K = {K}: the first steps scatter\n(one random initial function per width)"
    pl.settings_note(axr, note.replace("; ", "\n"), loc="outside right")
    return fig


def plot(config: dict, arrays: dict, results: dict, out_dir: Path) -> tuple[Path, Path]:
    """Draw the figure (:func:`make_figure`) and write fig2.png (300 dpi) + .pdf into ``out_dir``."""
    from . import plotting as pl

    return pl.save_figure(make_figure(config, arrays, results), out_dir, NAME)


def run(args: argparse.Namespace) -> int:
    from ..training.step import precision_convention
    from .io import save_results

    config, results, arrays = compute(args)
    conv = tf.figure_conventions(config, eta_max=results["eta_max"], learning_rate=results["learning_rate"],
                                 extra={"plotted": "L_Psi_l on train and test vs step; the QS-NTK is evaluated "
                                                   "at the same steps as the ensembles are recorded",
                                        "training_precision": precision_convention(config["dtype"])})
    out = Path(args.out)
    json_path, _ = save_results(out, NAME, config=config, results=results, arrays=arrays, seed=args.seed,
                                backend=results["backend"], conventions=conv)
    if not args.no_plot:
        plot(config, arrays, results, out)
    if not args.quiet:
        print(f"fig2 {args.system} ({config['mode']}): widths {results['widths']} K={config['members']} "
              f"n={results['n_train']} steps={config['steps']} lr={results['learning_rate']:.4g} "
              f"(eta_max {results['eta_max']:.4g}); QS-NTK test(inf) = {results['qsntk_test_inf']:.4g}")
        head = "".join(f"  N={N:<5d} train/test      " for N in results["widths"])
        print(f"   step   QS-NTK train/test        {head}")
        for t, r in results["at_steps"].items():
            cells = "".join(f"  {r[str(N)]['ensemble_train']:.3e}/{r[str(N)]['ensemble_test']:.3e}"
                            for N in results["widths"])
            print(f"  {int(t):5d}   {r['qsntk_train']:.3e}/{r['qsntk_test']:.3e}{cells}")
        if results["interrupted"]:
            print("interrupted: kept the widths and records reached so far")
        print(f"wrote {json_path} (+ .npz{'' if args.no_plot else ', .png, .pdf'})")
    return 130 if results["interrupted"] else 0
