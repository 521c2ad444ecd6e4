"""CPU time of Fig. 2's paper-settings training (width 5000, K = 10, n = 2400, 10⁴ steps, TFIM 3×4), float64 vs
float32, measured on a fixed number of steps with K = 1 (two networks) and extrapolated linearly to 20 networks ×
10⁴ steps. Interleaved rounds, min of each; process CPU time (all threads). Not part of the test run::

    PYTHONPATH=python python bench/peers/fig2_training_cpu.py [--rounds 2]

The QS-NTK part of ``reproduce fig2 --paper`` is not included (time it with
``reproduce fig2 --paper --members 1 --steps 50``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from nnqs_fast.experiments import _training_figs as tf
from nnqs_fast.training import max_learning_rate_for, train_ensemble


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    target = tf.load_target(argparse.Namespace(system="tfim", lx=3, ly=4, boundary=None))
    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    tr, te = tf.split(psi.shape[0], 2400, 0)
    eta = max_learning_rate_for(x[tr])
    print(f"load average at start: {os.getloadavg()}; eta_max {eta:.4g}", flush=True)
    steps = {"float64": 30, "float32": 150}
    best: dict[str, float] = {}
    for rnd in range(args.rounds):
        for dt, S in steps.items():
            c0, w0 = time.process_time(), time.perf_counter()
            train_ensemble(x[tr], psi[tr], x[te], psi[te], width=5000, n_members=1, n_steps=S,
                           learning_rate=0.9 * eta, max_learning_rate=eta, record_steps=[0, S], quiet=True, dtype=dt)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            best[dt] = min(best.get(dt, np.inf), cpu / (2 * S))
            print(f"round {rnd} {dt}: {S} steps x 2 networks: CPU {cpu:.2f} s, wall {wall:.2f} s", flush=True)
    for dt, per in best.items():
        total = per * 20 * 10_000
        print(f"{dt}: {per * 1e3:.2f} ms CPU per network-step -> paper settings {total:.0f} s CPU "
              f"({total / 3600:.2f} h; ~{total / 7200:.2f} h on 2 idle cores)")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
