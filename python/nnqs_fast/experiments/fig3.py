"""Fig. 3: loss after training vs the train-set size, for several widths and the QS-NTK (infinite width).

For each train size n (uniform split of the target's basis, the rest is the test set) an ensemble of K NNQS per
width is trained for ``steps`` steps at 0.9 × η_max(n) of the analytic NTK, and compared with the QS-NTK value at
the same step. The plotted "total MSE loss" is the test-set L_Ψl (Eq. 17 at τ = steps: mean over members of the
member test losses) — the train loss is driven to ~0 and the paper's Fig. 3 values match the test loss scale; the
JSON/NPZ also hold the train loss, the loss of the ensemble mean and the loss over the full basis.

Paper: widths 300/1000/5000, K = 10, n = 2400…4000 in steps of 200, 10⁴ steps. Without a usable GPU the default is
reduced (widths 64/128/256, K = 1, n ∈ {2400, 3200, 4000}, 2000 steps; docs/training.md) unless ``--paper``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import _training_figs as tf

NAME = "fig3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``nnqs-fast reproduce fig3`` (skips options the caller already added)."""
    tf.add_common_arguments(parser, NAME)
    tf.add(parser, "--widths", type=int, nargs="+", default=None, help="hidden widths (paper 300 1000 5000)")
    tf.add(parser, "--train-sizes", type=int, nargs="+", default=None,
           help="train-set sizes (paper 2400 2600 ... 4000)")
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
              "learning_rate_given": args.learning_rate, "seed": args.seed, "early_stop_rtol": args.early_stop,
              "depth": 1, "W_std": args.W_std, "b_std": args.b_std, "plotted": "test L_psi_l at the final step"}
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


def plot(config: dict, arrays: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    sizes = arrays["train_sizes"]
    for j, N in enumerate(arrays["widths"]):
        ax.plot(sizes, arrays["test_loss_ensemble"][:, j], "o-", ms=4, label=f"Width N={N}")
    ax.plot(sizes, arrays["qsntk_test_loss"], "k^-", ms=4, label="QS-NTK")
    ax.set_xlabel("Training Dataset Size")
    ax.set_ylabel(r"$L_{\Psi_l}$ (test) at step " + str(config["steps"]))
    ax.set_title(f"{config['system'].upper()}: K={config['members']}, {config['mode']} settings", fontsize=9)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from .io import save_results

    config, results, arrays = compute(args)
    out = Path(args.out)
    json_path, _ = save_results(out, NAME, config=config, results=results, arrays=arrays, seed=args.seed,
                                backend=results["backend"])
    if not args.no_plot:
        plot(config, arrays, out / f"{NAME}.png")
    if not args.quiet:
        print(f"fig3 {args.system} ({config['mode']}): K={config['members']} steps={config['steps']}; "
              f"test L_Psi_l at the final step")
        print("   n    " + "".join(f"  N={N:<9d}" for N in results["widths"]) + "  QS-NTK")
        for i, n in enumerate(results["train_sizes"]):
            row = "".join(f"  {arrays['test_loss_ensemble'][i, j]:11.4e}" for j in range(len(results["widths"])))
            print(f"  {n:5d}{row}  {arrays['qsntk_test_loss'][i]:11.4e}")
        print(f"wrote {json_path} (+ .npz{'' if args.no_plot else ', .png'})")
    return 130 if results["interrupted"] else 0
