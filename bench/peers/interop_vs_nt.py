"""Side-by-side: nnqs_fast's empirical_qsntk_fn vs neural-tangents' empirical_ntk_fn on the same model (not pytest).

Model: the FFN of bench/test_bench_interop.py (``psi = v . log cosh(W x + b) + c``, complex parameters, width
1024) on all 4096 states of the 3x4 lattice. neural-tangents 0.6.5 needs jax 0.4.23 (NetKet needs a newer JAX),
so its role runs in the NT venv on the same function written in plain JAX over the same parameter values,
split into real parameters (NT's kernel over real parameters with outputs [Re psi, Im psi] and
``trace_axes=()`` is exactly Omega_RI). A third role runs neural-tangents' algorithm (vmap'd per-leaf Jacobians,
then contraction) in the interop venv. Each measurement is a fresh subprocess (peak RSS isolated), roles are
interleaved, and results are compared for equality (Theta1, Theta2, mixing).

    python bench/peers/interop_vs_nt.py --width 1024 --lx 3 --ly 4 --reps 2 \
        --ours-python /work/venvs/interop/bin/python --nt-python /work/venvs/nt/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def states(L: int) -> np.ndarray:
    return 2.0 * ((np.arange(2 ** L)[:, None] >> np.arange(L)[None, :]) & 1) - 1.0


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_params(path: str, L: int, width: int) -> None:
    """Initialise the flax FFN (interop venv) and store its parameters as plain arrays."""
    sys.path.insert(0, os.path.join(REPO, "python"))
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import jax
    jax.config.update("jax_enable_x64", True)
    from test_bench_interop import FFN
    p = FFN(width).init(jax.random.PRNGKey(0), states(L)[:1])["params"]
    np.savez(path, W=np.asarray(p["Dense_0"]["kernel"]), b=np.asarray(p["Dense_0"]["bias"]),
             v=np.asarray(p["Dense_1"]["kernel"]), c=np.asarray(p["Dense_1"]["bias"]))


def role_ours(params_path: str, L: int, out: str, chunk: int | None) -> dict:
    sys.path.insert(0, os.path.join(REPO, "python"))
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from nnqs_fast.interop.jax import empirical_qsntk_fn
    from test_bench_interop import FFN
    d = np.load(params_path)
    params = {"Dense_0": {"kernel": jnp.asarray(d["W"]), "bias": jnp.asarray(d["b"])},
              "Dense_1": {"kernel": jnp.asarray(d["v"]), "bias": jnp.asarray(d["c"])}}
    model = FFN(d["W"].shape[1])
    x = jnp.asarray(states(L))
    base = rss_mib()
    fn = empirical_qsntk_fn(lambda p, xs: model.apply({"params": p}, xs), chunk_size=chunk)
    t0 = time.perf_counter()
    k = fn(x, None, params)
    dt = time.perf_counter() - t0
    np.savez(out, t1=k.theta1[:64, :64], t2=k.theta2[:64, :64], m=k.mixing[:64, :64])
    return {"seconds": dt, "peak_rss_mib": rss_mib(), "rss_before_mib": base, "chunk": k.meta["chunk_size"]}


def _plain_ffn(jnp):  # the same function in plain JAX over real parameters
    def f(p, x):
        W = p["W_re"] + 1j * p["W_im"]
        b = p["b_re"] + 1j * p["b_im"]
        v = p["v_re"] + 1j * p["v_im"]
        c = p["c_re"] + 1j * p["c_im"]
        h = jnp.log(jnp.cosh(x @ W + b))
        psi = (h @ v)[..., 0] + c[0]
        return jnp.stack([psi.real, psi.imag], axis=-1)
    return f


def _real_params(d, jnp):
    return {f"{k}_{part[:2]}": jnp.asarray(getattr(d[k], part))
            for k in ("W", "b", "v", "c") for part in ("real", "imag")}


def role_nt(params_path: str, L: int, out: str) -> dict:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import neural_tangents as nt
    d = np.load(params_path)
    p = _real_params(d, jnp)
    x = jnp.asarray(states(L))
    base = rss_mib()
    fn = nt.empirical_ntk_fn(_plain_ffn(jnp), trace_axes=(), vmap_axes=0)
    t0 = time.perf_counter()
    k = np.asarray(fn(x, None, p))  # (n, n, 2, 2)
    dt = time.perf_counter() - t0
    np.savez(out, t1=k[:64, :64, 0, 0], t2=k[:64, :64, 1, 1], m=k[:64, :64, 0, 1])
    return {"seconds": dt, "peak_rss_mib": rss_mib(), "rss_before_mib": base,
            "nt_version": getattr(nt, "__version__", "0.6.5"), "jax_version": jax.__version__}


def role_ntalgo(params_path: str, L: int, out: str) -> dict:
    """neural-tangents' jacobian-contraction algorithm, written out in the interop venv's JAX."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    d = np.load(params_path)
    p = _real_params(d, jnp)
    x = jnp.asarray(states(L))
    f = _plain_ffn(jnp)
    base = rss_mib()

    @jax.jit
    def kernel(p, x):
        J = jax.vmap(jax.jacrev(lambda q, xi: f(q, xi[None])[0]), in_axes=(None, 0))(p, x)  # leaves (n, 2, *s)
        return sum(jnp.einsum("iaP,jbP->ijab", j.reshape(j.shape[0], 2, -1), j.reshape(j.shape[0], 2, -1))
                   for j in jax.tree_util.tree_leaves(J))
    t0 = time.perf_counter()
    k = np.asarray(kernel(p, x))
    dt = time.perf_counter() - t0
    np.savez(out, t1=k[:64, :64, 0, 0], t2=k[:64, :64, 1, 1], m=k[:64, :64, 0, 1])
    return {"seconds": dt, "peak_rss_mib": rss_mib(), "rss_before_mib": base}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", default="driver", choices=["driver", "ours", "nt", "ntalgo", "params"])
    ap.add_argument("--lx", type=int, default=3)
    ap.add_argument("--ly", type=int, default=4)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--params", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--ours-python", default=sys.executable)
    ap.add_argument("--nt-python", default="/work/venvs/nt/bin/python")
    ap.add_argument("--roles", nargs="+", default=["ours", "nt", "ntalgo"])
    a = ap.parse_args()
    L = a.lx * a.ly
    if a.role == "params":
        make_params(a.params, L, a.width)
        return
    if a.role != "driver":
        res = {"ours": lambda: role_ours(a.params, L, a.out, a.chunk), "nt": lambda: role_nt(a.params, L, a.out),
               "ntalgo": lambda: role_ntalgo(a.params, L, a.out)}[a.role]()
        print("RESULT " + json.dumps(res))
        return
    tmp = tempfile.mkdtemp(prefix="interop_vs_nt_")
    ppath = os.path.join(tmp, "params.npz")
    subprocess.run([a.ours_python, __file__, "--role", "params", "--params", ppath, "--lx", str(a.lx), "--ly",
                    str(a.ly), "--width", str(a.width)], check=True)
    rows = []
    for rep in range(a.reps):
        for role in a.roles:
            py = a.nt_python if role == "nt" else a.ours_python
            out = os.path.join(tmp, f"{role}.npz")
            cmd = [py, __file__, "--role", role, "--params", ppath, "--out", out, "--lx", str(a.lx), "--ly",
                   str(a.ly)] + (["--chunk", str(a.chunk)] if a.chunk and role == "ours" else [])
            r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                               check=False)
            line = [s for s in r.stdout.splitlines() if s.startswith("RESULT ")]
            if not line:
                print(role, "failed:", r.stderr[-2000:])
                continue
            res = json.loads(line[0][7:])
            res.update(role=role, rep=rep)
            rows.append(res)
            print(json.dumps(res), flush=True)
    ref = np.load(os.path.join(tmp, "ours.npz"))
    for role in a.roles[1:]:
        p = os.path.join(tmp, f"{role}.npz")
        if os.path.exists(p):
            o = np.load(p)
            err = max(float(np.max(np.abs(ref[k] - o[k]))) for k in ("t1", "t2", "m"))
            err /= float(np.max(np.abs(ref["t1"])))
            print(f"max relative difference ours vs {role} (64x64 corner of Theta1, Theta2, mixing): {err:.2e}")
    for role in a.roles:
        ts = [r["seconds"] for r in rows if r["role"] == role]
        mem = [r["peak_rss_mib"] - r["rss_before_mib"] for r in rows if r["role"] == role]
        if ts:
            print(f"{role:7s} best {min(ts):8.2f} s  (all {', '.join(f'{t:.2f}' for t in ts)});  "
                  f"peak RSS growth {max(mem):8.0f} MiB")


if __name__ == "__main__":
    main()
