"""``nnqs-fast entropy``: entanglement entropies of a sampled NNQS ensemble or of a saved state, for given cuts.

Ensemble mode (default): sample K networks (cosnet | gaussnet | relu; ψ1 + iψ2 unless ``--real``) on the full
basis of ``--sites`` spins and report, per cut, the ensemble mean ± standard error of each entropy, the Page
value, the maximum, and the Wick/GP estimate of the Rényi-2 entropy (−log of the Wick purity).
State mode (``--state FILE.npz``): entropies of the state stored under ``--key`` (default ``psi``; e.g. the
``targets`` command's output): spin states (length 2**L), or Hubbard states when the file also holds the
``basis`` codes and ``inputs`` (L = inputs.shape[1]; fermion mode entanglement of the sites' modes).

Cuts: ``--cuts 3 5`` (first k sites) or ``--cuts 0,2,4`` (explicit sites). Writes ``entropy.json`` + ``.npz`` and
the figure ``entropy.png``/``.pdf`` (entropy vs subsystem size with the Page and maximum lines and the Wick
estimate). Entropies in nats (natural log).
"""


from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._common import add_backend_option, add_output_options, add_seed_option

DESCRIPTION = """\
Entanglement entropies (natural log, nats) per cut, of a sampled NNQS ensemble or of a saved state.

Ensemble mode (default): sample K networks (cosnet, gaussnet or relu; psi = psi1 + i psi2 unless --real) on the
full basis of --sites spins and report, per cut, the ensemble mean and standard error of each entropy, the Page
value, the maximum log min(D_A, D_B), and the Wick/GP estimate of the Renyi-2 entropy (-log of the ensemble
purity E Tr rho_A^2).

State mode (--state FILE.npz): the entropies of the state stored under --key (default psi), e.g. the output of
`nnqs-fast targets`: spin states (length 2^L), or Hubbard states when the file also holds the `basis` codes and
`inputs` arrays (L = number of sites; fermion-mode entanglement with Jordan-Wigner signs).

Cuts: --cuts 3 5 (the first k sites) or --cuts 0,2,4 (explicit sites). Writes entropy.json, entropy.npz and the
figure entropy.png/entropy.pdf (entropy vs subsystem size with the Page and maximum lines and the Wick estimate).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("entropy", help="entanglement entropies of an NNQS ensemble (or a saved state) per cut",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state", default=None, metavar="FILE.npz", help="compute the entropies of a saved state "
                   "instead of sampling an ensemble")
    p.add_argument("--key", default="psi", help="array key of the state in --state (default: psi)")
    p.add_argument("--network", choices=("cosnet", "gaussnet", "relu"), default="cosnet",
                   help="network family (default: cosnet)")
    p.add_argument("--sites", type=int, default=10, help="number of spins L (default 10)")
    p.add_argument("--width", type=int, default=1000, help="hidden width N (default 1000)")
    p.add_argument("--members", type=int, default=20, help="ensemble size K (default 20)")
    p.add_argument("--sigma-a", type=float, default=1.0, help="sigma_a for cosnet/gaussnet (default 1)")
    p.add_argument("--sigma-w", type=float, default=None, help="sigma_w for cosnet/gaussnet (default sqrt(2L))")
    p.add_argument("--depth", type=int, default=1, help="ReLU depth (default 1)")
    p.add_argument("--real", action="store_true", help="real ψ = ψ1 only (default ψ1 + iψ2)")
    p.add_argument("--cuts", nargs="+", default=None,
                   help="subsystems: k (= sites 0..k-1) or comma-separated site lists (default: 1 .. L-1)")
    p.add_argument("--kinds", nargs="+", default=["vn", "renyi2"],
                   help="entropies: vn, renyiN, renyi_inf, tsallisQ (default: vn renyi2)")
    p.add_argument("--no-plot", action="store_true", help="skip the figure entropy.png/.pdf")
    add_seed_option(p)
    add_backend_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


LOG_BASE = "e (natural log; entropies in nats)"
SUBSYSTEM = "A = the listed sites (k = sites 0..k-1); B = the rest; D_A = 2^|A|, D_B = 2^(L-|A|) for spins"


def _parse_cuts(cuts, L: int):
    from ..entanglement import normalize_subsystem

    if cuts is None:
        return [tuple(range(k)) for k in range(1, L)]
    out = []
    for c in cuts:
        try:
            spec = int(c) if "," not in c else [int(s) for s in c.split(",") if s.strip()]
        except ValueError as exc:
            raise InvalidInputError(f"cannot read cut {c!r}: give k or a comma-separated site list") from exc
        out.append(normalize_subsystem(spec, L))
    return out


def run(args: argparse.Namespace) -> int:
    from .._backend import resolve_backend
    from ..entanglement import (
        cosnet_gp_kernel,
        entanglement_spectrum,
        entropy_from_spectrum,
        fermion_entanglement_spectrum,
        gaussnet_gp_kernel,
        max_entropy,
        page_entropy,
        parse_entropy_kind,
        relu_nngp_kernel,
        sample_ensemble_entropies,
        wick_purity,
    )
    from ..experiments.conventions import conventions
    from ..experiments.io import save_results

    backend = resolve_backend(args.backend)
    kinds = [parse_entropy_kind(k) for k in args.kinds]
    if args.state is not None:
        try:
            with np.load(args.state) as data:
                if args.key not in data.files:
                    raise InvalidInputError(f"{args.state} has no array {args.key!r} (has {data.files})")
                psi = np.asarray(data[args.key])
                codes = np.asarray(data["basis"]) if "basis" in data.files else None
                inputs = np.asarray(data["inputs"]) if "inputs" in data.files else None
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read {args.state}: {exc}") from exc
        D = psi.shape[-1]
        fermions = False
        if codes is not None and inputs is not None and inputs.ndim == 2:
            L = int(inputs.shape[1])
            fermions = not (D == 2 ** L and np.array_equal(codes, np.arange(D)))
        else:
            L = round(math.log2(D)) if D > 1 else 0
            if L < 1 or 2 ** L != D:
                raise InvalidInputError(f"the state has length {D}, not 2**L, and the file has no 'basis'/'inputs' "
                                        "arrays (as written by `nnqs-fast targets`) to identify a fermion basis")
        cuts = _parse_cuts(args.cuts, L)
        results: dict[str, Any] = {"mode": "state", "basis": "hubbard" if fermions else "spin", "n_sites": L,
                   "cuts": [list(c) for c in cuts], "entropies": {}}
        arrays = {}
        for name, kind, order in kinds:
            vals = []
            for c in cuts:
                p = (fermion_entanglement_spectrum(psi, codes, c, L, normalize=True) if fermions
                     else entanglement_spectrum(psi, c, L, normalize=True))
                vals.append(float(entropy_from_spectrum(p, kind, order)))
            results["entropies"][name] = vals
            arrays[name] = np.array(vals)
        if not fermions:  # Page/max for the full spin Hilbert space (not meaningful for a particle-number sector)
            results["page_entropy"] = [page_entropy(2 ** len(c), 2 ** (L - len(c))) for c in cuts]
            results["max_entropy"] = [max_entropy(2 ** len(c), 2 ** (L - len(c))) for c in cuts]
        config = {"mode": "state", "state": str(args.state), "key": args.key, "kinds": [k[0] for k in kinds]}
        conv = conventions(log_base=LOG_BASE, n_sites=L, basis="hubbard" if fermions else "spin",
                           extra={"subsystem": SUBSYSTEM, "state": "normalised before the partial trace"})
        path, _ = save_results(args.out, "entropy", config=config, results=results, arrays=arrays, seed=None,
                               backend=backend, conventions=conv)
        if not args.no_plot:
            plot(results, config, args.out)
        if not args.quiet:
            for i, c in enumerate(cuts):
                print(f"A={list(c)}: " + ", ".join(f"{n}={results['entropies'][n][i]:.6f}" for n, _, _ in kinds))
            print(f"wrote {path}")
        return 0

    L = args.sites
    cuts = _parse_cuts(args.cuts, L)
    sw = math.sqrt(2 * L) if args.sigma_w is None else args.sigma_w
    ens = sample_ensemble_entropies(args.network, n_sites=L, n_members=args.members, width=args.width, cuts=cuts,
                                    seed=args.seed, sigma_a=args.sigma_a, sigma_w=sw, complex_psi=not args.real,
                                    kinds=[k[0] for k in kinds], depth=args.depth, quiet=args.quiet)
    if args.network == "cosnet":
        kern = cosnet_gp_kernel(args.sigma_a, sw, L)
    elif args.network == "gaussnet":
        kern = gaussnet_gp_kernel(args.sigma_a, sw, L)
    else:
        kern = relu_nngp_kernel(L, args.depth)
    k2 = None if args.real else "same"
    wick = [wick_purity(kern, k2, n_sites=L, subsystem=c, backend=backend) for c in cuts]
    results = {
        "mode": "ensemble", "n_sites": L, "cuts": [list(c) for c in cuts],
        "subsystem_sizes": [len(c) for c in cuts],
        "mean": {n: ens.mean[n] for n in ens.mean}, "sem": {n: ens.sem[n] for n in ens.sem},
        "page_entropy": [page_entropy(2 ** len(c), 2 ** (L - len(c))) for c in cuts],
        "max_entropy": [max_entropy(2 ** len(c), 2 ** (L - len(c))) for c in cuts],
        "wick_purity": [w.purity for w in wick], "wick_renyi2_estimate": [w.renyi2 for w in wick],
    }
    arrays = {f"values_{n}": v for n, v in ens.values.items()}
    config = {**ens.config, "cuts": results["cuts"], "mode": "ensemble"}
    conv = conventions(log_base=LOG_BASE, n_sites=L, basis="spin",
                       network=f"{args.network}: " + ("psi = psi1 + i psi2, independent networks" if not args.real
                                                      else "real psi = psi1"),
                       extra={"subsystem": SUBSYSTEM,
                              "ensemble": "mean and standard error over K members; each sampled state is "
                                          "normalised before the partial trace",
                              "wick_estimate": "-log E Tr rho_A^2 of the Gaussian-process (infinite-width) "
                                               "ensemble; compare with -log of the mean sampled purity"})
    path, _ = save_results(args.out, "entropy", config=config, results=results, arrays=arrays, seed=args.seed,
                           backend=backend, conventions=conv)
    if not args.no_plot:
        plot(results, config, args.out)
    if not args.quiet:
        for i, c in enumerate(cuts):
            parts = [f"{n}={ens.mean[n][i]:.4f}±{ens.sem[n][i]:.4f}" for n in ens.mean]
            print(f"A={list(c)}: " + ", ".join(parts) + f", Page={results['page_entropy'][i]:.4f}, "
                  f"Wick S2≈{results['wick_renyi2_estimate'][i]:.4f}")
        print(f"wrote {path}")
    return 0


_KIND_LABEL = {"vn": "von Neumann $S_1$", "renyi2": r"Rényi-2 $S_2$", "renyi_inf": r"Rényi-$\infty$"}


def _kind_label(name: str) -> str:
    if name in _KIND_LABEL:
        return _KIND_LABEL[name]
    if name.startswith("renyi"):
        return f"Rényi-{name[5:]}"
    if name.startswith("tsallis"):
        return f"Tsallis q = {name[7:]}"
    return name


def _hue(name: str) -> str:
    if name in ("vn", "renyi2"):
        return name
    return "tsallis" if name.startswith("tsallis") else "renyi"


def make_figure(results: dict[str, Any], config: dict[str, Any]) -> Any:
    """entropy.png/.pdf: each entropy vs subsystem size |A| (markers: ensemble mean ± standard error, or the
    state's values), the Page value (line, the Haar-random expectation of S_1), the maximum log min(D_A, D_B) (grey),
    and in ensemble mode the Wick/GP estimate -log E Tr rho_A^2 (line in the Rényi-2 hue)."""
    from ..experiments import plotting as pl

    sizes = np.array([len(c) for c in results["cuts"]])
    order = np.argsort(sizes, kind="stable")
    x = sizes[order]
    fig, (ax,) = pl.new_figure(1, panel_size=(6.0, 4.2))
    ensemble = results["mode"] == "ensemble"
    values = results["mean"] if ensemble else results["entropies"]
    names = list(values)
    for i, name in enumerate(names):
        y = np.asarray(values[name])[order]
        err = np.asarray(results["sem"][name])[order] if ensemble else None
        label = _kind_label(name) + (" (ensemble mean ± s.e.)" if ensemble else "")
        pl.ensemble_points(ax, x, y, _hue(name), yerr=err, label=label, marker=pl.MARKERS[i % len(pl.MARKERS)])
    if "page_entropy" in results:
        pl.theory_line(ax, x, np.asarray(results["page_entropy"])[order], "vn", label="Page (Haar average of $S_1$)")
        pl.reference_line(ax, x, np.asarray(results["max_entropy"])[order],
                          label=r"maximum $\log\min(D_A, D_B)$")
    if ensemble:
        pl.theory_line(ax, x, np.asarray(results["wick_renyi2_estimate"])[order], "renyi2",
                       label=r"Wick/GP: $-\log\,\mathbb{E}\,\mathrm{Tr}\,\rho_A^2$", ls="-.")
    ax.set_xlabel("subsystem size |A| (sites)")
    ax.set_ylabel("entanglement entropy (nats)")
    ax.set_xticks(np.unique(x))
    ax.set_ylim(bottom=0.0)
    ax.tick_params(axis="x", which="minor", bottom=False, top=False)
    ax.set_ylim(top=1.12 * max(float(np.max(np.asarray(results.get("max_entropy", [0])))),
                               max(float(np.nanmax(np.asarray(v))) for v in values.values())))
    pl.legend(ax, loc="lower center")
    L = results["n_sites"]
    if ensemble:
        net = {"cosnet": "Cos-net", "gaussnet": "Gauss-net", "relu": "ReLU"}.get(config["network"], config["network"])
        psi = r"$\psi_1+i\psi_2$" if config.get("complex_psi", True) else r"real $\psi_1$"
        fig.suptitle(f"{net} NNQS ensemble ({psi}), L = {L} spins, width N = {config['width']}, "
                     f"K = {config['n_members']}")
    else:
        fig.suptitle(f"{Path(str(config['state'])).name}: {results['basis']} state, L = {L} sites")
    return fig


def plot(results: dict[str, Any], config: dict[str, Any], out_dir: Any) -> tuple[Path, Path]:
    """Draw the figure (:func:`make_figure`) and write entropy.png (300 dpi) + .pdf into ``out_dir``."""
    from ..experiments import plotting as pl

    return pl.save_figure(make_figure(results, config), Path(out_dir), "entropy")
