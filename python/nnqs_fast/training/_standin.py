"""Private stand-in for the QS-NTK loss curves, used by the Fig. 2/3 reproductions only until
``nnqs_fast.experiments.predict_curves`` (branch ``dynamics``) is merged; then this module is deleted.
"""

from __future__ import annotations

import numpy as np


def split_basis(dim: int, train_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random split into sorted train/test indices (same rule as experiments.predict_curves)."""
    from .._random import rng

    perm = rng(seed).permutation(dim)
    return np.sort(perm[:train_size]), np.sort(perm[train_size:])


def qsntk_curves(x_tr, y_tr, x_te, y_te, lr: float, steps, *, depth: int = 1, W_std: float = 0.5,
                 b_std: float = 0.1, discrete: bool = False) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Infinite-ensemble QS-NTK losses (Eqs. 14–18, decoupled ψ1/ψ2 sharing one kernel, continuous time in steps):
    ``L_mu``, ``L_gamma``, ``L_psi = L_mu + L_gamma`` on train and test at ``steps``, and their τ → ∞ limits
    (keys ``..._inf``). ``discrete``: the gradient-descent map ``(1 − cλ)^t`` instead of ``exp(−cλt)``. Owner: experiments.predict_curves (branch dynamics); this is the stand-in until it lands.
    """
    x_tr, x_te = np.asarray(x_tr, float), np.asarray(x_te, float)
    y_tr, y_te = np.asarray(y_tr, complex), np.asarray(y_te, complex)
    n, nt = x_tr.shape[0], x_te.shape[0]
    from ..kernels import relu_kernel_fn

    kfn = relu_kernel_fn(depth=depth, W_std=W_std, b_std=b_std)
    k_bb, th_bb = (np.asarray(a) for a in kfn(x_tr, None, get=("nngp", "ntk"), backend="cpu"))
    k_tb, th_tb = (np.asarray(a) for a in kfn(x_te, x_tr, get=("nngp", "ntk"), backend="cpu"))
    q = W_std ** 2 * np.einsum("ij,ij->i", x_te, x_te) / x_te.shape[1] + b_std ** 2
    for _ in range(depth):
        q = W_std ** 2 * q / 2 + b_std ** 2
    tr_k_tt = float(q.sum())  # NNGP diagonal: K(x,x) = σw² q/2 + σb² per hidden layer
    lam, V = np.linalg.eigh(th_bb)
    lam = np.maximum(lam, lam[-1] * 1e-14)
    yt = V.T @ y_tr
    kt = V.T @ k_bb @ V
    U = th_tb @ V
    W = k_tb @ V
    s1 = np.einsum("xi,xi->i", U, W)
    M = kt * (U.T @ U)
    c = 2.0 * lr / n

    def losses(t):
        if t is None:
            D = np.zeros_like(lam)
        elif discrete:
            D = (1.0 - c * lam) ** t
        else:
            D = np.exp(-c * lam * t)
        g = (1.0 - D) / lam
        mu_tr = float(np.sum(D ** 2 * np.abs(yt) ** 2) / n)
        mu_te = float(np.mean(np.abs(U @ (g * yt) - y_te) ** 2))
        ga_tr = float(2.0 * np.sum(D ** 2 * np.diag(kt)) / n)
        ga_te = float(2.0 * (tr_k_tt - 2.0 * g @ s1 + g @ M @ g) / nt)
        return {"L_mu_train": mu_tr, "L_mu_test": mu_te, "L_gamma_train": ga_tr, "L_gamma_test": ga_te,
                "L_psi_train": mu_tr + ga_tr, "L_psi_test": mu_te + ga_te}

    rows = [losses(float(t)) for t in np.asarray(steps, float)]
    curves = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    limits = {f"{k}_inf": v for k, v in losses(None).items()}
    return curves, limits
