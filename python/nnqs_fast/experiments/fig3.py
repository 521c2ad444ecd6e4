"""Fig. 3: loss after training vs the train-set size, for several widths and the QS-NTK (infinite width).

For each train size n (uniform split of the target's basis, the rest is the test set) an ensemble of K NNQS per
width is trained for ``steps`` steps at 0.9 × η_max(n) of the analytic NTK, and compared with the QS-NTK value at
the same step. The plotted "total MSE loss" is the test-set L_Ψl (Eq. 17 at τ = steps: mean over members of the
member test losses) — the train loss is driven to ~0 and the paper's Fig. 3 values match the test loss scale; the
JSON/NPZ also hold the train loss, the loss of the ensemble mean and the loss over the full basis.

The networks use W_std 0.25, b_std 0.01 by default (the paper's "W ~ N(0, 0.25), b ~ N(0, 0.01)" read as standard
deviations, docs/training.md; --weight-scale paper-variance for 0.5 / 0.1).

Paper: widths 300/1000/5000, K = 10, n = 2400...4000 in steps of 200, 10^4 steps (--paper). Without a usable GPU
the default is reduced (widths 64/256/1024, K = 1, n in {2400, 3200, 4000}, 2000 steps; about two minutes on
2 cores; docs/training.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from . import _training_figs as tf

#: Plain-text description for ``--help``.
DESCRIPTION = ("Fig. 3: test loss L_Psi_l after training vs the train-set size, for several widths and the QS-NTK "
               "(infinite width), plus each width's relative excess over the QS-NTK. Paper: widths 300, 1000, "
               "5000, K = 10, n = 2400 ... 4000, 10^4 steps (--paper); CPU default: widths 64, 256, 1024, K = 1, "
               "n in {2400, 3200, 4000}, 2000 steps. Weights W_std 0.25, b_std 0.01 (--weight-scale).")

NAME = "fig3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``nnqs-fast reproduce fig3`` (skips options the caller already added)."""
    tf.add_common_arguments(parser, NAME)
    tf.add(parser, "--widths", type=int, nargs="+", default=None, metavar="N",
           help="hidden widths (paper 300 1000 5000; reduced 64 256 1024)")
    tf.add(parser, "--train-sizes", type=int, nargs="+", default=None, metavar="n",
           help="train-set sizes (paper 2400 2600 ... 4000; reduced 2400 3200 4000)")
    from .sweep import add_scheduler_arguments

    add_scheduler_arguments(parser, default=None, workers_flag="--dask-workers")


def compute(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """Run the grid (one QS-NTK task per train size, one training task per size × width) through the sweep
    machinery (:mod:`nnqs_fast.experiments.sweep`: task files under ``OUT/tasks``, resumable, on Dask with
    ``--scheduler``) and collect the arrays."""
    from .._backend import resolve_backend
    from ..physics.targets import DEFAULT_BOUNDARY
    from .io import load_results
    from .sweep import make_point, point_key, run_points, task_done

    backend = resolve_backend(args.backend)
    s, mode = tf.settings(args, NAME, backend)
    boundary = args.boundary or DEFAULT_BOUNDARY[args.system]
    sizes, widths, T, K = [int(v) for v in s["train_sizes"]], [int(v) for v in s["widths"]], int(s["steps"]), \
        int(s["members"])
    st = {"steps": T, "members": K, "lr_factor": args.lr_factor, "learning_rate": args.learning_rate,
          "W_std": args.W_std, "b_std": args.b_std, "early_stop": args.early_stop}
    grid: dict[tuple[int, int | None], dict] = {
        (i, None): make_point(args.system, args.lx, args.ly, boundary, "predict", n, args.seed, st)
        for i, n in enumerate(sizes)}
    grid.update({(i, j): make_point(args.system, args.lx, args.ly, boundary, "train", n, args.seed, st, width=N,
                                    force=args.force)
                 for i, n in enumerate(sizes) for j, N in enumerate(widths)})
    task_dir = Path(args.out) / "tasks"
    interrupted = False
    try:
        run_points(list(grid.values()), task_dir, scheduler=getattr(args, "scheduler", None),
                   workers=getattr(args, "dask_workers", None), quiet=args.quiet, n_workers_inprocess=args.workers)
    except KeyboardInterrupt:
        interrupted = True
    shape = (len(sizes), len(widths))
    test_ens, train_ens = np.full(shape, np.nan), np.full(shape, np.nan)
    test_mean, total = np.full(shape, np.nan), np.full(shape, np.nan)
    member_test = np.full(shape + (K,), np.nan)
    q_test, q_train, q_total, q_inf = (np.full(len(sizes), np.nan) for _ in range(4))
    lrs, etas = np.full(len(sizes), np.nan), np.full(len(sizes), np.nan)
    t_q = t_train = 0.0
    target_config: dict = {}
    for (i, j), p in grid.items():
        if not task_done(task_dir, p):
            continue
        meta, arr = load_results(task_dir, point_key(p))
        r = meta["results"]
        target_config = r.get("target", target_config)
        if j is None:
            q_test[i], q_train[i], q_total[i], q_inf[i] = r["test_loss"], r["train_loss"], r["total_loss"], \
                r["test_loss_inf"]
            lrs[i], etas[i] = r["learning_rate"], r["eta_max"]
            t_q += r["wall_time_s"]
        else:
            test_ens[i, j], train_ens[i, j], total[i, j] = r["test_loss"], r["train_loss"], r["total_loss"]
            test_mean[i, j] = r["test_loss_of_mean"]
            member_test[i, j] = arr["member_test_loss"]
            t_train += r["wall_time_s"]
    config = {"system": args.system, "lattice": [args.lx, args.ly], "boundary": boundary,
              "target": target_config, "tasks": {point_key(p): p for p in grid.values()}, "mode": mode, **s,
              "lr_factor": args.lr_factor,
              "learning_rate_given": args.learning_rate is not None, "seed": args.seed,
              "early_stop_rtol": args.early_stop, "depth": 1, "W_std": args.W_std, "b_std": args.b_std,
              "weight_scale": tf.weight_scale_name(args.W_std, args.b_std),
              "plotted": "test L_psi_l at the final step"}
    results = {"train_sizes": sizes, "widths": widths, "steps": T,
               "test_loss": {str(N): test_ens[:, j].tolist() for j, N in enumerate(widths)},
               "qsntk_test_loss": q_test.tolist(), "qsntk_test_loss_inf": q_inf.tolist(),
               "learning_rates": lrs.tolist(), "eta_max": etas.tolist(), "interrupted": interrupted,
               "wall_time_qsntk_s": t_q, "wall_time_training_s": t_train, "backend": backend}
    arrays = {"train_sizes": np.array(sizes), "widths": np.array(widths), "test_loss_ensemble": test_ens,
              "train_loss_ensemble": train_ens, "test_loss_of_mean": test_mean, "total_loss_ensemble": total,
              "member_test_loss": member_test, "qsntk_test_loss": q_test, "qsntk_train_loss": q_train,
              "qsntk_total_loss": q_total, "qsntk_test_loss_inf": q_inf, "learning_rates": lrs}
    return config, results, arrays


def make_figure(config: dict, arrays: dict) -> Any:
    """The Fig. 3 figure: (a) the paper's layout, test L_Psi_l vs train size per width with the QS-NTK
    line; (b) the relative excess over the QS-NTK vs width, per train size (it shrinks as N grows)."""
    from . import plotting as pl

    sizes = np.asarray(arrays["train_sizes"])
    widths = [int(w) for w in arrays["widths"]]
    test = np.asarray(arrays["test_loss_ensemble"])
    q = np.asarray(arrays["qsntk_test_loss"])
    fig, (ax, axb) = pl.new_figure(2, panel_size=(4.3, 3.4))
    n = len(widths)
    for j, N in enumerate(widths):
        pl.ensemble_points(ax, sizes, test[:, j], "test", rank=j, n_ranks=n, connect=True, label=f"width N = {N}")
    pl.theory_line(ax, sizes, q, "test", label=r"QS-NTK ($N\to\infty$)", marker="o", ms=3.5)
    ax.set_xlabel("train size n (basis states)")
    ax.set_ylabel(r"test loss $L_{\Psi_l}$ at step $\tau$ = " + f"{int(config['steps']):,}".replace(",", " "))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.set_xticks(sizes)
    if sizes.size > 5:
        ax.tick_params(axis="x", labelrotation=45)
    pl.legend(ax, loc="best")
    pl.panel_label(ax, "a")
    for i, nn in enumerate(sizes):
        pl.ensemble_points(axb, widths, test[i] / q[i] - 1.0, "test", rank=len(sizes) - 1, n_ranks=len(sizes),
                           marker=pl.MARKERS[i % len(pl.MARKERS)], connect=True, label=f"n = {int(nn)}",
                           alpha=0.55 + 0.45 * (i + 1) / len(sizes))
    axb.axhline(0.0, color=pl.PALETTE["test"], lw=1.2)
    axb.set_xscale("log")
    axb.set_xticks(widths)
    axb.set_xticklabels([str(w) for w in widths])
    axb.minorticks_off()
    axb.set_xlabel("hidden width N")
    axb.set_ylabel("relative excess over QS-NTK\n(finite / QS-NTK − 1)")
    pl.legend(axb, loc="best", title="train size")
    pl.panel_label(axb, "b")
    system = {"tfim": "transverse-field Ising", "hubbard": "Fermi–Hubbard"}.get(config["system"], config["system"])
    lx, ly = config["lattice"]
    fig.suptitle(f"{system}, {lx}×{ly} ({config['boundary']}): test loss after {int(config['steps'])} steps, "
                 f"ensembles of K = {config['members']}")
    rate = pl.rate_label(config["lr_factor"], bool(config.get("learning_rate_given")), per_size=True)
    note = f"$W_{{std}}$ = {config['W_std']:g}, $b_{{std}}$ = {config['b_std']:g}, {rate}"
    if config["mode"] == "reduced":
        note = (f"reduced CPU settings: N = {', '.join(map(str, widths))}, K = {config['members']}, "
                f"{config['steps']} steps (paper: N = 300, 1000, 5000, K = 10, 10$^4$ steps);  ") + note
    pl.settings_note(axb, note, loc="below")
    return fig


def plot(config: dict, arrays: dict, out_dir: Path) -> tuple[Path, Path]:
    """Draw the figure (:func:`make_figure`) and write fig3.png (300 dpi) + .pdf into ``out_dir``."""
    from . import plotting as pl

    return pl.save_figure(make_figure(config, arrays), out_dir, NAME)


def run(args: argparse.Namespace) -> int:
    from .io import save_results

    config, results, arrays = compute(args)
    conv = tf.figure_conventions(config, eta_max=results["eta_max"], learning_rate=results["learning_rates"],
                                 extra={"plotted": "test L_Psi_l (Eq. 17, mean of the member test losses) at the "
                                                   "final step vs train size; eta_max and the learning rate are "
                                                   "per train size",
                                        "total_loss": "total_loss_* = (n L_train + (D - n) L_test) / D"})
    out = Path(args.out)
    json_path, _ = save_results(out, NAME, config=config, results=results, arrays=arrays, seed=args.seed,
                                backend=results["backend"], conventions=conv)
    if not args.no_plot:
        plot(config, arrays, out)
    if not args.quiet:
        print(f"fig3 {args.system} ({config['mode']}): K={config['members']} steps={config['steps']}; "
              f"test L_Psi_l at the final step")
        print("   n    " + "".join(f"  N={N:<9d}" for N in results["widths"]) + "  QS-NTK")
        for i, n in enumerate(results["train_sizes"]):
            row = "".join(f"  {arrays['test_loss_ensemble'][i, j]:11.4e}" for j in range(len(results["widths"])))
            print(f"  {n:5d}{row}  {arrays['qsntk_test_loss'][i]:11.4e}")
        print(f"wrote {json_path} (+ .npz{'' if args.no_plot else ', .png, .pdf'})")
    return 130 if results["interrupted"] else 0
