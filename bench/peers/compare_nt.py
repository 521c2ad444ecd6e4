"""nnqs_fast vs neural-tangents vs the hardware limit, same run, interleaved (issue 16's table).

Not part of the test run. Usage::

    python bench/peers/compare_nt.py [--rounds 3] [--quick] [--rows a,b,...] [--nt-venv /work/venvs/nt]

``--rows``: row ids (``analytic1``, ``empirical``, ``predict50``, ``predict_inf``, ``ensemble_inf``, ``gd_step``, ...)
or substrings of the row names.

The neural-tangents side runs in a pinned venv (``neural-tangents==0.6.5 jax==0.4.23 jaxlib==0.4.23
numpy==1.26.4 scipy==1.12.0``), built on demand with ``python -m venv`` + ``pip install`` when
``<venv>/bin/python -c "import neural_tangents"`` fails. Two persistent worker processes (JAX float32 and x64)
receive the same inputs through an ``.npz`` file; every row is prepared once (JIT compilation excluded), then
timed in rounds ``nnqs, NT, limit, nnqs, NT, limit, ...``; each column is the minimum over the rounds. Timings
on a shared machine are only meaningful as ratios within one run: the script prints the load average.

Threads: both sides inherit the environment. On a loaded machine OpenBLAS's spinning thread server can make a
2-thread ``eigh``/``cho_factor`` 4-15x slower than 1 thread (measured at load ~12 on 2 cores), which swamps
every LAPACK-bound row; run once as is and once with ``OPENBLAS_NUM_THREADS=1`` and report both.

Columns: ``NT / nnqs`` (> 1: nnqs_fast is faster) and ``limit / nnqs`` (the fraction of the hardware limit
reached; the limit of each row is stated in the table).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.linalg.blas as blas

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "python"))
import nnqs_fast as nf  # noqa: E402
from nnqs_fast.training import CPUReLUStep  # noqa: E402

PINS = ["neural-tangents==0.6.5", "jax==0.4.23", "jaxlib==0.4.23", "numpy==1.26.4", "scipy==1.12.0"]
W_STD, B_STD = 0.5, 0.1


def nt_python(venv: Path) -> str:
    py = venv / "bin" / "python"
    ok = py.exists() and subprocess.run([str(py), "-c", "import neural_tangents"],
                                        capture_output=True).returncode == 0
    if not ok:
        print(f"building the neural-tangents venv in {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PINS], check=True)
    return str(py)


class Worker:
    def __init__(self, py: str, x64: bool) -> None:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
        self.p = subprocess.Popen([py, str(HERE / "_nt_worker.py")] + (["--x64"] if x64 else []), env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **msg) -> dict:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError(f"the neural-tangents worker died on {msg}")
            if line.startswith("{"):          # anything else is a library's chatter
                return json.loads(line)

    def close(self) -> None:
        try:
            self.ask(op="quit")
        except Exception:
            pass
        self.p.wait(timeout=30)


def best_of(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def write_bytes_limit(shape: tuple[int, int], dtype: type, k: int = 2) -> Callable[[], object]:
    """Writing ``k`` outputs of ``shape`` (preallocated, touched: pure store bandwidth)."""
    outs: list[np.ndarray] = [np.ones(shape, dtype) for _ in range(k)]

    def run() -> None:
        for o in outs:
            o.fill(0.5)
    return run


def fresh_write_limit(shape: tuple[int, int], dtype: type, k: int = 2) -> Callable[[], object]:
    """Allocating and writing ``k`` new outputs of ``shape`` (``np.empty`` + fill: the kernel zeroes the fresh pages
    first, a cost every function that returns new arrays pays)."""
    def run() -> None:
        for _ in range(k):
            np.empty(shape, dtype).fill(0.5)
    return run


def make_rows(quick: bool, tmp: Path) -> list[dict]:
    g = np.random.default_rng(0)
    n_an = 1024 if quick else 4096
    n_emp, width = (1024, 1000) if quick else (4096, 5000)
    n_tr, n_te = (600, 424) if quick else (2400, 1696)
    n_gd, w_gd = (600, 1000) if quick else (2400, 5000)
    rows: list[dict] = []

    def save(name: str, **arrays) -> str:
        path = tmp / f"{name}.npz"
        np.savez(path, **arrays)
        return str(path)

    # ---- analytic ReLU NNGP + NTK -------------------------------------------------------------------------
    x_an = g.standard_normal((n_an, 12))
    for depth in (1, 3):
        for dt, x64 in ((np.float64, True), (np.float32, False)):
            kfn = nf.relu_kernel_fn(depth=depth, W_std=W_STD, b_std=B_STD)
            xx = x_an.astype(dt)
            rows.append(dict(
                name=f"analytic ReLU NNGP+NTK {n_an}², depth {depth}, {np.dtype(dt).name}",
                row=f"analytic{depth}", x64=x64, data=save(f"an{depth}{x64}", x=xx, depth=depth),
                nnqs=lambda kfn=kfn, xx=xx, dt=dt: kfn(xx, None, get=("nngp", "ntk"), dtype=dt),
                limit=write_bytes_limit((n_an, n_an), dt), limit_name="writing the two outputs",
                limit2=fresh_write_limit((n_an, n_an), dt), limit2_name="np.empty + fill of the two outputs"))
    # ---- empirical NTK, float32 ---------------------------------------------------------------------------
    x_emp = g.choice([-1.0, 1.0], (n_emp, 12)).astype(np.float32)
    net = nf.init_relu(0, 12, width, dtype=np.float32)
    a32 = g.standard_normal((n_emp, width)).astype(np.float32)
    rows.append(dict(
        name=f"empirical NTK, ReLU net N = {width}, {n_emp} inputs, f32", row="empirical", x64=False,
        data=save("emp", x=x_emp, width=width),
        nnqs=lambda: nf.empirical_ntk(net, x_emp, dtype=np.float32),
        limit=lambda: (blas.ssyrk(1.0, a32.T, trans=1), blas.ssyrk(1.0, a32.T, trans=1)),
        limit_name=f"two SSYRKs {n_emp}×{width}"))
    # ---- closed-form prediction ---------------------------------------------------------------------------
    x_pr = g.standard_normal((n_tr + n_te, 12))
    kfn1 = nf.relu_kernel_fn(depth=1, W_std=W_STD, b_std=B_STD)
    ktt = kfn1(x_pr[:n_tr], None, get="ntk")
    kxt = kfn1(x_pr[n_tr:], x_pr[:n_tr], get="ntk")
    y = g.standard_normal(n_tr)
    lam_max = scipy.linalg.eigh(ktt, eigvals_only=True, subset_by_index=[n_tr - 1, n_tr - 1])[0]
    lr = 0.9 * n_tr / lam_max
    times = np.concatenate([[0.0], np.logspace(0, 4, 49)])
    pdata = save("pred", ktt=ktt, kxt=kxt, y=y, times=times, lr=lr)

    def predict50(method: str = "auto") -> object:  # auto = the Krylov evaluation at this size (n >= 1024)
        return nf.qsntk_mse_predictor(ktt, y, lr, method=method)(times, 0.0, None, kxt)

    def predict50_check(got: object) -> str:
        ref = predict50("eigh")                     # today's float64 eigenbasis path
        err = 0.0
        for a, b in zip(got, ref):                  # train and test losses (the targets are y / 0)
            la = np.mean(np.abs(a - (y if a.shape[1] == n_tr else 0.0)) ** 2, axis=1)
            lb = np.mean(np.abs(b - (y if b.shape[1] == n_tr else 0.0)) ** 2, axis=1)
            pos = lb > 0                            # the test loss at t = 0 is exactly 0 on both paths
            assert np.array_equal(la[~pos], lb[~pos])
            err = max(err, float(np.max(np.abs(la[pos] - lb[pos]) / lb[pos])))
        return f"max relative difference of the train/test losses from the eigh path: {err:.2e}"
    rows.append(dict(
        name=f"closed-form prediction, {n_tr} train / {n_te} test, 50 times, f64", row="predict50", x64=True,
        data=pdata, nnqs=predict50, check=predict50_check,
        limit=lambda: np.linalg.eigh(ktt), limit_name=f"one eigh({n_tr})"))

    def chol_limit() -> None:
        c = scipy.linalg.cho_factor(ktt, lower=True, check_finite=False)
        kxt @ scipy.linalg.cho_solve(c, y, check_finite=False)
    rows.append(dict(
        name="prediction at t = ∞ (Cholesky), f64", row="predict_inf", x64=True, data=pdata,
        nnqs=lambda: nf.qsntk_mse_predictor(ktt, y, lr)(None, 0.0, None, kxt),
        limit=chol_limit, limit_name="cho_factor + cho_solve + one GEMV"))
    # ---- ensemble at t = ∞ ----------------------------------------------------------------------------------
    reg = 1e-4
    xtr, xte = x_pr[:n_tr], x_pr[n_tr:]
    ens_k = kfn1(xtr, None, get=("nngp", "ntk"))
    ens_x = kfn1(xte, xtr, get=("nngp", "ntk"))

    def ensemble(kernels: bool) -> object:
        if kernels:
            a, b = kfn1(xtr, None, get=("nngp", "ntk")), kfn1(xte, xtr, get=("nngp", "ntk"))
            c = kfn1(xte, None, get="nngp")
        else:
            a, b, c = ens_k, ens_x, kxx_ens
        pf = nf.qsntk_mse_ensemble(a.nngp, a.ntk, y, 1.0, diag_reg=reg)
        return pf(None, b.nngp, b.ntk, c, get_cov="full")
    kxx_ens = kfn1(xte, None, get="nngp")
    theta = ens_k.ntk + reg * np.eye(n_tr)

    def ens_limit() -> None:
        c = scipy.linalg.cho_factor(theta, lower=True, check_finite=False)
        B = scipy.linalg.cho_solve(c, ens_x.ntk.T, check_finite=False)
        ens_x.nngp @ B, ens_k.nngp @ B, B.T @ ens_k.nngp[:, :n_te]
    edata = save("ens", xtr=xtr, xte=xte, y=y, diag_reg=reg)
    rows.append(dict(name="ensemble mean + covariance at t = ∞, kernels included, f64", row="ensemble_inf",
                     x64=True, data=edata, nnqs=lambda: ensemble(True), limit=ens_limit,
                     limit_name="cho_factor + solve + 3 GEMMs (kernels not counted)"))
    rows.append(dict(name="  same, kernels precomputed (vs the limit only)", row=None, x64=True, data=None,
                     nnqs=lambda: ensemble(False), limit=ens_limit,
                     limit_name="cho_factor + solve + 3 GEMMs"))
    # ---- one GD step ---------------------------------------------------------------------------------------
    steps = 5
    x_gd = g.choice([-1.0, 1.0], (n_gd, 12))
    y_gd = g.standard_normal(n_gd) / 64
    p_gd = nf.init_relu(1, 12, w_gd)
    lr_gd = 1.0
    step = CPUReLUStep(p_gd, x_gd, y_gd, lr_gd)
    step.run(1)
    gdim = 1500
    ga, gb = g.standard_normal((gdim, gdim)), g.standard_normal((gdim, gdim))
    t_gemm = min(best_of(lambda: ga @ gb) for _ in range(3))
    flops_step = 2 * 2 * n_gd * w_gd * 12 + 2 * 2 * n_gd * w_gd   # forward/backward GEMMs + read-out GEMVs
    rows.append(dict(
        name=f"one GD step, N = {w_gd}, {n_gd} points (nnqs f64, NT f32 fori_loop)", row="gd_step", x64=False,
        data=save("gd", x=x_gd, y=y_gd, width=w_gd, lr=lr_gd, steps=steps), per=steps,
        nnqs=lambda: step.run(steps),
        limit_const=flops_step * steps / (2 * gdim ** 3 / t_gemm),
        limit_name="its FLOPs at the DGEMM rate"))
    # the float32 step against the same NT float32 fori_loop step; the limit is an SGEMM timed in the same rounds
    # and scaled to the step's GEMM-shaped FLOPs (forward and gradient GEMMs + read-out GEMVs)
    step32 = CPUReLUStep(p_gd, x_gd, y_gd, lr_gd, dtype=np.float32)
    step32.run(1)
    sa, sb = ga.astype(np.float32), gb.astype(np.float32)
    rows.append(dict(
        name=f"one GD step, N = {w_gd}, {n_gd} points, f32 (nnqs f32 {step32.kernel}, NT f32 fori_loop)",
        row="gd_step", x64=False, data=save("gd32", x=x_gd, y=y_gd, width=w_gd, lr=lr_gd, steps=steps), per=steps,
        nnqs=lambda: step32.run(steps), limit=lambda: sa @ sb, limit_scale=flops_step / (2 * gdim ** 3),
        limit_name="its FLOPs at the SGEMM rate (same rounds)"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test of the script)")
    ap.add_argument("--rows", default="", help="comma-separated row ids (e.g. predict50) or substrings of row names")
    ap.add_argument("--nt-venv", default="/work/venvs/nt")
    args = ap.parse_args()
    py = nt_python(Path(args.nt_venv))
    print(f"load average at start: {os.getloadavg()}; cores: {os.cpu_count()}", flush=True)
    workers = {True: Worker(py, True), False: Worker(py, False)}
    out = []
    try:
        with tempfile.TemporaryDirectory() as td:
            rows = make_rows(args.quick, Path(td))
            if args.rows:
                keys = args.rows.split(",")
                rows = [r for r in rows if any(k in r["name"] or k == r["row"] for k in keys)]
            for r in rows:
                if r["row"] is not None:
                    workers[r["x64"]].ask(op="prepare", row=r["row"], data=r["data"])
                first = r["nnqs"]()
                if r.get("check") is not None:
                    print(f"  [{r['row']}] {r['check'](first)}", flush=True)
                ts: dict[str, list[float]] = {"nnqs": [], "nt": [], "limit": [], "limit2": []}
                for _ in range(args.rounds):
                    ts["nnqs"].append(best_of(r["nnqs"]))
                    if r["row"] is not None:
                        ts["nt"].append(workers[r["x64"]].ask(op="time", row=r["row"])["t"])
                    if r.get("limit") is not None:
                        ts["limit"].append(best_of(r["limit"]))
                    if r.get("limit2") is not None:
                        ts["limit2"].append(best_of(r["limit2"]))
                per = r.get("per", 1)
                tn = min(ts["nnqs"]) / per
                tnt = min(ts["nt"]) / per if ts["nt"] else float("nan")
                tl = (min(ts["limit"]) * r.get("limit_scale", 1.0) if ts["limit"]
                      else r.get("limit_const", float("nan")) / per)
                nt_ms, nt_ratio = ((f"{tnt * 1e3:.1f} ms", f"{tnt / tn:.2f}×") if ts["nt"] else ("—", "—"))
                line = (f"| {r['name']} | {tn * 1e3:.1f} ms | {nt_ms} | {nt_ratio} | "
                        f"{tl / tn:.0%} of {r['limit_name']} |")
                if ts["limit2"]:
                    line = line[:-2] + f"; {min(ts['limit2']) / tn:.0%} of {r['limit2_name']} |"
                if np.isnan(tl):
                    line = line.replace("nan% of ", "")
                out.append(line)
                print(line, flush=True)
    finally:
        for w in workers.values():
            w.close()
    print(f"\nload average at end: {os.getloadavg()}; rounds: {args.rounds} (min of each column, interleaved)")
    print("| work | nnqs_fast | neural-tangents | NT / nnqs | nnqs vs the limit |\n|---|---|---|---|---|")
    print("\n".join(out))


if __name__ == "__main__":
    main()
