"""neural-tangents side of compare_nt.py (runs in the pinned NT venv; not part of the test run).

Protocol (one JSON object per line on stdin/stdout): ``{"op": "prepare", "row": name, "data": npz}`` builds the
row's jitted function and runs it once (compilation excluded from timings); ``{"op": "time", "row": name}``
times one call (``block_until_ready``) and answers ``{"t": seconds}``; ``{"op": "quit"}`` ends.
"""

from __future__ import annotations

import json
import sys
import time

X64 = "--x64" in sys.argv

import jax  # noqa: E402

jax.config.update("jax_enable_x64", X64)
import jax.numpy as jnp  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402
from neural_tangents import stax  # noqa: E402

W_STD, B_STD = 0.5, 0.1


def relu_net(depth: int, width: int = 512):
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std=W_STD, b_std=B_STD), stax.Relu()]
    return stax.serial(*layers, stax.Dense(1, W_std=W_STD, b_std=B_STD))


def build(row: str, d: dict):
    """A zero-argument callable doing the row's work and blocking until it is done."""
    if row.startswith("analytic"):
        depth = int(d["depth"])
        x = jnp.asarray(d["x"])
        kfn = jax.jit(relu_net(depth)[2], static_argnames="get")
        return lambda: jax.block_until_ready(kfn(x, None, get=("nngp", "ntk")))
    if row == "empirical":
        init_fn, apply_fn, _ = relu_net(1, int(d["width"]))
        x = jnp.asarray(d["x"], jnp.float32)
        _, params = init_fn(jax.random.PRNGKey(0), (-1, x.shape[1]))
        params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), params)
        efn = jax.jit(nt.empirical_ntk_fn(apply_fn, vmap_axes=0, implementation=nt.NtkImplementation.AUTO))
        return lambda: jax.block_until_ready(efn(x, None, params))
    if row in ("predict50", "predict_inf"):
        ktt, kxt, y = (jnp.asarray(d[k]) for k in ("ktt", "kxt", "y"))
        ts = jnp.asarray(d["times"]) if row == "predict50" else None
        lr = float(d["lr"])

        def run():
            pf = nt.predict.gradient_descent_mse(ktt, y[:, None], learning_rate=lr)
            return jax.block_until_ready(pf(ts, 0.0, 0.0, kxt))
        return run
    if row == "ensemble_inf":
        kfn = relu_net(1)[2]
        xtr, xte, y = jnp.asarray(d["xtr"]), jnp.asarray(d["xte"]), jnp.asarray(d["y"])

        def run_e():
            pf = nt.predict.gradient_descent_mse_ensemble(kfn, xtr, y[:, None], diag_reg=float(d["diag_reg"]))
            return jax.block_until_ready(pf(None, xte, "ntk", compute_cov=True))
        return run_e
    if row == "gd_step":
        init_fn, apply_fn, _ = relu_net(1, int(d["width"]))
        x, y = jnp.asarray(d["x"], jnp.float32), jnp.asarray(d["y"], jnp.float32)[:, None]
        _, params = init_fn(jax.random.PRNGKey(0), (-1, x.shape[1]))
        params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), params)
        lr, k = jnp.float32(float(d["lr"])), int(d["steps"])
        loss = lambda p: jnp.mean((apply_fn(p, x) - y) ** 2)  # noqa: E731
        grad = jax.grad(loss)

        @jax.jit
        def steps(p):
            return jax.lax.fori_loop(0, k, lambda i, q: jax.tree_util.tree_map(lambda a, g: a - lr * g, q, grad(q)), p)
        return lambda: jax.block_until_ready(steps(params))
    raise ValueError(row)


def main() -> None:
    reply, sys.stdout = sys.stdout, sys.stderr      # library prints go to stderr; replies alone to stdout
    fns: dict = {}
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["op"] == "quit":
            break
        if msg["op"] == "prepare":
            d = dict(np.load(msg["data"]))
            fns[msg["row"]] = build(msg["row"], d)
            fns[msg["row"]]()
            print(json.dumps({"ok": True}), file=reply, flush=True)
        elif msg["op"] == "time":
            t0 = time.perf_counter()
            fns[msg["row"]]()
            print(json.dumps({"t": time.perf_counter() - t0}), file=reply, flush=True)


if __name__ == "__main__":
    main()
