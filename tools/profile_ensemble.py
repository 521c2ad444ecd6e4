"""Profile the ensemble at t = ∞ (issue 16's ``ensemble_inf`` row of bench/peers/compare_nt.py) with cProfile.

Usage::

    PYTHONPATH=python python tools/profile_ensemble.py [--n-train 2400] [--n-test 1696] [--get-cov full]
        [--top 25] [--no-kernels]

Same inputs as compare_nt.py (ReLU depth 1, W_std 0.5, b_std 0.1, 12-dim Gaussian inputs, diag_reg 1e-4, η = 1);
prints the wall time of the call (best of ``--rounds``), the limit ``cho_factor + solve + 3 GEMMs`` timed in the
same rounds, and the cProfile table of one more call sorted by total time per function.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import nnqs_fast as nf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=2400)
    ap.add_argument("--n-test", type=int, default=1696)
    ap.add_argument("--get-cov", default="full", choices=("full", "variance", "none"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-kernels", action="store_true", help="precompute the kernels (not part of the call)")
    args = ap.parse_args()
    n_tr, n_te = args.n_train, args.n_test
    g = np.random.default_rng(0)
    x = g.standard_normal((n_tr + n_te, 12))
    xtr, xte = x[:n_tr], x[n_tr:]
    y = g.standard_normal(n_tr)
    reg = 1e-4
    kfn = nf.relu_kernel_fn(depth=1, W_std=0.5, b_std=0.1)
    get_cov = None if args.get_cov == "none" else args.get_cov
    pre = (kfn(xtr, None, get=("nngp", "ntk")), kfn(xte, xtr, get=("nngp", "ntk")), kfn(xte, None, get="nngp"))

    def call() -> object:
        a, b, c = pre if args.no_kernels else (kfn(xtr, None, get=("nngp", "ntk")), kfn(xte, xtr, get=("nngp", "ntk")),
                                               kfn(xte, None, get="nngp"))
        if get_cov == "variance":
            c = np.diag(c).copy()
        return nf.qsntk_mse_ensemble(a.nngp, a.ntk, y, 1.0, diag_reg=reg)(None, b.nngp, b.ntk, c, get_cov=get_cov)

    theta = pre[0].ntk + reg * np.eye(n_tr)

    def limit() -> None:
        c = scipy.linalg.cho_factor(theta, lower=True, check_finite=False)
        B = scipy.linalg.cho_solve(c, pre[1].ntk.T, check_finite=False)
        pre[1].nngp @ B, pre[0].nngp @ B, B.T @ pre[0].nngp[:, :n_te]

    call()
    tc, tl = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        call()
        tc.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        limit()
        tl.append(time.perf_counter() - t0)
    print(f"call {min(tc) * 1e3:.1f} ms, limit {min(tl) * 1e3:.1f} ms, limit/call {min(tl) / min(tc):.0%}")
    pr = cProfile.Profile()
    pr.enable()
    call()
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
