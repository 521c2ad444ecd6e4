"""Reproduce Fig. 1: von Neumann entanglement entropy vs subsystem size for Cos-net NNQS ψ1 + iψ2.

Paper setting (Supplementary IV): σ_a = 10, σ_w = √(2d) (d = L), widths N = 400, 1000, 4000, ensemble of 100;
compared with the Page value (exact and Eq. S40) and the maximum log min(D_A, D_B). Beyond the paper: the
Wick/GP estimate per cut (:func:`nnqs_fast.entanglement.wick_purity`, factorised path, kernel Eq. 4) and the
sampled Rényi-2 entropy it should be compared with. ``A`` = the first k sites, k = 1 .. L−1.

Default system size L = 16 (≈ 1.5 min on 2 idle cores for the full 3 × 100 ensemble, 6.7 min measured under
heavy sharing; L = 18 takes ≈ 8 min idle).
Outputs in ``--out``: ``fig1.json`` + ``fig1.npz`` (keys documented in docs/entanglement.md) and ``fig1.png`` +
``fig1.pdf``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Plain-text description for ``--help``.
DESCRIPTION = ("Fig. 1: von Neumann (and Renyi-2) entanglement entropy vs subsystem size for Cos-net NNQS "
               "psi1 + i psi2 at several widths, with the Page value, the maximum log min(D_A, D_B) and the "
               "Wick/GP estimate of the Renyi-2 entropy. Paper: sigma_a = 10, sigma_w = sqrt(2d), widths 400, "
               "1000, 4000, 100 members; default L = 16 spins.")

DEFAULT_SITES = 16


def _add(parser: argparse.ArgumentParser, *names: str, **kw) -> None:
    if any(n in parser._option_string_actions for n in names):  # the caller already defines it
        return
    parser.add_argument(*names, **kw)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``nnqs-fast reproduce fig1`` (skips options the caller already added)."""
    _add(parser, "--sites", type=int, default=DEFAULT_SITES, help=f"number of spins L = d (default {DEFAULT_SITES})")
    _add(parser, "--widths", type=int, nargs="+", default=[400, 1000, 4000],
         help="hidden widths N (default 400 1000 4000)")
    _add(parser, "--members", type=int, default=100, help="ensemble size per width (default 100)")
    _add(parser, "--sigma-a", type=float, default=10.0, help="sigma_a (default 10)")
    _add(parser, "--sigma-w", type=float, default=None, help="sigma_w (default sqrt(2d), d = L)")
    _add(parser, "--seed", type=int, default=0, help="random seed (default 0)")
    _add(parser, "--out", default="results/fig1", metavar="DIR", help="output directory (default results/fig1)")
    _add(parser, "--quiet", action="store_true", help="no progress bar or summary")
    _add(parser, "--no-plot", action="store_true", help="skip the figure (PNG + PDF)")


def compute(*, sites: int, widths, members: int, sigma_a: float, sigma_w: float | None, seed: int,
            quiet: bool = True) -> tuple[dict, dict, dict]:
    """Run the experiment; returns (config, results, arrays) for :func:`save_results`."""
    from .._validation import check_positive_int
    from ..entanglement import (
        cosnet_gp_kernel,
        haar_purity,
        max_entropy,
        page_entropy,
        page_entropy_approx,
        sample_ensemble_entropies,
        wick_purity,
    )

    L = check_positive_int(sites, "sites", minimum=2)
    sw = math.sqrt(2 * L) if sigma_w is None else float(sigma_w)
    ks = list(range(1, L))
    dims = [(2 ** k, 2 ** (L - k)) for k in ks]
    kern = cosnet_gp_kernel(sigma_a, sw, L)
    wick = [wick_purity(kern, "same", n_sites=L, subsystem=k, method="factorized") for k in ks]
    results: dict = {
        "n_sites": L,
        "subsystem_sizes": ks,
        "page_entropy": [page_entropy(m, n) for m, n in dims],
        "page_entropy_approx_s40": [page_entropy_approx(m, n) for m, n in dims],
        "max_entropy": [max_entropy(m, n) for m, n in dims],
        "haar_purity": [haar_purity(m, n) for m, n in dims],
        "haar_renyi2_bound": [-math.log(haar_purity(m, n)) for m, n in dims],
        "wick_purity": [w.purity for w in wick],
        "wick_renyi2_estimate": [w.renyi2 for w in wick],
        "widths": {},
    }
    arrays: dict = {"subsystem_sizes": np.array(ks), "page_entropy": np.array(results["page_entropy"]),
                    "max_entropy": np.array(results["max_entropy"]),
                    "wick_renyi2_estimate": np.array(results["wick_renyi2_estimate"])}
    timings = {}
    table = []
    for N in widths:
        t0 = time.perf_counter()
        ens = sample_ensemble_entropies("cosnet", n_sites=L, n_members=members, width=int(N), cuts=ks, seed=seed,
                                        sigma_a=sigma_a, sigma_w=sw, complex_psi=True, kinds=("vn", "renyi2"),
                                        quiet=quiet)
        timings[str(N)] = time.perf_counter() - t0
        purity = np.exp(-ens.values["renyi2"])  # Tr ρ_A² per member: what wick_purity estimates
        results["widths"][str(N)] = {
            "von_neumann_mean": ens.mean["vn"], "von_neumann_sem": ens.sem["vn"],
            "renyi2_mean": ens.mean["renyi2"], "renyi2_sem": ens.sem["renyi2"],
            "purity_mean": purity.mean(0), "purity_sem": purity.std(0, ddof=1) / math.sqrt(members),
            "minus_log_purity_mean": -np.log(purity.mean(0)),
        }
        arrays[f"von_neumann_w{N}"] = ens.values["vn"]
        arrays[f"renyi2_w{N}"] = ens.values["renyi2"]
        for i, k in enumerate(ks):
            table.append({"width": int(N), "subsystem_size": k, "von_neumann_mean": float(ens.mean["vn"][i]),
                          "von_neumann_sem": float(ens.sem["vn"][i]), "renyi2_mean": float(ens.mean["renyi2"][i]),
                          "renyi2_sem": float(ens.sem["renyi2"][i]),
                          "minus_log_purity_mean": float(-np.log(purity[:, i].mean())),
                          "page_entropy": results["page_entropy"][i],
                          "max_entropy": results["max_entropy"][i],
                          "wick_renyi2_estimate": results["wick_renyi2_estimate"][i]})
    results["table"] = table
    results["seconds_per_width"] = timings
    config = {"experiment": "fig1", "network": "cosnet", "psi": "psi1 + i psi2", "n_sites": L, "input_dim": L,
              "widths": [int(w) for w in widths], "n_members": members, "sigma_a": sigma_a, "sigma_w": sw,
              "subsystem": "first k sites, k = 1..L-1", "log": "natural"}
    return config, results, arrays


def make_figure(results: dict, config: dict | None = None) -> Any:
    """fig1.png/.pdf: (a) von Neumann entropy per width (markers, mean ± s.e.) with the Page value (line, the
    Haar average) and the maximum (grey); (b) Rényi-2 entropy per width with the Wick/GP estimate
    -log E Tr rho_A^2 (line) and -log of the Haar purity (dashed)."""
    from . import plotting as pl

    ks = np.array(results["subsystem_sizes"])
    widths = list(results["widths"])
    n = len(widths)
    fig, (a, b) = pl.new_figure(2, panel_size=(4.4, 3.5))
    for i, N in enumerate(widths):
        r = results["widths"][N]
        pl.ensemble_points(a, ks, r["von_neumann_mean"], "vn", yerr=r["von_neumann_sem"], rank=i, n_ranks=n,
                           label=f"Cos-net, N = {N}")
        pl.ensemble_points(b, ks, r["renyi2_mean"], "renyi2", yerr=r["renyi2_sem"], rank=i, n_ranks=n,
                           label=f"Cos-net, N = {N}")
    pl.theory_line(a, ks, results["page_entropy"], "vn", label="Page (Haar average)")
    pl.theory_line(b, ks, results["wick_renyi2_estimate"], "renyi2",
                   label=r"Wick/GP ($N\to\infty$): $-\log\,\mathbb{E}\,\mathrm{Tr}\,\rho_A^2$")
    pl.theory_line(b, ks, results["haar_renyi2_bound"], "reference", ls=(0, (2, 2)), lw=1.1, zorder=5,
                   label=r"Haar: $-\log\,\mathbb{E}_{\mathrm{Haar}}\mathrm{Tr}\,\rho_A^2$")
    for ax, letter, what in ((a, "a", r"von Neumann entropy $S_1$ (nats)"), (b, "b", r"Rényi-2 entropy $S_2$ (nats)")):
        pl.reference_line(ax, ks, results["max_entropy"], label=r"maximum $\log\min(D_A, D_B)$")
        ax.set_xlabel("subsystem size $L_A$ (first $L_A$ sites)")
        ax.set_ylabel(what)
        ax.set_xticks(ks)
        ax.tick_params(axis="x", which="minor", bottom=False, top=False)
        ax.set_ylim(0.0, 1.08 * max(results["max_entropy"]))
        pl.legend(ax, loc="lower center")
        pl.panel_label(ax, letter)
    K = (config or {}).get("n_members")
    sa = (config or {}).get("sigma_a")
    extra = f", K = {K} members per width" if K else ""
    sig = rf", $\sigma_a$ = {sa:g}, $\sigma_w=\sqrt{{2d}}$" if sa is not None else ""
    fig.suptitle(rf"Cos-net NNQS ensembles $\psi_1+i\psi_2$, L = {results['n_sites']} spins{sig}{extra}")
    return fig


def plot(results: dict, out_dir: Path, config: dict | None = None) -> tuple[Path, Path]:
    """Draw the figure (:func:`make_figure`) and write fig1.png (300 dpi) + .pdf into ``out_dir``."""
    from . import plotting as pl

    return pl.save_figure(make_figure(results, config), out_dir, "fig1")


def run(args: argparse.Namespace) -> int:
    from .io import save_results

    config, results, arrays = compute(sites=args.sites, widths=args.widths, members=args.members,
                                      sigma_a=args.sigma_a, sigma_w=args.sigma_w, seed=args.seed,
                                      quiet=getattr(args, "quiet", False))
    out = Path(args.out)
    from .conventions import conventions

    conv = conventions(log_base="e (natural log; entropies in nats)", n_sites=config["n_sites"], basis="spin",
                       network="Cos-net psi = psi1 + i psi2, two independent one-hidden-layer networks",
                       extra={"subsystem": "A = the first k sites, k = 1..L-1; D_A = 2^k, D_B = 2^(L-k)",
                              "ensemble": "mean and standard error over the members; each sampled state is "
                                          "normalised before the partial trace",
                              "wick_estimate": "-log E Tr rho_A^2 of the Gaussian-process (infinite-width) "
                                               "ensemble (Eq. 4 kernel)"})
    json_path, _ = save_results(out, "fig1", config=config, results=results, arrays=arrays, seed=args.seed,
                                backend="cpu", conventions=conv)
    if not getattr(args, "no_plot", False):
        plot(results, out, config)
    if not getattr(args, "quiet", False):
        L = results["n_sites"]
        h = L // 2 - 1
        print(f"fig1: L={L}, half cut L_A={L // 2}: Page {results['page_entropy'][h]:.4f}, "
              f"max {results['max_entropy'][h]:.4f}, Wick Rényi-2 estimate {results['wick_renyi2_estimate'][h]:.4f}")
        for N, r in results["widths"].items():
            print(f"  N={N}: S_vN = {r['von_neumann_mean'][h]:.4f} ± {r['von_neumann_sem'][h]:.4f}, "
                  f"S_2 = {r['renyi2_mean'][h]:.4f} ± {r['renyi2_sem'][h]:.4f}")
        print(f"wrote {json_path} (+ .npz{'' if getattr(args, 'no_plot', False) else ', .png, .pdf'})")
    return 0
