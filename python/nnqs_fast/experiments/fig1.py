"""Reproduce Fig. 1: von Neumann entanglement entropy vs subsystem size for Cos-net NNQS ψ1 + iψ2.

Paper setting (Supplementary IV): σ_a = 10, σ_w = √(2d) (d = L), widths N = 400, 1000, 4000, ensemble of 100;
compared with the Page value (exact and Eq. S40) and the maximum log min(D_A, D_B). Beyond the paper: the
Wick/GP estimate per cut (:func:`nnqs_fast.entanglement.wick_purity`, factorised path, kernel Eq. 4) and the
sampled Rényi-2 entropy it should be compared with. ``A`` = the first k sites, k = 1 .. L−1.

Default system size L = 16 (≈ 1.5 min on 2 idle cores for the full 3 × 100 ensemble, 6.7 min measured under
heavy sharing; L = 18 takes ≈ 8 min idle).
Outputs in ``--out``: ``fig1.json`` + ``fig1.npz`` (keys documented in docs/entanglement.md) and ``fig1.png``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

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
    _add(parser, "--sigma-a", type=float, default=10.0, help="σ_a (default 10)")
    _add(parser, "--sigma-w", type=float, default=None, help="σ_w (default √(2d))")
    _add(parser, "--seed", type=int, default=0, help="random seed (default 0)")
    _add(parser, "--out", default="results/fig1", metavar="DIR", help="output directory (default results/fig1)")
    _add(parser, "--quiet", action="store_true", help="no progress bar or summary")
    _add(parser, "--no-plot", action="store_true", help="skip the PNG")


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


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = np.array(results["subsystem_sizes"])
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for N, r in results["widths"].items():
        ax.errorbar(ks, r["von_neumann_mean"], yerr=r["von_neumann_sem"], marker="o", ms=4, capsize=2,
                    label=f"Cos-net N={N} (von Neumann)")
    ax.plot(ks, results["page_entropy"], "k--", label="Page (exact)")
    ax.plot(ks, results["max_entropy"], "k:", label="Max")
    ax.plot(ks, results["wick_renyi2_estimate"], "r-.", label="Wick/GP estimate of −log E Tr ρ²")
    ax.set_xlabel("subsystem size $L_A$")
    ax.set_ylabel("entanglement entropy (nats)")
    ax.set_title(f"Fig. 1: Cos-net NNQS, L = {results['n_sites']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    from .io import atomic_savefig
    atomic_savefig(fig, path, dpi=130)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from .io import save_results

    config, results, arrays = compute(sites=args.sites, widths=args.widths, members=args.members,
                                      sigma_a=args.sigma_a, sigma_w=args.sigma_w, seed=args.seed,
                                      quiet=getattr(args, "quiet", False))
    out = Path(args.out)
    json_path, _ = save_results(out, "fig1", config=config, results=results, arrays=arrays, seed=args.seed,
                                backend="cpu")
    if not getattr(args, "no_plot", False):
        plot(results, out / "fig1.png")
    if not getattr(args, "quiet", False):
        L = results["n_sites"]
        h = L // 2 - 1
        print(f"fig1: L={L}, half cut L_A={L // 2}: Page {results['page_entropy'][h]:.4f}, "
              f"max {results['max_entropy'][h]:.4f}, Wick Rényi-2 estimate {results['wick_renyi2_estimate'][h]:.4f}")
        for N, r in results["widths"].items():
            print(f"  N={N}: S_vN = {r['von_neumann_mean'][h]:.4f} ± {r['von_neumann_sem'][h]:.4f}, "
                  f"S_2 = {r['renyi2_mean'][h]:.4f} ± {r['renyi2_sem'][h]:.4f}")
        print(f"wrote {json_path} (+ .npz, .png)")
    return 0
