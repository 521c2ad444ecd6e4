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
  ``optax.sgd(eta)``; ``eta = f eta_max(0)`` (FFN: ``--lr-fraction``, default 0.5; RBM: ``--rbm-lr-fraction``,
  default 0.04), ``eta_max(0) = n / lambda_max`` from the package's ``qsntk_eta_max`` of the QS-NTK at
  initialisation. The RBM's QS-NTK grows up to ~12x during training (its hidden units start switched off under
  NetKet's N(0, 0.01^2) init), so ``eta_max(0)`` does not bound its trajectory: 0.04 = 0.5 / 12 (docs/interop.md);
* kernel drift: the real model's empirical QS-NTK at every recorded step (``kernel_change``, ``kernel_growth``,
  ``stability_number``); a diverging run is stopped and reported (``diverged_at``);
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
    """Predict and train one model; returns the curves, the prediction errors and the kernel drift.

    ``eta = lr_fraction * eta_max(0)``. Along the real training the empirical QS-NTK is recomputed at every recorded
    step: ``kernel_change = ||Omega_RI(t) - Omega_RI(0)||_F / ||Omega_RI(0)||_F`` (the lazy-training diagnostic),
    ``kernel_growth = lambda_max(t) / lambda_max(0)`` and the stability number ``s(t) = 2 eta lambda_max(t) / n``
    (discrete GD on the local linearisation is stable iff ``s < 2``; ``s(0) = 2 lr_fraction``). A run whose loss
    stops being finite is stopped and reported (``diverged_at``), never left as NaN rows.
    """
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

    kfn = empirical_qsntk_fn(apply, output=output, holomorphic=holo)
    t0 = time.perf_counter()
    k = kfn(x, None, params)
    t_kernel = time.perf_counter() - t0
    eta_max0 = qsntk_eta_max(k)
    eta = lr_fraction * eta_max0
    f = psi_fn(apply, output)
    psi0 = np.asarray(f(params, x))
    pred = qsntk_mse_predictor(k, psi_t, eta, discrete=True)(np.asarray(record), fx_train_0=psi0)

    rs = RealSplit(params)
    y = jnp.asarray(psi_t)

    def train(fun: Any, drift: bool) -> tuple[np.ndarray, list[float], int | None]:
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
        out, growth, moved, done, diverged = [], [], [], 0, None
        for tr in record:
            while done < tr and diverged is None:
                r, state = step(r, state)
                done += 1
                if not np.isfinite(float(loss(r))):
                    diverged = done
            if diverged is not None:
                out.append(np.full(n, np.nan + 0j))
                growth.append(float("nan"))
                moved.append(float("nan"))
                continue
            out.append(np.asarray(fun(rs.merge(r), x)))
            if drift:  # the real model's QS-NTK at this step, relative to t = 0
                kt = kfn(x, None, rs.merge(r))
                growth.append(eta_max0 / qsntk_eta_max(kt))
                moved.append(float(np.linalg.norm(kt.omega_ri - k.omega_ri) / np.linalg.norm(k.omega_ri)))
        return np.stack(out), growth, moved, diverged

    t0 = time.perf_counter()
    real, growth, moved, diverged = train(f, True)
    lin, _, _, _ = train(linearize(apply, params, output=output), False)
    t_train = time.perf_counter() - t0
    scale = float(np.linalg.norm(psi_t))
    err = np.linalg.norm(real - pred, axis=1) / scale
    lin_err = np.linalg.norm(lin - pred, axis=1) / scale
    stab = [2.0 * lr_fraction * g for g in growth]  # s(t) = 2 eta lambda_max(t) / n
    return {"model": kind, "width": int(width), "n_hidden": int(width * x.shape[1]) if kind == "rbm" else int(width),
            "n_real_parameters": int(rs.n_real), "lr_fraction": float(lr_fraction), "eta_max_init": float(eta_max0),
            "eta": float(eta), "steps": record, "diverged_at": diverged,
            "prediction_error": err.tolist(), "max_prediction_error": float(np.max(err)),
            "linearised_vs_prediction": float(lin_err.max()),
            "kernel_growth": growth, "max_kernel_growth": float(np.max(growth)), "stability_number": stab,
            "kernel_change": moved, "max_kernel_change": float(np.max(moved)),
            "loss_predicted": (np.mean(np.abs(pred - psi_t) ** 2, axis=1)).tolist(),
            "loss_trained": (np.mean(np.abs(real - psi_t) ** 2, axis=1)).tolist(),
            "seconds_kernel": t_kernel, "seconds_training": t_train}


def run(lx: int = 3, ly: int = 3, steps: int = 200, rbm_alphas: tuple[int, ...] = (1, 4, 16),
        ffn_widths: tuple[int, ...] = (16, 64, 256, 1024), seed: int = 0, lr_fraction: float = 0.5,
        rbm_lr_fraction: float = 0.04) -> dict[str, Any]:
    _, _, _, nk, _ = _imports()
    from nnqs_fast import make_target
    target = make_target("tfim", lx=lx, ly=ly)
    hilbert = nk.hilbert.Spin(0.5, lx * ly)
    record = sorted({0, steps // 10, steps // 4, steps // 2, steps})
    rows = [run_one("rbm", a, target, hilbert, steps, record, seed, rbm_lr_fraction) for a in rbm_alphas]
    rows += [run_one("ffn", w, target, hilbert, steps, record, seed, lr_fraction) for w in ffn_widths]
    return {"config": {"lx": lx, "ly": ly, "steps": steps, "seed": seed, "target": target.config,
                       "loss": "(1/n) sum |psi_T - psi|^2 over all n basis states, psi_T scaled to sum |psi_T|^2 = n",
                       "optimizer": "optax.sgd(eta) on real parameters (complex leaves split Re/Im)",
                       "learning_rate": f"FFN {lr_fraction}, RBM {rbm_lr_fraction} times eta_max(0) = n / lambda_max "
                                        "(nnqs_fast.qsntk_eta_max of the QS-NTK at init)",
                       "kernel_growth": "lambda_max(QS-NTK of the real model at t) / lambda_max(at t = 0); stability "
                                        "number s = 2 eta lambda_max(t) / n (stable iff < 2)",
                       "basis": "nnqs_fast order; NetKet models see the mapped NetKet configurations"},
            "results": rows}


def plot(res: dict[str, Any], path: str) -> None:
    """Two panels against the number of hidden units: (a) the deviation ``||psi_trained - psi_predicted|| /
    ||psi_T||`` at each recorded step (one line per step), (b) the QS-NTK growth ``max_t lambda_max(t) /
    lambda_max(0)`` of the real model; RBM (alpha N hidden units) and FFN (width) side by side."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    for kind, mk in (("rbm", "s"), ("ffn", "o")):
        rows = [r for r in res["results"] if r["model"] == kind]
        if not rows:
            continue
        h = [r["n_hidden"] for r in rows]
        for j, s in enumerate(rows[0]["steps"]):
            if s == 0:
                continue
            ax[0].plot(h, [r["prediction_error"][j] for r in rows], marker=mk, ls="-" if kind == "ffn" else "--",
                       color=plt.cm.viridis(j / len(rows[0]["steps"])), label=f"{kind.upper()} t={s}")
        ax[1].plot(h, [r["max_kernel_change"] for r in rows], marker=mk, label=kind.upper())
    ax[0].set(xscale="log", yscale="log", xlabel="hidden units", ylabel="||psi_real - psi_pred|| / ||psi_T||")
    ax[1].set(xscale="log", yscale="log", xlabel="hidden units", ylabel="max_t ||K(t) - K(0)||_F / ||K(0)||_F")
    ax[0].legend(fontsize=6, ncol=2)
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lx", type=int, default=3)
    ap.add_argument("--ly", type=int, default=3)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rbm-alphas", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--ffn-widths", type=int, nargs="+", default=[16, 64, 256, 1024])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr-fraction", type=float, default=0.5, help="FFN: eta = fraction * eta_max(0)")
    ap.add_argument("--rbm-lr-fraction", type=float, default=0.04,
                    help="RBM: eta = fraction * eta_max(0); its QS-NTK grows up to ~12x in training (docs/interop.md)")
    ap.add_argument("--out", default=None, help="directory for results (JSON + NPZ via nnqs_fast.experiments.io)")
    a = ap.parse_args()
    res = run(a.lx, a.ly, a.steps, tuple(a.rbm_alphas), tuple(a.ffn_widths), a.seed, a.lr_fraction,
              a.rbm_lr_fraction)
    steps = res["results"][0]["steps"][1:]
    print(f"{'model':5} {'width':>6} {'P_real':>8} {'eta':>9} " + " ".join(f"{'err t=' + str(s):>10}" for s in steps)
          + f" {'lin-vs-pred':>11} {'dK/K':>6} {'growth':>7} {'max s':>6} {'loss pred':>10} {'loss real':>10}")
    for r in res["results"]:
        errs = " ".join(f"{e:10.3g}" for e in r["prediction_error"][1:])
        print(f"{r['model']:5} {r['width']:6d} {r['n_real_parameters']:8d} {r['eta']:9.3g} {errs} "
              f"{r['linearised_vs_prediction']:11.2g} {r['max_kernel_change']:6.3g} {r['max_kernel_growth']:7.3g} "
              f"{max(r['stability_number']):6.3g} "
              f"{r['loss_predicted'][-1]:10.4g} {r['loss_trained'][-1]:10.4g}"
              + (f"  DIVERGED at step {r['diverged_at']}" if r["diverged_at"] else ""))
    if a.out:
        import os

        from nnqs_fast.experiments.io import save_results
        os.makedirs(a.out, exist_ok=True)
        plot(res, os.path.join(a.out, "netket_predicted_training.png"))
        save_results(a.out, "netket_predicted_training", config=res["config"], results={"results": res["results"]},
                     seed=a.seed)
    else:
        print(json.dumps(res["config"], indent=1, default=str))


if __name__ == "__main__":
    main()
