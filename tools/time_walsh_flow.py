"""Time the batched infinite-width energy flow on the Walsh path (issue 13's "10⁴ steps in about a minute").

TFIM 3×4 open boundary (D = 4096), the analytic ReLU NTK in float32 on all basis states, K = 32 NNGP initial
states (seed 0), ``loss_flow(..., learning_rate=0.05, dtype=float32, structure="auto")`` with the energy loss.

    PYTHONPATH=python python tools/time_walsh_flow.py --steps 10000 [--profile] [--structure auto|dense]

Prints the wall and CPU time (``time.process_time``), ms/step, the load average before and after, and the mean
energy, relative energy error and fidelity with the exact ground state at steps 0, 100, 1000 and the last.
``--profile`` runs cProfile over the flow and prints the top entries by total time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from typing import Any

import numpy as np
from scipy.sparse.linalg import eigsh

from nnqs_fast.dynamics import EnergyLoss, loss_flow, sample_gp_states
from nnqs_fast.kernels import relu_kernel_fn
from nnqs_fast.physics import Lattice, encode_spins, tfim_hamiltonian
from nnqs_fast.physics.tfim import tfim_basis


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lx", type=int, default=3)
    ap.add_argument("--ly", type=int, default=4)
    ap.add_argument("--states", type=int, default=32)
    ap.add_argument("--structure", default="auto", choices=["auto", "dense"])
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    L = a.lx * a.ly
    H = tfim_hamiltonian(Lattice(a.lx, a.ly, "open"), J=1.0)
    x = encode_spins(tfim_basis(L), L)
    k = relu_kernel_fn()(x, None, get=("nngp", "ntk"), backend="cpu")
    ntk32 = np.ascontiguousarray(k.ntk, dtype=np.float32)
    psi0 = sample_gp_states(np.asarray(k.nngp), a.states, seed=0)
    del k
    w, v = eigsh(H, k=1, which="SA")
    e0, gs = float(w[0]), v[:, 0]
    rec = sorted({0, a.steps, *[s for s in (100, 1000) if s < a.steps]})

    def run() -> Any:
        return loss_flow(ntk32, EnergyLoss(H), psi0, learning_rate=0.05, n_steps=a.steps, dtype=np.float32,
                         structure=a.structure, record_steps=rec, reference=gs)

    load0 = os.getloadavg()
    w0, c0 = time.perf_counter(), time.process_time()
    if a.profile:
        pr = cProfile.Profile()
        res = pr.runcall(run)
    else:
        res = run()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    load1 = os.getloadavg()
    e = res.loss
    print(f"D={x.shape[0]} K={a.states} steps={a.steps} structure={a.structure} "
          f"kernel_form={res.config['kernel_form']} flow_domain={res.config['flow_domain']}")
    print(f"wall {wall:.2f} s ({1e3 * wall / max(a.steps, 1):.3f} ms/step), CPU {cpu:.2f} s; "
          f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} "
          f"{load1[2]:.2f}")
    for r, st in enumerate(rec):
        print(f"step {st}: mean energy {e[:, r].mean():.10f} (relative error {(e[:, r].mean() - e0) / abs(e0):.4f}), "
              f"mean fidelity {res.fidelity[:, r].mean():.4f}")
    drift = np.max(np.abs(res.norm2[:, -1] / res.norm2[:, 0] - 1))
    print(f"E0 = {e0:.6f}; max |norm2 / norm2(0) - 1| at the end {drift:.3g}")
    if a.profile:
        pstats.Stats(pr).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
