"""``nnqs-fast entropy``: entanglement entropies of a sampled NNQS ensemble or of a saved state, for given cuts.

Ensemble mode (default): sample K networks (cosnet | gaussnet | relu; ψ1 + iψ2 unless ``--real``) on the full
basis of ``--sites`` spins and report, per cut, the ensemble mean ± standard error of each entropy, the Page
value, the maximum, and the Wick/GP estimate of the Rényi-2 entropy (−log of the Wick purity).
State mode (``--state FILE.npz``): entropies of the state stored under ``--key`` (default ``psi``; e.g. the
``targets`` command's output): spin states (length 2**L), or Hubbard states when the file also holds the
``basis`` codes and ``inputs`` (L = inputs.shape[1]; fermion mode entanglement of the sites' modes).

Cuts: ``--cuts 3 5`` (first k sites) or ``--cuts 0,2,4`` (explicit sites). Writes ``entropy.json`` + ``.npz``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ._common import add_backend_option, add_output_options, add_seed_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("entropy", help="entanglement entropies of an NNQS ensemble (or a saved state) per cut",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state", default=None, metavar="FILE.npz", help="compute the entropies of a saved state "
                   "instead of sampling an ensemble")
    p.add_argument("--key", default="psi", help="array key of the state in --state (default: psi)")
    p.add_argument("--network", choices=("cosnet", "gaussnet", "relu"), default="cosnet",
                   help="network family (default: cosnet)")
    p.add_argument("--sites", type=int, default=10, help="number of spins L (default 10)")
    p.add_argument("--width", type=int, default=1000, help="hidden width N (default 1000)")
    p.add_argument("--members", type=int, default=20, help="ensemble size K (default 20)")
    p.add_argument("--sigma-a", type=float, default=1.0, help="σ_a for cosnet/gaussnet (default 1)")
    p.add_argument("--sigma-w", type=float, default=None, help="σ_w for cosnet/gaussnet (default √(2d))")
    p.add_argument("--depth", type=int, default=1, help="ReLU depth (default 1)")
    p.add_argument("--real", action="store_true", help="real ψ = ψ1 only (default ψ1 + iψ2)")
    p.add_argument("--cuts", nargs="+", default=None,
                   help="subsystems: k (= sites 0..k-1) or comma-separated site lists (default: 1 .. L-1)")
    p.add_argument("--kinds", nargs="+", default=["vn", "renyi2"],
                   help="entropies: vn, renyiN, renyi_inf, tsallisQ (default: vn renyi2)")
    add_seed_option(p)
    add_backend_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


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
    from ..errors import InputFileError
    from ..experiments.io import load_npz_array, save_results

    backend = resolve_backend(args.backend)
    kinds = [parse_entropy_kind(k) for k in args.kinds]
    if args.state is not None:
        psi, codes, inputs = load_npz_array(args.state, args.key, also=("basis", "inputs"))
        if psi.ndim != 1 or psi.dtype.kind not in "fciu" or psi.size == 0:
            raise InputFileError(f"{args.state}: array {args.key!r} must be a non-empty 1-d numeric state vector, "
                                 f"got shape {psi.shape} and dtype {psi.dtype}")
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
        path, _ = save_results(args.out, "entropy", config=config, results=results, arrays=arrays, seed=None,
                               backend=backend)
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
    path, _ = save_results(args.out, "entropy", config={**ens.config, "cuts": results["cuts"]}, results=results,
                           arrays=arrays, seed=args.seed, backend=backend)
    if not args.quiet:
        for i, c in enumerate(cuts):
            parts = [f"{n}={ens.mean[n][i]:.4f}±{ens.sem[n][i]:.4f}" for n in ens.mean]
            print(f"A={list(c)}: " + ", ".join(parts) + f", Page={results['page_entropy'][i]:.4f}, "
                  f"Wick S2≈{results['wick_renyi2_estimate'][i]:.4f}")
        print(f"wrote {path}")
    return 0
