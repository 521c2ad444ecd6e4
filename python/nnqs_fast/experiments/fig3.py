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
import time
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


def compute(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    from .._backend import resolve_backend
    from .._progress import progress
    from ..training import train_ensemble

    backend = resolve_backend(args.backend)
    s, mode = tf.settings(args, NAME, backend)
    target = tf.load_target(args)
    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    D = psi.shape[0]
    sizes, widths, T, K = [int(v) for v in s["train_sizes"]], [int(v) for v in s["widths"]], int(s["steps"]), \
        int(s["members"])
    shape = (len(sizes), len(widths))
    test_ens, train_ens = np.full(shape, np.nan), np.full(shape, np.nan)
    test_mean, total = np.full(shape, np.nan), np.full(shape, np.nan)
    member_test = np.full(shape + (K,), np.nan)
    q_test, q_train, q_total, q_inf = (np.full(len(sizes), np.nan) for _ in range(4))
    lrs, etas = np.full(len(sizes), np.nan), np.full(len(sizes), np.nan)
    t_q = t_train = 0.0
    interrupted = False
    bar = progress(total=len(sizes) * (1 + len(widths)), desc=f"fig3 {args.system}", quiet=args.quiet)
    try:
        for i, n in enumerate(sizes):
            t0 = time.perf_counter()
            q = tf.qsntk(target, n, args.seed, np.array([T]), args.learning_rate, args.lr_factor, backend,
                         W_std=args.W_std, b_std=args.b_std)
            t_q += time.perf_counter() - t0
            q_test[i] = float(q["curves"]["L_psi_test"][-1])
            q_train[i] = float(q["curves"]["L_psi_train"][-1])
            q_total[i] = (n * q_train[i] + (D - n) * q_test[i]) / D
            q_inf[i] = q["limits"]["L_psi_test_inf"]
            lrs[i], etas[i] = q["learning_rate"], q["eta_max"]
            bar.update()
            tr, te = tf.split(D, n, args.seed)
            for j, N in enumerate(widths):
                t0 = time.perf_counter()
                ens = train_ensemble(x[tr], psi[tr], x[te], psi[te], width=N, n_members=K, n_steps=T,
                                     learning_rate=q["learning_rate"], max_learning_rate=q["eta_max"],
                                     force=args.force, W_std=args.W_std, b_std=args.b_std, seed=args.seed,
                                     record_steps=[0, T],
                                     early_stop_rtol=args.early_stop, n_workers=args.workers, backend=backend,
                                     quiet=True)
                t_train += time.perf_counter() - t0
                test_ens[i, j], train_ens[i, j] = ens.test_loss_ensemble[-1], ens.train_loss_ensemble[-1]
                test_mean[i, j] = ens.test_loss_of_mean[-1]
                total[i, j] = (n * train_ens[i, j] + (D - n) * test_ens[i, j]) / D
                member_test[i, j] = ens.test_loss[:, -1]
                bar.update()
                if ens.interrupted:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    config = {"system": args.system, "lattice": [args.lx, args.ly], "boundary": target.boundary,
              "target": dict(target.config), "mode": mode, **s, "lr_factor": args.lr_factor,
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
    from .io import atomic_savefig
    atomic_savefig(fig, path, dpi=130)
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
