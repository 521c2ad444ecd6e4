#!/usr/bin/env python3
"""QS-NTK predictions for the paper's Figs. 2-3 configurations (issue 4 closing note).

For TFIM and Hubbard, open and periodic boundaries, train sizes 2400/3200/4000, seed 0: the test L_mu, L_gamma and
L_Psi_l at tau -> infinity and at step 10^4, and the fidelity of the mean state, at 0.9 x eta_max (continuous time).
Prints a Markdown table and writes predict_table.json (+ .npz) to --out.

Loss convention: L = (1/n) sum |psi_T - psi|^2 (CONTRIBUTING.md, "Conventions"). The column "L_psi/4" rescales to
neural-tangents' 0.5 * mean over the two real outputs (psi1, psi2), a plausible convention for the paper's plots.

Usage: PYTHONPATH=python python3 tools/predict_table.py --out /tmp/predict_table [--sizes 2400 3200 4000]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv=None) -> int:
    from nnqs_fast.experiments.io import save_results
    from nnqs_fast.experiments.predict_curves import PredictConfig, load_target, run_predict_curves

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--systems", nargs="+", default=["tfim", "hubbard"])
    ap.add_argument("--boundaries", nargs="+", default=["open", "periodic"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[2400, 3200, 4000])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows = []
    header = ("| system | boundary | n_train | n_test | eta | L_mu_test(inf) | L_gamma_test(inf) | L_psi_test(inf) | "
              "L_psi_test(1e4) | L_psi/4 (inf) | fidelity(inf) | fidelity(1e4) | s |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    sys.stdout.flush()
    for system in args.systems:
        for boundary in args.boundaries:
            target = load_target(system, boundary, 3, 4)
            for n in args.sizes:
                t0 = time.perf_counter()
                cfg = PredictConfig(system=system, boundary=boundary, train_size=n, seed=args.seed, max_step=10_000,
                                    n_times=2)
                r = run_predict_curves(cfg, target=target)
                d = r.results_dict()
                row = dict(system=system, boundary=boundary, n_train=n, n_test=d["n_test"], eta=d["learning_rate"],
                           L_mu_test_inf=d["L_mu_test_inf"], L_gamma_test_inf=d["L_gamma_test_inf"],
                           L_psi_test_inf=d["L_psi_test_inf"], L_psi_test_1e4=d["L_psi_test_final"],
                           L_mu_test_1e4=d["L_mu_test_final"], fidelity_inf=d["fidelity_inf"],
                           fidelity_1e4=d["fidelity_final"], seconds=time.perf_counter() - t0)
                rows.append(row)
                print(f"| {system} | {boundary} | {n} | {row['n_test']} | {row['eta']:.4g} | {row['L_mu_test_inf']:.3e} | "
                      f"{row['L_gamma_test_inf']:.3e} | {row['L_psi_test_inf']:.3e} | {row['L_psi_test_1e4']:.3e} | "
                      f"{row['L_psi_test_inf'] / 4:.3e} | {row['fidelity_inf']:.4f} | {row['fidelity_1e4']:.4f} | "
                      f"{row['seconds']:.0f} |")
                sys.stdout.flush()
    arrays = {k: np.array([r[k] for r in rows]) for k in rows[0] if k not in ("system", "boundary")}
    save_results(args.out, "predict_table", config=vars(args), results={"rows": rows}, arrays=arrays, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
