"""``nnqs-fast predict``: QS-NTK predictions of supervised training (Eqs. 13–18, the paper's Fig. 2 QS-NTK lines).

Writes ``predict.json`` + ``predict.npz`` (+ ``predict.png``/``predict.pdf``) into ``--out``. JSON ``results`` keys:
``learning_rate``, ``eta_max``, ``n_train``, ``n_test``, ``L_{mu,gamma,psi}_{train,test}_inf``, ``fidelity_inf``,
the same quantities at the last step with suffix ``_final``, ``final_step``, ``target``, ``timings_s``.
NPZ: ``steps``, ``train_idx``, ``test_idx`` (indices into the target's basis order), ``L_mu_train``,
``L_gamma_train``, ``L_psi_train``, ``L_mu_test``, ``L_gamma_test``, ``L_psi_test``, ``fidelity`` (over steps).

Defaults reproduce the paper: W_std 0.25, b_std 0.01 (``--weight-scale paper-std``, docs/training.md),
0.9 × η_max, 2400 train points, steps 1 … 10⁴.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
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
    p = sub.add_parser("predict", help="QS-NTK predictions of train/test losses and fidelity (Fig. 2 style)",
                       description="Split the target's basis at random into train/test points, compute the analytic "
                                   "NNGP/NTK of the one-hidden-layer ReLU network, and predict the infinite "
                                   "ensemble's L_mu, L_gamma, L_Psi_l (Eqs. 16-18) over a log grid of GD steps, "
                                   "their tau -> infinity limits and the fidelity of the mean state. Writes "
                                   "predict.json/.npz and a four-quantity figure predict.png/.pdf.")
    add_target_options(p)
    p.add_argument("--train-size", type=int, default=2400, help="number of train points (default: 2400)")
    add_seed_option(p)
    p.add_argument("--depth", type=int, default=1, help="hidden layers of the ReLU network (default: 1)")
    add_weight_scale_arguments(p)
    p.add_argument("--lr-factor", type=float, default=0.9,
                   help="learning rate as a fraction of eta_max = n / lambda_max(NTK) (default: 0.9, the paper's)")
    add_deprecated_alias(p, "--lr-fraction", dest="lr_factor", new="--lr-factor", type=float)
    p.add_argument("--learning-rate", type=float, default=None, help="absolute learning rate (overrides --lr-factor)")
    p.add_argument("--steps", type=int, default=10_000, help="last step of the log grid (default: 10000)")
    add_deprecated_alias(p, "--max-step", dest="steps", new="--steps", type=int)
    p.add_argument("--n-times", type=int, default=41, help="points of the log grid 1..steps (default: 41)")
    p.add_argument("--discrete", action="store_true",
                   help="exact discrete GD steps instead of continuous gradient flow (time unit: steps either way)")
    p.add_argument("--diag-reg", type=float, default=0.0, help="added to the NTK diagonal (default: 0)")
    p.add_argument("--no-plot", action="store_true", help="skip the figure predict.png/.pdf")
    p.add_argument("--memory-limit", type=float, default=None, metavar="GIB",
                   help="total memory the run may hold, in GiB (default: 80%% of physical memory, or the "
                        "NNQS_FAST_MAX_TOTAL_BYTES environment variable); larger runs are refused before any work "
                        "with the estimate in the message")
    add_backend_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._backend import resolve_backend
    from ..experiments.conventions import conventions
    from ..experiments.io import save_results
    from ..experiments.predict_curves import PredictConfig, run_predict_curves

    if args.memory_limit is not None:
        import os

        from .._validation import check_finite_scalar

        gib = check_finite_scalar(args.memory_limit, "--memory-limit", positive=True)
        os.environ["NNQS_FAST_MAX_TOTAL_BYTES"] = str(int(gib * 1024**3))
    backend = resolve_backend(args.backend)
    W_std, b_std = weight_scale(args)
    cfg = PredictConfig(system=args.system, boundary=args.boundary, lx=args.lx, ly=args.ly,
                        train_size=args.train_size, seed=args.seed, depth=args.depth, W_std=W_std,
                        b_std=b_std, lr_fraction=args.lr_factor, learning_rate=args.learning_rate,
                        max_step=args.steps, n_times=args.n_times, discrete=args.discrete,
                        diag_reg=args.diag_reg, backend=args.backend)
    res = run_predict_curves(cfg, quiet=args.quiet)
    boundary = res.target_config.get("boundary") or cfg.boundary
    config = asdict(cfg)
    config.update({"boundary": boundary, "learning_rate": res.learning_rate,
                   "learning_rate_given": args.learning_rate is not None,
                   "weight_scale": conventions_reading(W_std, b_std)})
    conv = conventions(system=cfg.system, lattice=[cfg.lx, cfg.ly], boundary=boundary,
                       time="discrete" if cfg.discrete else "continuous", eta_max=res.eta_max,
                       learning_rate=res.learning_rate, lr_factor=cfg.lr_fraction,
                       learning_rate_given=args.learning_rate is not None, W_std=W_std, b_std=b_std,
                       depth=cfg.depth,
                       extra={"split": "rng(seed).permutation(D): first n = train, the rest = test (sorted)",
                              "fidelity": "|<psi_T|mu>|^2 / <mu|mu> over the full basis, mu = the ensemble-mean "
                                          "state (train and test amplitudes)"})
    save_results(args.out, "predict", config=config, results=res.results_dict(), arrays=res.arrays(),
                 seed=cfg.seed, backend=backend, conventions=conv)
    if not args.no_plot:
        plot(config, res.results_dict(), res.arrays(), Path(args.out))
    if not args.quiet:
        r = res.results_dict()
        print(f"{cfg.system}: n_train={r['n_train']} n_test={r['n_test']} eta={r['learning_rate']:.4g} "
              f"(eta_max={r['eta_max']:.4g})")
        print(f"  tau->inf test: L_mu={r['L_mu_test_inf']:.4e} L_gamma={r['L_gamma_test_inf']:.4e} "
              f"L_psi={r['L_psi_test_inf']:.4e} fidelity={r['fidelity_inf']:.6f}")
        print(f"  wrote {Path(args.out) / 'predict.json'}")
    return 0


def conventions_reading(W_std: float, b_std: float) -> str:
    from ..experiments.conventions import weight_scale_reading

    return weight_scale_reading(W_std, b_std)


def make_figure(config: dict[str, Any], results: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """predict.png/.pdf: (a) train and (b) test L_mu, L_gamma, L_Psi_l vs step with their tau -> infinity values
    (dashed; the train limits are 0), (c) the fidelity of the ensemble-mean state."""
    from ..experiments import plotting as pl

    t = np.asarray(arrays["steps"], float)
    fig, axes = pl.new_figure(3, panel_size=(3.5, 3.1))
    names = {"mu": r"$L_\mu$ (mean state)", "gamma": r"$L_\gamma$ (variance)", "psi": r"$L_{\Psi_l}=L_\mu+L_\gamma$"}
    for ax, part, letter in zip(axes[:2], ("train", "test"), "ab"):
        for q in ("mu", "gamma", "psi"):
            y = np.asarray(arrays[f"L_{q}_{part}"])
            pos = y > 0
            pl.theory_line(ax, t[pos], y[pos], q, label=names[q])
            lim = results.get(f"L_{q}_{part}_inf", 0.0)
            if part == "test" and lim > 0:
                pl.limit_line(ax, lim, q)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{part} set (n = {results['n_' + part]})")
        pl.panel_label(ax, letter)
    axes[0].set_ylabel(r"loss, $\frac{1}{n}\sum_x\langle|\psi_T(x)-\psi(x)|^2\rangle$ and parts")
    pl.legend(axes[0], loc="lower left")
    axes[1].plot([], [], ls="--", color="#555555", label=r"$\tau\to\infty$")
    pl.legend(axes[1], loc="upper right")
    axf = axes[2]
    pl.theory_line(axf, t, arrays["fidelity"], "fidelity", label="mean state")
    pl.limit_line(axf, results["fidelity_inf"], "fidelity", label=r"$\tau\to\infty$")
    axf.set_xscale("log")
    axf.set_ylim(0.0, 1.02)
    axf.set_ylabel(r"fidelity $|\langle\psi_T|\mu\rangle|^2/\langle\mu|\mu\rangle$")
    axf.set_title("full basis")
    pl.legend(axf, loc="lower right")
    pl.panel_label(axf, "c")
    rate = pl.rate_label(config["lr_fraction"], bool(config.get("learning_rate_given")))
    flow = "discrete steps" if config.get("discrete") else "gradient flow, time in steps"
    for ax in axes:
        ax.set_xlabel(f"step $t$ ({rate})")
    system = {"tfim": "transverse-field Ising", "hubbard": "Fermi–Hubbard"}.get(config["system"], config["system"])
    fig.suptitle(f"QS-NTK prediction (infinite width), {system} {config['lx']}×{config['ly']} "
                 f"({config['boundary']}), train size n = {results['n_train']}")
    pl.settings_note(axes[0], f"{flow}; $W_{{std}}$ = {config['W_std']:g}, $b_{{std}}$ = {config['b_std']:g}, "
                              f"depth {config['depth']}", loc="below")
    return fig


def plot(config: dict[str, Any], results: dict[str, Any], arrays: dict[str, np.ndarray],
         out_dir: Path) -> tuple[Path, Path]:
    """Draw the figure (:func:`make_figure`) and write predict.png (300 dpi) + .pdf into ``out_dir``."""
    from ..experiments import plotting as pl

    return pl.save_figure(make_figure(config, results, arrays), out_dir, "predict")
