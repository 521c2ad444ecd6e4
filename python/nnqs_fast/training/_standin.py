"""Private stand-ins for functions owned by other areas, used only until they are merged into main.

* :func:`relu_ntk` — the analytic (infinite-width) NNGP/NTK of a fully connected ReLU network in the NTK
  parameterisation (the arc-cosine kernel recursion, Cho & Saul 2009; Jacot et al. 2018), the same network as
  :mod:`nnqs_fast.networks.relu`. Owner: ``nnqs_fast.kernels.relu_kernel_fn``.
* :func:`max_learning_rate` — ``η_max = n / λ_max(Θ_train)`` (docs/CONVENTIONS.md). Owner:
  ``nnqs_fast.kernels.spectrum.max_learning_rate``.

:func:`analytic_ntk_fn` / :func:`max_lr_fn` prefer the owners' functions when they are importable.
"""

from __future__ import annotations

import numpy as np


def relu_ntk(x1: np.ndarray, x2: np.ndarray | None = None, *, depth: int = 1, W_std: float = 0.5,
             b_std: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(nngp, ntk)`` between the rows of ``x1`` (n1, d) and ``x2`` (n2, d) for a depth-``depth`` ReLU net."""
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = x1 if x2 is None else np.asarray(x2, dtype=np.float64)
    d = x1.shape[1]
    sw2, sb2 = W_std ** 2, b_std ** 2
    k = sw2 * (x1 @ x2.T) / d + sb2
    q1 = sw2 * np.einsum("ij,ij->i", x1, x1) / d + sb2
    q2 = sw2 * np.einsum("ij,ij->i", x2, x2) / d + sb2
    theta = k.copy()
    for _ in range(depth):
        norm = np.sqrt(np.outer(q1, q2))
        c = np.clip(k / norm, -1.0, 1.0)
        ang = np.arccos(c)
        e_relu = norm / (2 * np.pi) * (np.sin(ang) + (np.pi - ang) * c)
        e_dot = (np.pi - ang) / (2 * np.pi)
        k_new = sw2 * e_relu + sb2
        theta = k_new + sw2 * e_dot * theta
        k = k_new
        q1 = sw2 * q1 / 2 + sb2  # E[relu(u)^2] = q/2
        q2 = sw2 * q2 / 2 + sb2
    return k, theta


def lambda_max(k: np.ndarray) -> float:
    """Largest eigenvalue of a symmetric PSD matrix (Lanczos with a fixed start vector for large ones)."""
    n = k.shape[0]
    if n <= 600:
        return float(np.linalg.eigvalsh(k)[-1])
    from scipy.sparse.linalg import eigsh

    return float(eigsh(k, k=1, which="LA", v0=np.ones(n), tol=1e-10)[0][0])


def max_learning_rate(k_train_train: np.ndarray) -> float:
    """``η_max = n / λ_max`` for the loss ``(1/n) Σ e²`` (docs/CONVENTIONS.md)."""
    return k_train_train.shape[0] / lambda_max(k_train_train)


def analytic_ntk_train(x: np.ndarray, *, depth: int, W_std: float, b_std: float) -> np.ndarray:
    """The analytic NTK Gram matrix over ``x``: from nnqs_fast.kernels when available, else the stand-in."""
    try:
        from ..kernels import relu_kernel_fn  # type: ignore[attr-defined]
    except ImportError:
        return relu_ntk(x, depth=depth, W_std=W_std, b_std=b_std)[1]
    return np.asarray(relu_kernel_fn(depth=depth, W_std=W_std, b_std=b_std)(x, None, get="ntk", backend="cpu"))


def max_lr_of_gram(k_train_train: np.ndarray) -> float:
    try:
        from ..kernels.spectrum import max_learning_rate as owner  # type: ignore[import-not-found]
    except ImportError:
        return max_learning_rate(k_train_train)
    return float(owner(k_train_train))


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
    k_bb, th_bb = relu_ntk(x_tr, depth=depth, W_std=W_std, b_std=b_std)
    k_tb, th_tb = relu_ntk(x_te, x_tr, depth=depth, W_std=W_std, b_std=b_std)
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
