"""Shared pieces of the Fig. 2 / Fig. 3 reproductions: settings (paper vs reduced CPU defaults), the weight-scale
reading, target and split, QS-NTK curves (:mod:`nnqs_fast.experiments.predict_curves`), the conventions block."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..commands._common import add_deprecated_alias, add_weight_scale_arguments, weight_scale
from ..networks.dense import B_STD, W_STD

__all__ = [
    "PAPER",
    "REDUCED",
    "add",
    "add_common_arguments",
    "add_deprecated_alias",
    "add_weight_scale_arguments",
    "figure_conventions",
    "load_target",
    "qsntk",
    "settings",
    "split",
    "weight_scale",
    "weight_scale_name",
]

#: The paper's settings (Numerical Experiments section; Figs. 2–3).
PAPER: dict[str, dict[str, Any]] = {"fig2": {"width": 5000, "members": 10, "steps": 10_000, "train_size": 2400},
         "fig3": {"widths": [300, 1000, 5000], "members": 10, "steps": 10_000,
                  "train_sizes": [2400, 2600, 2800, 3000, 3200, 3400, 3600, 3800, 4000]}}
#: Reduced defaults for a CPU-only machine, chosen to show the paper's claim (finite widths converging to the
#: QS-NTK) in about two minutes each on 2 cores (docs/training.md gives the measured wall times).
REDUCED: dict[str, dict[str, Any]] = {
    "fig2": {"width": [64, 256, 1024], "members": 1, "steps": 10_000, "train_size": 2400},
    "fig3": {"widths": [64, 256, 1024], "members": 1, "steps": 2000, "train_sizes": [2400, 3200, 4000]}}


def weight_scale_name(W_std: float, b_std: float) -> str:
    from .conventions import weight_scale_reading

    return weight_scale_reading(W_std, b_std)


def add(parser: argparse.ArgumentParser, *names: str, **kw: Any) -> None:
    if any(n in parser._option_string_actions for n in names):  # the caller already defines it
        return
    parser.add_argument(*names, **kw)


def add_common_arguments(parser: argparse.ArgumentParser, fig: str) -> None:
    add(parser, "--system", choices=("tfim", "hubbard"), default="tfim", help="target system (default: tfim)")
    add(parser, "--lx", type=int, default=3, help="lattice size along x (default: 3)")
    add(parser, "--ly", type=int, default=4, help="lattice size along y (default: 4)")
    add(parser, "--boundary", choices=("open", "periodic"), default=None,
        help="boundary conditions (default: the physics module's default, open)")
    add(parser, "--paper", action="store_true",
        help="the paper's full settings (default when the CUDA backend is usable); otherwise reduced CPU defaults")
    add(parser, "--members", type=int, default=None, help="ensemble size K (paper 10)")
    add(parser, "--steps", type=int, default=None, help="gradient-descent steps (paper 10000)")
    add_weight_scale_arguments(parser)
    add(parser, "--lr-factor", type=float, default=0.9,
        help="learning rate as a fraction of eta_max = n / lambda_max(analytic NTK) (default 0.9, the paper's)")
    add_deprecated_alias(parser, "--lr-fraction", dest="lr_factor", new="--lr-factor", type=float)
    add(parser, "--learning-rate", type=float, default=None, help="an absolute learning rate instead")
    add(parser, "--force", action="store_true", help="allow a learning rate above eta_max (warns)")
    add(parser, "--early-stop", type=float, default=0.0, metavar="RTOL",
        help="stop a network when its train loss changes by less than RTOL (relative) in a step (default: off)")
    add(parser, "--seed", type=int, default=0, help="seed of the train/test split and of the networks (default 0)")
    add(parser, "--backend", choices=("auto", "cpu", "cuda"), default="auto", help="compute backend (default auto)")
    add(parser, "--workers", type=int, default=None, help="networks trained concurrently (default: one per core)")
    add(parser, "--out", default=f"results/{fig}", metavar="DIR", help=f"output directory (default results/{fig})")
    add(parser, "--quiet", action="store_true", help="no progress bar or summary")
    add(parser, "--no-plot", action="store_true", help="skip the figure (PNG + PDF)")


def settings(args: argparse.Namespace, fig: str, backend: str) -> tuple[dict[str, Any], str]:
    """The run's settings: paper when ``--paper`` or a usable GPU, else reduced; explicit options override.

    Also resolves the weight scale: ``args.W_std``/``args.b_std`` become the values used (``--weight-scale``
    reading unless given explicitly), so the computation reads them directly.
    """
    if hasattr(args, "weight_scale") or hasattr(args, "W_std"):
        args.W_std, args.b_std = weight_scale(args)
    mode = "paper" if (getattr(args, "paper", False) or backend == "cuda") else "reduced"
    s: dict[str, Any] = dict((PAPER if mode == "paper" else REDUCED)[fig])
    for key in s:
        v = getattr(args, key, None)
        if v is not None:
            s[key] = list(v) if isinstance(v, (list, tuple)) else v
    return s, mode


def load_target(args: argparse.Namespace) -> Any:
    from ..physics import make_target

    return make_target(args.system, lx=args.lx, ly=args.ly, boundary=args.boundary)


def split(dim: int, train_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from .._validation import check_positive_int
    from ..errors import InvalidInputError

    train_size = check_positive_int(train_size, "train_size")
    if train_size >= dim:
        raise InvalidInputError(f"train size {train_size} must be smaller than the basis size {dim}")
    from .predict_curves import split_basis

    return split_basis(dim, train_size, seed)


def qsntk(target: Any, train_size: int, seed: int, steps: Any, lr: float | None, lr_factor: float,
          backend: str, W_std: float = W_STD, b_std: float = B_STD, n_times: int = 41) -> dict[str, Any]:
    """QS-NTK curves (discrete-time gradient descent, as the finite networks) on the log grid of ``n_times`` steps
    1 … max(steps): ``{"steps", "curves", "limits", "learning_rate", "eta_max", "source"}``."""
    psi = np.asarray(target.psi)
    tr, te = split(psi.shape[0], train_size, seed)
    from .predict_curves import PredictConfig, run_predict_curves

    cfg = PredictConfig(system=target.system, boundary=target.boundary, lx=target.lattice[0], ly=target.lattice[1],
                        train_size=train_size, seed=seed, lr_fraction=lr_factor, learning_rate=lr,
                        max_step=int(np.max(steps)), n_times=int(n_times), discrete=True, backend=backend, W_std=W_std,
                        b_std=b_std)
    res = run_predict_curves(cfg, target=target)
    if not (np.array_equal(res.train_idx, tr) and np.array_equal(res.test_idx, te)):
        raise RuntimeError("predict_curves used a different train/test split")
    return {"steps": np.asarray(res.steps, float), "curves": res.curves, "limits": res.limits,
            "learning_rate": float(res.learning_rate), "eta_max": float(res.eta_max), "source": "predict_curves"}


def figure_conventions(config: dict[str, Any], *, eta_max: float, learning_rate: float,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``conventions`` block of a Fig. 2 / Fig. 3 result from its saved ``config``."""
    from .conventions import conventions

    return conventions(system=config["system"], lattice=config["lattice"], boundary=config["boundary"],
                       time="discrete", eta_max=eta_max, learning_rate=learning_rate, lr_factor=config["lr_factor"],
                       learning_rate_given=bool(config.get("learning_rate_given")), W_std=config["W_std"],
                       b_std=config["b_std"], depth=config.get("depth", 1),
                       extra={"split": "rng(seed).permutation(D): first n = train, the rest = test (sorted)",
                              **(extra or {})})
