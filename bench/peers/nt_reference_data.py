"""Generate tests/interop/data/nt_reference.npz with neural-tangents 0.6.5 (run in a side environment, not pytest).

    python -m venv /work/venvs/nt
    /work/venvs/nt/bin/pip install neural-tangents==0.6.5 jax==0.4.23 jaxlib==0.4.23 numpy==1.26.4 scipy==1.12.0
    /work/venvs/nt/bin/python bench/peers/nt_reference_data.py

Stores the inputs (kernels from NT's own stax kernel_fn, targets, times) and NT's outputs of
``nt.predict.gradient_descent_mse``, ``gradient_descent_mse_ensemble`` and ``max_learning_rate``;
tests/interop/test_nt_compat.py replays them through ``nnqs_fast.nt``.
"""

from __future__ import annotations

import os
import sys

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402


def main(path: str) -> None:
    rng = np.random.default_rng(7)
    n, m, d, k = 9, 5, 4, 2
    x_train = rng.standard_normal((n, d))
    x_test = rng.standard_normal((m, d))
    y_train = rng.standard_normal((n, k))
    _, _, kernel_fn = stax.serial(stax.Dense(64, W_std=1.5, b_std=0.2), stax.Erf(), stax.Dense(1, W_std=1.2))
    kdd = kernel_fn(x_train, None, ("nngp", "ntk"))
    ktd = kernel_fn(x_test, x_train, ("nngp", "ntk"))
    ktt = kernel_fn(x_test, None, ("nngp", "ntk"))
    out = {"x_train": x_train, "x_test": x_test, "y_train": y_train,
           "nngp_dd": np.asarray(kdd.nngp), "ntk_dd": np.asarray(kdd.ntk), "nngp_td": np.asarray(ktd.nngp),
           "ntk_td": np.asarray(ktd.ntk), "nngp_tt": np.asarray(ktt.nngp), "ntk_tt": np.asarray(ktt.ntk)}
    ts = np.array([0.0, 0.3, 2.0, 17.0])
    lr, reg = 0.7, 1e-3
    fx0 = 0.1 * rng.standard_normal((n, k))
    ft0 = 0.1 * rng.standard_normal((m, k))
    out.update(ts=ts, lr=lr, reg=reg, fx_train_0=fx0, fx_test_0=ft0)
    K = out["ntk_dd"]
    for absolute in (False, True):
        tag = "abs" if absolute else "rel"
        p = nt.predict.gradient_descent_mse(K, y_train, learning_rate=lr, diag_reg=reg,
                                            diag_reg_absolute_scale=absolute)
        tr, te = p(ts, fx0, ft0, out["ntk_td"])
        out[f"gd_{tag}_train"], out[f"gd_{tag}_test"] = np.asarray(tr), np.asarray(te)
        tr_inf, te_inf = p(None, fx0, ft0, out["ntk_td"])
        out[f"gd_{tag}_train_inf"], out[f"gd_{tag}_test_inf"] = np.asarray(tr_inf), np.asarray(te_inf)
        out[f"gd_{tag}_train_only"] = np.asarray(p(ts[2], fx0))
    ens = nt.predict.gradient_descent_mse_ensemble(kernel_fn, x_train, y_train, learning_rate=lr, diag_reg=reg)
    for g in ("nngp", "ntk"):
        for label, t in (("t", ts), ("inf", None)):
            r = ens(t, x_test, g, compute_cov=True)
            out[f"ens_{g}_{label}_mean"], out[f"ens_{g}_{label}_cov"] = np.asarray(r.mean), np.asarray(r.covariance)
        r = ens(ts, None, g, compute_cov=True)
        out[f"ens_{g}_train_mean"], out[f"ens_{g}_train_cov"] = np.asarray(r.mean), np.asarray(r.covariance)
    out["lr_max"] = np.array(nt.predict.max_learning_rate(K))
    out["lr_max_size"] = np.array(nt.predict.max_learning_rate(K, y_train_size=y_train.size, momentum=0.5))
    out["nt_version"] = np.array(nt.__version__ if hasattr(nt, "__version__") else "0.6.5")
    out["jax_version"] = np.array(jax.__version__)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **out)
    os.replace(tmp, path)
    print("wrote", path, "keys:", len(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests",
                                                              "interop", "data", "nt_reference.npz"))
