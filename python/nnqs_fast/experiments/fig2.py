"""Fig. 2: training dynamics of a finite-width NNQS ensemble vs the QS-NTK prediction of the ∞-NNQS.

ψ = ψ1 + iψ2 (two one-hidden-layer ReLU nets, NTK parameterisation, W_std 0.5, b_std 0.1 unless
--W-std/--b-std) trained by full-batch
gradient descent on the loss of Eq. 13 over ``train_size`` uniformly drawn basis states of the target (TFIM or
Hubbard quench, :func:`nnqs_fast.physics.make_target`), the rest being the test set, at 0.9 × η_max of the
analytic NTK. Plotted: the ensemble's L_Ψl (Eq. 17 at finite τ: mean of the member losses) on train and test at
log-spaced steps, the QS-NTK L_Ψl = L_µ + L_γ (Eq. 18) curves, and the QS-NTK test loss at τ → ∞ (dashed).

Paper: width 5000, K = 10, 2400 train points, 10⁴ steps. Without a usable GPU the default is reduced (width 192,
K = 2; docs/training.md) unless ``--paper``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from . import _training_figs as tf

NAME = "fig2"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``nnqs-fast reproduce fig2`` (skips options the caller already added)."""
    tf.add_common_arguments(parser, NAME)
    tf.add(parser, "--width", type=int, default=None, help="hidden width N (paper 5000; reduced 192)")
    tf.add(parser, "--train-size", type=int, default=None, help="train points (paper 2400)")
    tf.add(parser, "--n-record", type=int, default=40, help="log-spaced record steps (default 40)")


def compute(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    from .._backend import resolve_backend
    from ..training import train_ensemble

    backend = resolve_backend(args.backend)
    s, mode = tf.settings(args, NAME, backend)
    t0 = time.perf_counter()
    target = tf.load_target(args)
    steps_T = int(s["steps"])
    q = tf.qsntk(target, s["train_size"], args.seed, np.array([steps_T]), args.learning_rate, args.lr_factor,
                 backend, W_std=args.W_std, b_std=args.b_std)
    t_q = time.perf_counter() - t0
    tr, te = tf.split(target.psi.shape[0], s["train_size"], args.seed)
    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    ens = train_ensemble(x[tr], psi[tr], x[te], psi[te], width=s["width"], n_members=s["members"],
                         n_steps=steps_T, learning_rate=q["learning_rate"], max_learning_rate=q["eta_max"],
                         force=args.force, W_std=args.W_std, b_std=args.b_std, seed=args.seed,
                         n_record=args.n_record, early_stop_rtol=args.early_stop,
                         n_workers=args.workers, backend=backend, quiet=args.quiet,
                         desc=f"fig2 {args.system} N={s['width']}")
    config = {"system": args.system, "lattice": [args.lx, args.ly], "boundary": target.boundary,
              "target": dict(target.config), "mode": mode, **s, "lr_factor": args.lr_factor,
              "learning_rate_given": args.learning_rate, "seed": args.seed, "early_stop_rtol": args.early_stop,
              "depth": 1, "W_std": args.W_std, "b_std": args.b_std, "qsntk_source": q["source"]}
    qs = q["steps"]

    def at(curve, t):
        return float(np.interp(np.log(t), np.log(qs), curve))

    probe = [t for t in (1, 10, 100, 1000, 10_000) if t <= steps_T]
    table = {}
    for t in probe:
        r = int(np.flatnonzero(ens.steps == t)[0]) if np.any(ens.steps == t) else None
        table[str(t)] = {
            "ensemble_train": None if r is None else float(ens.train_loss_ensemble[r]),
            "ensemble_test": None if r is None else float(ens.test_loss_ensemble[r]),
            "ensemble_mean_train": None if r is None else float(ens.train_loss_of_mean[r]),
            "ensemble_mean_test": None if r is None else float(ens.test_loss_of_mean[r]),
            "qsntk_train": at(q["curves"]["L_psi_train"], t), "qsntk_test": at(q["curves"]["L_psi_test"], t)}
    results = {"learning_rate": ens.learning_rate, "eta_max": q["eta_max"], "n_train": int(tr.size),
               "n_test": int(te.size), "qsntk_test_inf": q["limits"]["L_psi_test_inf"],
               "qsntk_limits": q["limits"], "at_steps": table, "members_done": ens.members_done,
               "interrupted": ens.interrupted, "wall_time_training_s": ens.wall_time_s,
               "wall_time_qsntk_s": t_q, "backend": backend}
    arrays = {**{f"ensemble_{k}": v for k, v in ens.arrays().items()},
              "qsntk_steps": np.asarray(qs, float),
              **{f"qsntk_{k}": np.asarray(v) for k, v in q["curves"].items()},
              "train_idx": tr, "test_idx": te}
    return config, results, arrays


def plot(config: dict, arrays: dict, results: dict, path: Path) -> None:
    steps = arrays["ensemble_steps"]
    keep = steps > 0
    q = {"steps": arrays["qsntk_steps"], "curves": {k[len("qsntk_"):]: v for k, v in arrays.items()
                                                       if k.startswith("qsntk_L_")},
         "limits": {"L_psi_test_inf": results["qsntk_test_inf"], **results.get("qsntk_limits", {})}}
    ens = {"steps": steps[keep], "train": arrays["ensemble_train_loss_ensemble"][keep],
           "test": arrays["ensemble_test_loss_ensemble"][keep],
           "label": f"Ensemble (N={config['width']}, K={config['members']})"}
    title = (f"{config['system'].upper()} {config['lattice'][0]}x{config['lattice'][1]}: n={results['n_train']}, "
             f"{config['mode']} settings")
    tf.plot_fig2(path, q, ens, title)


def run(args: argparse.Namespace) -> int:
    from .io import save_results

    config, results, arrays = compute(args)
    out = Path(args.out)
    json_path, _ = save_results(out, NAME, config=config, results=results, arrays=arrays, seed=args.seed,
                                backend=results["backend"])
    if not args.no_plot:
        plot(config, arrays, results, out / f"{NAME}.png")
    if not args.quiet:
        print(f"fig2 {args.system} ({config['mode']}): N={config['width']} K={config['members']} "
              f"n={results['n_train']} steps={config['steps']} lr={results['learning_rate']:.4g} "
              f"(eta_max {results['eta_max']:.4g}); QS-NTK test(inf) = {results['qsntk_test_inf']:.4g}")
        print("   step   ens train   QS-NTK train   ens test   QS-NTK test")
        for t, r in results["at_steps"].items():
            def f(v: float | None) -> str:
                return "      -    " if v is None else f"{v:11.4e}"
            print(f"  {int(t):5d} {f(r['ensemble_train'])} {r['qsntk_train']:12.4e} {f(r['ensemble_test'])} "
                  f"{r['qsntk_test']:12.4e}")
        if results["interrupted"]:
            print(f"interrupted: kept {results['members_done']} complete member(s) and partial records")
        print(f"wrote {json_path} (+ .npz{'' if args.no_plot else ', .png'})")
    return 130 if results["interrupted"] else 0
