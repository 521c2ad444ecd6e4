"""Worked example (docs/interop.md): predict the supervised training of NetKet models from their QS-NTK at
initialisation, then train the real models and compare, across widths.

    PYTHONPATH=python python examples/netket_predicted_training.py --lx 3 --ly 3 --steps 200 --out results/

Setup (every convention stated):
* target: the paper's TFIM quench target (Eq. 19, ``make_target("tfim")``) on ``lx x ly``, mapped to NetKet's
  basis order, scaled to unit mean-square amplitude (``sum |psi_T|^2 = n``); train set = all ``n`` basis states;
* models: NetKet's ``RBM(alpha, param_dtype=complex)`` (outputs ``log psi``, holomorphic) and an FFN
  ``psi = Dense_1(log_cosh(Dense_width(x)))`` with complex parameters (outputs ``psi``), flax/NetKet style;
* loss: the package's ``L = (1/n) sum_x |psi_T(x) - psi(x)|^2``; plain gradient descent
  ``theta <- theta - eta dL/dtheta`` over the REAL parameters (complex leaves split into Re and Im) with
  ``optax.sgd(eta)``; ``eta = f eta_max`` (``--lr-fraction f``, default 0.5),
  ``eta_max = n / lambda_max`` from the package's ``qsntk_eta_max`` of the QS-NTK at initialisation;
* prediction: ``nnqs_fast.qsntk_mse_predictor(qsntk, psi_T, eta, discrete=True)(t, fx_train_0=psi(0))``, exact
  for the linearised model (checked: training ``linearize(model)`` with the same optimiser reproduces it);
* error: ``max_t ||psi_trained(t) - psi_predicted(t)|| / ||psi_T||`` over the recorded steps.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np


def _imports() -> tuple[Any, ...]:
    import jax
    jax.config.update("jax_enable_x64", True)
    import flax.linen as nn
    import jax.numpy as jnp
    import netket as nk
    import optax
    return jax, jnp, nn, nk, optax


def make_ffn(width: int) -> Any:
    jax, jnp, nn, _, _ = _imports()

    class FFN(nn.Module):
        """``psi(x) = v . log_cosh(W x + b) + c``, complex parameters, standard parametrisation."""

        width: int

        @nn.compact
        def __call__(self, x: Any) -> Any:
            d = x.shape[-1]
            h = nn.Dense(self.width, param_dtype=complex,
                         kernel_init=jax.nn.initializers.normal(1.0 / np.sqrt(d)))(x)
            h = jnp.log(jnp.cosh(h))
            out = nn.Dense(1, param_dtype=complex, kernel_init=jax.nn.initializers.normal(1.0 / np.sqrt(self.width)))(h)
            return out[..., 0]

    return FFN(width)


def run_one(kind: str, width: int, target: Any, hilbert: Any, steps: int, record: list[int], seed: int = 0,
            lr_fraction: float = 0.5) -> dict[str, Any]:
    """Predict and train one model; returns the curves and the prediction errors."""
    jax, jnp, _, nk, optax = _imports()
    from nnqs_fast import qsntk_eta_max, qsntk_mse_predictor
    from nnqs_fast.interop.jax import RealSplit, empirical_qsntk_fn, linearize, psi_fn
    from nnqs_fast.netket import basis_map

    index, _ = basis_map(target, hilbert)  # spins: every sign is +1
    x = jnp.asarray(np.asarray(hilbert.all_states(), dtype=np.float64)[index])  # rows in the target's order
    n = int(x.shape[0])
    psi_t = np.asarray(target.psi) * np.sqrt(n)  # unit mean-square amplitude
    if kind == "rbm":
        model = nk.models.RBM(alpha=width, param_dtype=complex)
        output, holo = "log_psi", True
    else:
        model = make_ffn(width)
        output, holo = "psi", False
    params = model.init(jax.random.PRNGKey(seed), x[:1])["params"]

    def apply(p: Any, xs: Any) -> Any:
        return model.apply({"params": p}, xs)

    t0 = time.perf_counter()
    k = empirical_qsntk_fn(apply, output=output, holomorphic=holo)(x, None, params)
    t_kernel = time.perf_counter() - t0
    eta = lr_fraction * qsntk_eta_max(k)
    f = psi_fn(apply, output)
    psi0 = np.asarray(f(params, x))
    pred = qsntk_mse_predictor(k, psi_t, eta, discrete=True)(np.asarray(record), fx_train_0=psi0)

    rs = RealSplit(params)
    y = jnp.asarray(psi_t)

    def train(fun: Any) -> np.ndarray:
        def loss(r: Any) -> Any:
            return jnp.mean(jnp.abs(y - fun(rs.merge(r), x)) ** 2)
        opt = optax.sgd(eta)
        r = rs.split(params)
        state = opt.init(r)

        @jax.jit
        def step(r: Any, state: Any) -> tuple[Any, Any]:
            g = jax.grad(loss)(r)
            upd, state = opt.update(g, state, r)
            return optax.apply_updates(r, upd), state
        out, done = [], 0
        for tr in record:
            while done < tr:
                r, state = step(r, state)
                done += 1
            out.append(np.asarray(fun(rs.merge(r), x)))
        return np.stack(out)

    t0 = time.perf_counter()
    real = train(f)
    lin = train(linearize(apply, params, output=output))
    t_train = time.perf_counter() - t0
    scale = float(np.linalg.norm(psi_t))
    err = np.linalg.norm(real - pred, axis=1) / scale
    lin_err = np.linalg.norm(lin - pred, axis=1) / scale
    return {"model": kind, "width": int(width), "n_hidden": int(width * x.shape[1]) if kind == "rbm" else int(width),
            "n_real_parameters": int(rs.n_real), "eta": float(eta), "steps": record,
            "prediction_error": err.tolist(), "max_prediction_error": float(err.max()),
            "linearised_vs_prediction": float(lin_err.max()),
            "loss_predicted": (np.mean(np.abs(pred - psi_t) ** 2, axis=1)).tolist(),
            "loss_trained": (np.mean(np.abs(real - psi_t) ** 2, axis=1)).tolist(),
            "seconds_kernel": t_kernel, "seconds_training": t_train}


def run(lx: int = 3, ly: int = 3, steps: int = 200, rbm_alphas: tuple[int, ...] = (1, 4, 16),
        ffn_widths: tuple[int, ...] = (16, 64, 256, 1024), seed: int = 0, lr_fraction: float = 0.5
        ) -> dict[str, Any]:
    _, _, _, nk, _ = _imports()
    from nnqs_fast import make_target
    target = make_target("tfim", lx=lx, ly=ly)
    hilbert = nk.hilbert.Spin(0.5, lx * ly)
    record = sorted({0, steps // 10, steps // 4, steps // 2, steps})
    rows = [run_one("rbm", a, target, hilbert, steps, record, seed, lr_fraction) for a in rbm_alphas]
    rows += [run_one("ffn", w, target, hilbert, steps, record, seed, lr_fraction) for w in ffn_widths]
    return {"config": {"lx": lx, "ly": ly, "steps": steps, "seed": seed, "target": target.config,
                       "loss": "(1/n) sum |psi_T - psi|^2 over all n basis states, psi_T scaled to sum |psi_T|^2 = n",
                       "optimizer": "optax.sgd(eta) on real parameters (complex leaves split Re/Im)",
                       "learning_rate": f"{lr_fraction} * n / lambda_max (nnqs_fast.qsntk_eta_max of the QS-NTK "
                                        "at init)",
                       "basis": "nnqs_fast order; NetKet models see the mapped NetKet configurations"},
            "results": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lx", type=int, default=3)
    ap.add_argument("--ly", type=int, default=3)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rbm-alphas", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--ffn-widths", type=int, nargs="+", default=[16, 64, 256, 1024])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr-fraction", type=float, default=0.5, help="eta = fraction * eta_max")
    ap.add_argument("--out", default=None, help="directory for results (JSON + NPZ via nnqs_fast.experiments.io)")
    a = ap.parse_args()
    res = run(a.lx, a.ly, a.steps, tuple(a.rbm_alphas), tuple(a.ffn_widths), a.seed, a.lr_fraction)
    print(f"{'model':5} {'width':>6} {'P_real':>8} {'eta':>10} {'max err':>10} {'lin-vs-pred':>11} "
          f"{'loss pred':>10} {'loss real':>10}")
    for r in res["results"]:
        print(f"{r['model']:5} {r['width']:6d} {r['n_real_parameters']:8d} {r['eta']:10.3g} "
              f"{r['max_prediction_error']:10.3g} {r['linearised_vs_prediction']:11.2g} "
              f"{r['loss_predicted'][-1]:10.4g} {r['loss_trained'][-1]:10.4g}")
    if a.out:
        from nnqs_fast.experiments.io import save_results
        save_results(a.out, "netket_predicted_training", config=res["config"], results={"results": res["results"]},
                     seed=a.seed)
    else:
        print(json.dumps(res["config"], indent=1, default=str))


if __name__ == "__main__":
    main()
