"""The fuzz suite's cases: every public function (``nnqs_fast.__all__``) and every CLI subcommand.

Each group is a small valid baseline call plus one-argument-at-a-time variations drawn from pools of hostile but
realistic values (zero, negative, huge, NaN, inf, wrong type, wrong dtype, wrong shape, ...). Every result that
comes back is checked against the function's invariant or oracle (entropies in [0, log dim], purities in
[1/dim, 1], losses >= 0, symmetric PSD kernels, normalised states, finite outputs). Cases are built
deterministically (the same ids in the test process and in the worker subprocess).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from fuzz_harness import Case, Check, all_of, close_to, in_range

#: step counts: huge but legitimate counts (10**9 steps) are long computations, not defects, and are left out
STEPS_POOL: list[Any] = [0, -1, 1, 2**63, 10**200, 1.5, 2.0, True, None, "3", np.int64(2), math.nan]
INT_POOL: list[Any] = [0, -1, 1, 2**31, 2**63, 10**9, 10**200, 1.5, 2.0, True, None, "3", np.int64(2), math.nan]
FLOAT_POOL: list[Any] = [0.0, -1.0, 1e-300, 1e300, 1e200, math.nan, math.inf, -math.inf, "x", None, True, 1j]
STR_POOL: list[Any] = ["", "bogus", "VN", "renyi-2", None, 3, "cpu", "auto", "cuda"]
BACKENDS: list[Any] = ["auto", "cpu", "CPU", "cuda", "gpu", "", None, 0]
SEED_POOL: list[Any] = [0, -1, 2**64, 1.5, None, "s", np.uint64(3)]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@cache
def _psi(n_sites: int = 6, seed: int = 0) -> np.ndarray:
    r = _rng(seed)
    v = r.normal(size=2**n_sites) + 1j * r.normal(size=2**n_sites)
    return v / np.linalg.norm(v)


@cache
def _x(n: int = 8, d: int = 4, seed: int = 0) -> np.ndarray:
    return np.sign(_rng(seed).normal(size=(n, d)))


@cache
def _K(n: int = 8) -> np.ndarray:
    x = _rng(1).normal(size=(n, n + 2))
    return x @ x.T / n + 0.1 * np.eye(n)


def array_pool(good: np.ndarray) -> list[tuple[str, Any]]:
    """Hostile variants of a valid array argument."""
    out: list[tuple[str, Any]] = [("good", good)]
    g = np.asarray(good)
    out.append(("empty", np.zeros((0,) * g.ndim)))
    out.append(("0d", np.float64(1.0)))
    out.append(("3d", np.zeros((2, 2, 2))))
    if g.dtype.kind in "fc" and g.size:
        a = g.copy()
        a.flat[0] = np.nan
        out.append(("nan", a))
        b = g.copy()
        b.flat[-1] = np.inf
        out.append(("inf", b))
        out.append(("huge", g * 1e300))
        out.append(("int", g.real.astype(np.int64)))
        out.append(("complex", g.astype(complex) + 0.5j))
        out.append(("float32", g.astype(np.complex64 if g.dtype.kind == "c" else np.float32)))
    out.append(("transpose", g.T if g.ndim == 2 else g[::-1]))
    out.append(("strings", np.array(["a"] * max(1, g.size)).reshape(g.shape) if g.size else np.array(["a"])))
    out.append(("list", g.tolist()))
    out.append(("None", None))
    out.append(("object", np.array([object()] * max(1, min(g.size, 4)), dtype=object)))
    return out


# ------------------------------------------------------------------------------------------------- checks
def finite_check(v: Any) -> str | None:
    return None  # the harness checks finiteness of every result


def entropy_range(dim: float) -> Check:
    return in_range(0.0, math.log(dim), name="entropy", tol=1e-7)


def symmetric_psd(v: Any) -> str | None:
    k = np.asarray(getattr(v, "ntk", v) if not isinstance(v, np.ndarray) else v)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        return None
    if not np.all(np.isfinite(k)):
        return None
    if np.iscomplexobj(k):
        if not np.allclose(k, k.conj().T, atol=1e-8 * max(1.0, float(np.abs(k).max(initial=0)))):
            return "kernel is not Hermitian"
    elif not np.allclose(k, k.T, atol=1e-8 * max(1.0, float(np.abs(k).max(initial=0)))):
        return "kernel is not symmetric"
    lam = np.linalg.eigvalsh(k)
    if lam.size and lam[0] < -1e-7 * max(1.0, abs(lam[-1])):
        return f"kernel is not PSD (lambda_min {lam[0]:.3g})"
    return None


def nonneg(v: Any) -> str | None:
    a = np.asarray(v, dtype=float)
    if a.size and np.nanmin(a) < 0:
        return f"negative value {np.nanmin(a):.3g} where >= 0 is required"
    return None


def losses_nonneg(v: Any) -> str | None:
    vals = v if isinstance(v, (tuple, list)) else (list(vars(v).values()) if hasattr(v, "__dict__") else [v])
    for a in vals:
        if isinstance(a, (float, np.ndarray)) and np.asarray(a).dtype.kind == "f":
            p_ = nonneg(a)
            if p_:
                return p_
    return None


def purity_check(v: Any) -> str | None:
    p = float(v.purity)
    dmin = min(v.dim_a, v.dim_b)
    if not (1.0 / dmin - 1e-9 <= p <= 1 + 1e-9):
        return f"purity {p:.6g} outside [1/{dmin}, 1]"
    return None


# --------------------------------------------------------------------------------------------- case builders
class Builder:
    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}

    def add(self, group: str, label: str, fn: Callable[[], Any], check: Check | None = None, *,
            expect: tuple[str, ...] | None = None, timeout: float = 60.0) -> None:
        cid = f"{group}[{label}]"
        n = 2
        while cid in self.cases:
            cid = f"{group}[{label}#{n}]"
            n += 1
        self.cases[cid] = Case(cid, group, fn, check, expect, timeout)

    def vary(self, group: str, call: Callable[..., Any], base: dict[str, Any], pools: dict[str, list[Any]],
             check: Check | None = None) -> None:
        """The baseline call plus one argument replaced at a time by each value of its pool."""
        self.add(group, "base", lambda: call(**base), check)
        for name, pool in pools.items():
            for item in pool:
                labelled = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                label, value = item if labelled else (_short(item), item)
                kw = dict(base)
                kw[name] = value
                self.add(group, f"{name}={label}", (lambda kw=kw: call(**kw)), check)


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 24 else s[:21] + "..."


def _cases() -> Builder:
    import nnqs_fast as nf

    B = Builder()
    psi = _psi()
    K = _K()
    y = _rng(2).normal(size=8)

    # ----------------------------------------------------------------------------- backend / package level
    B.add("backend_info", "base", nf.backend_info)
    B.vary("resolve_backend", nf.resolve_backend, {"backend": "auto"}, {"backend": BACKENDS})

    def pool_limit(nbytes: Any) -> Any:  # set a cache limit, read the counters, restore the previous limit
        pool = nf.memory_pool()
        old = pool.cache_limit()
        try:
            pool.set_cache_limit(nbytes)
            return pool.cache_limit(), pool.used_bytes(), pool.cached_bytes(), pool.n_free_blocks()
        finally:
            pool.set_cache_limit(old)
    B.add("memory_pool", "base", lambda: repr(nf.memory_pool()))
    B.vary("memory_pool", pool_limit, {"nbytes": None}, {"nbytes": INT_POOL + STR_POOL + FLOAT_POOL + ["1MiB"]})

    # ---------------------------------------------------------------------------------------------- physics
    B.vary("Lattice", nf.Lattice, {"lx": 2, "ly": 2, "boundary": "open"},
           {"lx": INT_POOL, "ly": INT_POOL[:8], "boundary": STR_POOL + ["periodic", "PERIODIC"]})
    lat = nf.Lattice(2, 2)
    B.vary("tfim_hamiltonian", nf.tfim_hamiltonian, {"lattice": lat, "J": 0.1},
           {"lattice": [None, "2x2", 3], "J": FLOAT_POOL})
    lat21 = nf.Lattice(2, 1)
    B.vary("hubbard_hamiltonian", nf.hubbard_hamiltonian, {"lattice": lat21, "n_up": 1, "n_down": 1},
           {"n_up": INT_POOL, "n_down": INT_POOL[:8], "t": FLOAT_POOL, "U": FLOAT_POOL, "lattice": [None, 4]})
    B.vary("HubbardBasis", nf.HubbardBasis, {"n_sites": 2, "n_up": 1, "n_down": 1},
           {"n_sites": INT_POOL, "n_up": INT_POOL, "n_down": INT_POOL[:8]})

    def target_check(t: Any) -> str | None:
        n = float(np.linalg.norm(t.psi))
        if abs(n - 1) > 1e-8:
            return f"target not normalised: |psi| = {n}"
        return None

    B.vary("make_target", lambda **kw: nf.make_target(**kw), {"system": "tfim", "lx": 2, "ly": 2},
           {"system": STR_POOL + ["hubbard", "TFIM"], "lx": INT_POOL, "ly": INT_POOL[:9], "J": FLOAT_POOL,
            "tau": FLOAT_POOL + [1e9, 1e7, -2.1], "boundary": STR_POOL[:5] + ["periodic"]}, target_check)
    B.vary("make_target/hubbard", lambda **kw: nf.make_target(**kw),
           {"system": "hubbard", "lx": 2, "ly": 1, "n_up": 1, "n_down": 1},
           {"n_up": INT_POOL, "n_down": INT_POOL[:8], "t": FLOAT_POOL, "U0": FLOAT_POOL, "U": FLOAT_POOL[:8]},
           target_check)
    B.vary("tfim_quench_target", lambda **kw: nf.tfim_quench_target(**kw)[0], {"lattice": lat, "J": 0.1, "tau": 2.1},
           {"J": FLOAT_POOL, "tau": FLOAT_POOL + [1e9]},
           lambda p: None if abs(np.linalg.norm(p) - 1) < 1e-8 else "not normalised")
    B.vary("hubbard_quench_target", lambda **kw: nf.hubbard_quench_target(**kw)[0],
           {"lattice": lat21, "n_up": 1, "n_down": 1},
           {"n_up": INT_POOL[:8], "U0": FLOAT_POOL[:8], "tau": FLOAT_POOL[:8] + [1e9]},
           lambda p: None if abs(np.linalg.norm(p) - 1) < 1e-8 else "not normalised")
    codes = np.arange(16, dtype=np.int64)

    def enc_check(n_sites: int) -> Check:
        def c(v: Any) -> str | None:
            a = np.asarray(v)
            if a.shape[0] and a.shape[1] != n_sites:
                return f"encoded width {a.shape[1]} != n_sites {n_sites}"
            return None
        return c

    for fn in (nf.encode_spins, nf.encode_occupations):
        B.vary(fn.__name__, fn, {"basis": codes, "n_sites": 4},
               {"basis": [("uint64max", np.array([2**64 - 1], dtype=np.uint64)), ("neg", np.array([-1])),
                          ("float", np.array([1.5, 2.0])), ("toolarge", np.array([16, 17])),
                          ("2d", codes.reshape(4, 4)), ("list", [0, 1, 2]), ("None", None),
                          ("nan", np.array([np.nan])), ("bool", np.array([True, False]))],
                "n_sites": INT_POOL + [63, 64, 65]})

    # --------------------------------------------------------------------------------------------- networks
    B.vary("init_relu", nf.init_relu, {"seed": 0, "input_dim": 4, "width": 8, "depth": 1},
           {"seed": SEED_POOL, "input_dim": INT_POOL, "width": INT_POOL, "depth": INT_POOL,
            "W_std": FLOAT_POOL, "b_std": FLOAT_POOL,
            "dtype": [np.float32, np.int64, np.complex128, "float16", None, "bogus", np.float64]})
    p = nf.init_relu(0, 4, 8)
    xr = _x(8, 4)
    B.vary("apply_relu", nf.apply_relu, {"params": p, "x": xr}, {"x": array_pool(xr), "params": [None, 3]})
    B.vary("relu_jacobian", nf.relu_jacobian, {"params": p, "x": xr}, {"x": array_pool(xr), "params": [None]})

    def bad_params(make: Callable[..., Any], fields: list[str], base: Any) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for f in fields:
            val = getattr(base, f)
            if isinstance(val, tuple):
                for what, fun in (("nan", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, np.nan, a)),
                                  ("int", lambda a: a.astype(np.int64)),
                                  ("complex", lambda a: a + 1j)):
                    try:
                        out.append((f"{f}-{what}", make(base, f, tuple(fun(np.asarray(w)) for w in val))))
                    except Exception as exc:
                        out.append((f"{f}-{what}-ctor", exc))
            elif isinstance(val, np.ndarray):
                for what, arr in (("nan", np.where(np.arange(val.size).reshape(val.shape) == 0, np.nan, val)),
                                  ("int", val.astype(np.int64)), ("complex", val + 1j)):
                    try:
                        out.append((f"{f}-{what}", make(base, f, arr)))
                    except Exception as exc:
                        out.append((f"{f}-{what}-ctor", exc))
        return out

    import dataclasses

    def replace(obj: Any, f: str, v: Any) -> Any:
        return dataclasses.replace(obj, **{f: v}) if dataclasses.is_dataclass(obj) else obj._replace(**{f: v})

    def raise_if_exc(v: Any) -> Any:
        if isinstance(v, BaseException):
            raise v
        return v

    for label, params in bad_params(replace, ["weights", "biases"], p):
        B.add("apply_relu", f"params={label}", lambda params=params: nf.apply_relu(raise_if_exc(params), xr))
        B.add("empirical_ntk", f"params={label}", lambda params=params: nf.empirical_ntk(raise_if_exc(params), xr))

    for name, init, apply, jac in (("cosnet", nf.init_cosnet, nf.apply_cosnet, nf.cosnet_jacobian),
                                   ("gaussnet", nf.init_gaussnet, nf.apply_gaussnet, nf.gaussnet_jacobian),
                                   ("complex_single", nf.init_complex_single, nf.apply_complex_single,
                                    nf.complex_single_jacobian)):
        extra: dict[str, list[Any]] = {}
        if name == "cosnet":
            extra = {"sigma_a": FLOAT_POOL, "sigma_w": FLOAT_POOL}
        elif name == "gaussnet":
            extra = {"sigma": FLOAT_POOL, "sigma_a": FLOAT_POOL}
        else:
            extra = {"activation": STR_POOL + ["cos", "relu", "tanh"]}
        B.vary(init.__name__, init, {"seed": 0, "input_dim": 4, "width": 8},
               {"seed": SEED_POOL, "input_dim": INT_POOL, "width": INT_POOL,
                "dtype": [np.float32, np.int64, None, "bogus"], **extra})
        pp = init(0, 4, 8)
        B.vary(apply.__name__, apply, {"params": pp, "x": xr}, {"x": array_pool(xr), "params": [None]})
        B.vary(jac.__name__, jac, {"params": pp, "x": xr}, {"x": array_pool(xr)})
        for label, params in bad_params(replace, list(pp._fields if hasattr(pp, "_fields")
                                                        else [f.name for f in dataclasses.fields(pp)]), pp):
            B.add(apply.__name__, f"params={label}", lambda params=params, apply=apply: apply(raise_if_exc(params), xr))

    # ---------------------------------------------------------------------------------------------- kernels
    def kernel_fn_call(maker: Callable[..., Any], kw: dict[str, Any], xx: Any = xr) -> Any:
        kfn = maker(**kw)
        return kfn(xx, None, ("nngp", "ntk"))

    def kernels_check(v: Any) -> str | None:
        for k in (getattr(v, "nngp", None), getattr(v, "ntk", None)):
            if k is not None:
                p_ = symmetric_psd(np.asarray(k))
                if p_:
                    return p_
        return None

    B.vary("relu_kernel_fn", lambda **kw: kernel_fn_call(nf.relu_kernel_fn, kw), {"depth": 1},
           {"depth": INT_POOL + [2**31 - 1, 10**6], "W_std": FLOAT_POOL, "b_std": FLOAT_POOL + [0.0]}, kernels_check)
    zero_row = xr.copy()
    zero_row[0] = 0
    for label, xx in array_pool(xr) + [("zero-row", zero_row)]:
        B.add("relu_kernel_fn", f"x={label}", lambda xx=xx: kernel_fn_call(nf.relu_kernel_fn, {"b_std": 0.0}, xx),
              kernels_check)
        B.add("relu_kernel_fn", f"x={label}/default", lambda xx=xx: kernel_fn_call(nf.relu_kernel_fn, {}, xx),
              kernels_check)
    B.add("relu_kernel_fn", "get=dup", lambda: nf.relu_kernel_fn()(xr, None, ["nngp", "nngp"]))
    B.add("relu_kernel_fn", "get=bogus", lambda: nf.relu_kernel_fn()(xr, None, "bogus"))
    B.add("relu_kernel_fn", "x2-mismatch", lambda: nf.relu_kernel_fn()(xr, _x(3, 5), "nngp"))
    for maker in (nf.cosnet_kernel_fn, nf.gaussnet_kernel_fn):
        first = "sigma_a" if maker is nf.cosnet_kernel_fn else "sigma"
        B.vary(maker.__name__, lambda maker=maker, **kw: kernel_fn_call(maker, kw), {},
               {first: FLOAT_POOL, "sigma_a" if first == "sigma" else "sigma_w": FLOAT_POOL,
                "trainable": STR_POOL + ["all", "last"]}, kernels_check)
        for label, xx in array_pool(xr):
            B.add(maker.__name__, f"x={label}", lambda xx=xx, maker=maker: kernel_fn_call(maker, {}, xx), kernels_check)

    def qsntk_check(v: Any) -> str | None:
        # Theta1, Theta2 are Gram matrices (PSD); Theta = Theta1 - Theta2 is only Hermitian
        for k in (v.theta1, v.theta2):
            k = np.asarray(k)
            if k.ndim == 2 and k.shape[0] == k.shape[1]:
                p_ = symmetric_psd(k)
                if p_:
                    return p_
        return None

    B.vary("complex_single_qsntk", nf.complex_single_qsntk, {"x1": xr},
           {"x1": array_pool(xr), "activation": STR_POOL, "backend": BACKENDS}, qsntk_check)
    B.vary("decoupled_qsntk", nf.decoupled_qsntk, {"x1": xr},
           {"x1": array_pool(xr), "chunk_size": INT_POOL, "backend": BACKENDS, "dtype": [np.float32, np.int64, "x"],
            "kernel_fn": [("wrong-shape", lambda a, b=None, get=None, **kw: np.zeros((2, 2))), ("not-callable", 3),
                          ("nan", lambda a, b=None, get=None, **kw: np.full(
                              (len(a), len(a if b is None else b)), np.nan))]}, qsntk_check)
    B.vary("empirical_ntk", nf.empirical_ntk, {"params": p, "x1": xr},
           {"x1": array_pool(xr), "trainable": STR_POOL, "chunk_size": INT_POOL, "dtype": [np.float32, np.int64, "x"],
            "backend": BACKENDS}, symmetric_psd)
    B.vary("empirical_qsntk", nf.empirical_qsntk, {"params1": p, "params2": nf.init_relu(1, 4, 8), "x1": xr},
           {"x1": array_pool(xr), "params2": [None, 3], "chunk_size": INT_POOL[:6], "backend": BACKENDS[:4]},
           qsntk_check)
    Jm = _rng(3).normal(size=(8, 12))
    B.vary("qsntk_from_jacobians", nf.qsntk_from_jacobians, {"J1": Jm, "J2": Jm[:, ::-1].copy()},
           {"J1": array_pool(Jm), "J2": array_pool(Jm)[:6], "backend": BACKENDS[:4]}, qsntk_check)
    def hermitian_parts(v: Any) -> str | None:
        for k in (v.theta1, v.theta2):
            k = np.asarray(k)
            if k.ndim == 2 and k.shape[0] == k.shape[1] and not np.allclose(k, k.T, atol=1e-6 * np.abs(k).max()):
                return "symmetric=True accepted a non-symmetric block"
        return None

    B.vary("qsntk_from_parts", nf.qsntk_from_parts, {"theta1": K, "theta2": K, "symmetric": True},
           {"theta1": array_pool(K) + [("neg", -K), ("asym", K + np.triu(K))], "theta2": array_pool(K)[:6],
            "mixing": array_pool(K)[:6]}, hermitian_parts)

    # ---------------------------------------------------------------------------------------------- spectra
    mats = array_pool(K) + [("neg", -K), ("indefinite", np.diag([1.0, -1.0])), ("asym", K + np.triu(K)),
                            ("zero", np.zeros((4, 4))), ("nonsquare", K[:, :5]), ("singular", np.ones((4, 4))),
                            ("tiny", K * 1e-300), ("hermitian", K + 1j * (np.triu(K, 1) - np.triu(K, 1).T))]
    for fn in (nf.check_positive_definite, nf.kernel_eigenvalues, nf.kernel_spectrum, nf.qsntk_eta_max):
        for label, m in mats:
            chk: Check | None = None
            if fn is nf.qsntk_eta_max:
                chk = in_range(0.0, math.inf, name="eta_max")
            B.add(fn.__name__, f"k={label}", lambda m=m, fn=fn: fn(m), chk)
    B.vary("check_positive_definite", nf.check_positive_definite, {"k": K},
           {"rtol": FLOAT_POOL, "name": [None, 3, ""]})
    B.vary("kernel_spectrum", nf.kernel_spectrum, {"k": K}, {"rtol": FLOAT_POOL})

    # --------------------------------------------------------------------------------------------- dynamics
    eta = nf.qsntk_eta_max(K)

    def gd_call(t: Any = 10.0, **kw: Any) -> Any:
        pred = nf.qsntk_mse_predictor(**kw)
        return pred(t)

    gd_base = {"k_train_train": K, "y_train": y, "learning_rate": 0.5 * eta}
    B.vary("qsntk_mse_predictor", gd_call, gd_base,
           {"k_train_train": mats, "y_train": array_pool(y), "learning_rate": FLOAT_POOL + [10 * eta],
            "diag_reg": FLOAT_POOL, "discrete": [True, False, None, "yes"], "backend": BACKENDS,
            "method": ["auto", "eigh", "krylov", "bogus", None, 3],
            "t": [None, 0, -1.0, math.nan, math.inf, 1e300, [1, 2, 3], np.array([[1.0]]), "x", 10**30]})
    B.vary("qsntk_mse_predictor/discrete", lambda **kw: gd_call(discrete=True, **kw), gd_base,
           {"learning_rate": [10 * eta, 2.5 * eta, eta], "t": [None, 3, 3.5, -1, 10**12, math.inf]})
    B.vary("qsntk_mse_ensemble",
           lambda t=10.0, **kw: nf.qsntk_mse_ensemble(**kw)(t),
           {"nngp_train_train": K, "ntk_train_train": K, "y_train": y, "learning_rate": 0.5 * eta},
           {"nngp_train_train": mats, "ntk_train_train": mats[:8], "learning_rate": FLOAT_POOL,
            "t": [None, 0, -1.0, math.nan, math.inf]})
    B.vary("qsntk_mse_ensemble/losses",
           lambda t=10.0, **kw: nf.qsntk_mse_ensemble(**kw).losses(t),
           {"nngp_train_train": K, "ntk_train_train": K, "y_train": y, "learning_rate": 0.5 * eta},
           {"nngp_train_train": [("neg", -K), ("good", K), ("indef", K - 0.5 * np.eye(8))], "t": [None, 0, 1e6]},
           losses_nonneg)
    B.vary("nngp_posterior", lambda **kw: nf.nngp_posterior(**kw)(), {"k_train_train": K, "y_train": y},
           {"k_train_train": mats, "y_train": array_pool(y), "diag_reg": FLOAT_POOL, "backend": BACKENDS[:5]})
    for fn in (nf.mse_loss, nf.fidelity):
        chk = nonneg if fn is nf.mse_loss else in_range(0.0, 1.0, name="fidelity")
        for label, a in array_pool(psi) + [("scalar", 1.0), ("zeros", np.zeros(64))]:
            B.add(fn.__name__, f"psi={label}", lambda a=a, fn=fn: fn(a, psi), chk)
            B.add(fn.__name__, f"target={label}", lambda a=a, fn=fn: fn(psi, a), chk)
        B.add(fn.__name__, "scalars", lambda fn=fn: fn(1.0, 1.0), chk)
        B.add(fn.__name__, "shape-mismatch", lambda fn=fn: fn(psi, psi[:10]), chk)
    tr, te = np.arange(0, 64, 2), np.arange(1, 64, 2)
    B.vary("assemble_state", nf.assemble_state,
           {"train_idx": tr, "test_idx": te, "train_values": psi[tr], "test_values": psi[te]},
           {"train_idx": [("float", tr + 0.5), ("neg", -tr - 1), ("overlap", te), ("big", tr + 1000), ("None", None),
                          ("floatint", tr.astype(float))],
            "test_values": array_pool(psi[te])[:8], "dim": INT_POOL})

    # --------------------------------------------------------------------------------------------- training
    xt, yt = _x(8, 4), _rng(4).normal(size=8) * 0.1

    def ens_check(v: Any) -> str | None:
        return nonneg(np.concatenate([np.ravel(v.train_loss), np.ravel(v.test_loss)]))

    B.vary("train_ensemble", nf.train_ensemble,
           {"x_train": xt, "y_train": yt, "width": 8, "n_members": 2, "n_steps": 5, "quiet": True,
            "n_workers": 1},
           {"x_train": array_pool(xt), "y_train": array_pool(yt)[:10], "width": INT_POOL,
            "n_members": INT_POOL + [10**8],
            "n_steps": STEPS_POOL, "learning_rate": FLOAT_POOL, "lr_factor": FLOAT_POOL[:8], "depth": INT_POOL[:6],
            "seed": SEED_POOL, "record_steps": [[0, 2.5, 4], [3, 2], [-1], [0, 10**12], "x", [0.5]],
            "n_record": INT_POOL[:6], "early_stop_rtol": FLOAT_POOL[:8], "n_workers": INT_POOL[:6] + [100000],
            "backend": BACKENDS}, ens_check)
    B.vary("log_record_steps", nf.log_record_steps, {"n_steps": 100, "n_points": 10},
           {"n_steps": INT_POOL, "n_points": INT_POOL})
    B.vary("max_learning_rate_for", nf.max_learning_rate_for, {"x_train": xt},
           {"x_train": array_pool(xt), "depth": INT_POOL[:8], "W_std": FLOAT_POOL, "b_std": FLOAT_POOL,
            "backend": BACKENDS[:5]}, in_range(0, math.inf))

    def step_run(threads: Any = None, n_steps: Any = 5, record: Any = (0, 2, 4), backend: str = "cpu",
                 params: Any = p, xx: Any = xt, yy: Any = yt, lr: Any = 0.1) -> Any:
        s = nf.make_step(params, xx, yy, lr, backend=backend)
        if threads is not None:
            s.threads = threads
        rec = s.run(n_steps, record)
        # slots beyond the run's range hold NaN by the documented convention: check the reached ones
        return rec.train_loss[rec.steps <= rec.steps_done]

    def step_check(v: Any) -> str | None:
        return nonneg(v)

    B.vary("make_step", step_run, {},
           {"threads": [1, 2, 0, -1, 100000, 2**31, 10**30, 1.5, "2"], "n_steps": STEPS_POOL,
            "record": [(0, 2.5), (3, 1), (-1,), (0, 10**12), "x", (0.0, 1.0)], "backend": ["cpu", "numpy", "cuda", "x"],
            "lr": FLOAT_POOL + [1e3], "xx": array_pool(xt), "yy": array_pool(yt)[:10]}, step_check)
    for label, params in bad_params(replace, ["weights", "biases"], p):
        for backend in ("cpu", "numpy"):
            B.add("make_step", f"params={label}/{backend}",
                  lambda params=params, backend=backend: step_run(params=raise_if_exc(params), backend=backend),
                  step_check)
    B.add("CPUReLUStep", "base", lambda: nf.CPUReLUStep(p, xt, yt, 0.1).run(3, (0, 2)))
    B.add("NumpyReLUStep", "base", lambda: nf.NumpyReLUStep(p, xt, yt, 0.1).run(3, (0, 2)))
    B.add("StepRecord", "base", lambda: nf.StepRecord(np.arange(2), np.zeros(2), np.zeros(2), 2, 0))

    # -------------------------------------------------------------------------------------------- entanglement
    B.vary("normalize_subsystem", nf.normalize_subsystem, {"subsystem": 3, "n_sites": 6},
           {"subsystem": [0, 6, 7, -1, 2.5, [0, 0], [0, 7], [1.0, 2.0], [], "ab", None, (0, 2, 4), [True, False]],
            "n_sites": INT_POOL})
    ent_pools = {"psi": array_pool(psi) + [("unnormalised", 3 * psi), ("zeros", np.zeros(64)),
                                           ("len63", psi[:63]), ("batch", np.stack([psi, psi]))],
                 "subsystem": [0, 6, 7, -1, 2.5, [0, 7], [0, 0], (0, 2, 4), "a"],
                 "n_sites": INT_POOL[:9], "atol": FLOAT_POOL, "local_dim": INT_POOL[:8] + [4],
                 "normalize": [True, False, None]}
    for fn in (nf.schmidt_matrix, nf.entanglement_spectrum, nf.reduced_density_matrix):
        chk = in_range(0.0, 1.0, name="spectrum") if fn is nf.entanglement_spectrum else None
        B.vary(fn.__name__, fn, {"psi": psi, "subsystem": 3}, ent_pools, chk)
    B.vary("entanglement_entropy", nf.entanglement_entropy, {"psi": psi, "subsystem": 3},
           {**ent_pools, "base": [1.0, 0, -1, 0.5, math.nan, 10**300], "method": STR_POOL + ["svd"]},
           entropy_range(8))
    for b in (2, 2.0, math.e, 10, 1.5):
        B.add("entanglement_entropy", f"base={b!r}/ok", lambda b=b: nf.entanglement_entropy(psi, 3, base=b),
              in_range(0.0, math.log(8) / math.log(b), name="entropy"))
    B.vary("renyi_entropy", nf.renyi_entropy, {"psi": psi, "subsystem": 3, "n": 2},
           {**ent_pools, "n": [0, 0.5, 1, 1.0, 2, 300, 1e6, math.inf, -1, math.nan, "2", None, 1j]},
           entropy_range(8))
    B.vary("tsallis_entropy", nf.tsallis_entropy, {"psi": psi, "subsystem": 3, "q": 2},
           {**ent_pools, "q": [0, 0.5, 1, 2, 300, math.inf, -1, math.nan, "2", None]},
           in_range(0.0, math.inf, name="tsallis"))
    spec = np.array([0.5, 0.25, 0.25])
    for kind in ["vn", "renyi", "renyi-2", "renyi2", "tsallis", "bogus", "", None, 3, "VN", "min", "max",
                 "renyi_2", "renyi:2"]:
        for order in [None, 2, 0.5, 1, 300, -1, math.nan, math.inf]:
            B.add("entropy_from_spectrum", f"kind={_short(kind)},order={_short(order)}",
                  lambda kind=kind, order=order: nf.entropy_from_spectrum(spec, kind, order),
                  in_range(0.0, math.log(3) if kind != "tsallis" else math.inf, name="entropy"))
    for label, sp in array_pool(spec) + [("neg", np.array([2.0, -1.0])), ("unnorm", np.array([0.5, 0.1])),
                                         ("zeros", np.zeros(3)), ("tiny", np.array([1e-320, 1.0]))]:
        B.add("entropy_from_spectrum", f"p={label}", lambda sp=sp: nf.entropy_from_spectrum(sp),
              in_range(0.0, math.log(max(2, np.size(sp))), name="entropy"))
    hb = nf.HubbardBasis(2, 1, 1)
    hpsi = _psi(2)[: len(hb.codes)] if hasattr(hb, "codes") else None
    if hpsi is not None:
        hpsi = hpsi / np.linalg.norm(hpsi)
        B.vary("fermion_entanglement_spectrum", nf.fermion_entanglement_spectrum,
               {"psi": hpsi, "codes": hb.codes, "subsystem": [0], "n_sites": 2},
               {"psi": array_pool(hpsi)[:8], "codes": [("float", np.asarray(hb.codes) + 0.5),
                                                      ("neg", -np.asarray(hb.codes) - 1), ("None", None)],
                "subsystem": [[0], [5], [], 2.5], "n_sites": INT_POOL[:8]}, in_range(0, 1))

    # ------------------------------------------------------------------------------------------------- page
    MN = [1, 2, 4, 0, -1, 10**200, 2.5, None, "4", True, 2**64]
    for fn in (nf.page_entropy, nf.page_entropy_approx, nf.max_entropy):
        for m in MN:
            for n in MN[:7]:
                B.add(fn.__name__, f"m={_short(m)},n={_short(n)}", lambda m=m, n=n, fn=fn: fn(m, n),
                      in_range(0.0, math.inf, name="entropy"))
    for m in MN:
        for n in MN:
            B.add("haar_purity", f"m={_short(m)},n={_short(n)}", lambda m=m, n=n: nf.haar_purity(m, n),
                  in_range(0.0, 1.0, name="purity"))
    B.vary("page_entropy_sites", nf.page_entropy_sites, {"n_sites": 6, "subsystem_size": 3},
           {"n_sites": INT_POOL, "subsystem_size": [0, 6, 7, -1, 2.5, np.arange(7), np.array([1.5]), None],
            "local_dim": INT_POOL[:8], "base": [2, 1, 0, -1, math.nan]}, in_range(0.0, math.inf))

    # ------------------------------------------------------------------------------------------------- wick
    gps = {"rbf": lambda: nf.rbf_kernel(1.0, 0.3), "cos": lambda: nf.cosnet_gp_kernel(1.0, 1.0, 4),
           "gauss": lambda: nf.gaussnet_gp_kernel(1.0, 1.0, 4), "relu": lambda: nf.relu_nngp_kernel(4),
           "delta": lambda: nf.delta_kernel(1.0)}
    for label, mk in gps.items():
        B.add("GPKernel", label, mk)
    B.vary("rbf_kernel", nf.rbf_kernel, {"amplitude": 1.0, "gamma": 0.3},
           {"amplitude": FLOAT_POOL, "gamma": FLOAT_POOL})
    B.vary("cosnet_gp_kernel", nf.cosnet_gp_kernel, {"sigma_a": 1.0, "sigma_w": 1.0, "input_dim": 4},
           {"sigma_a": FLOAT_POOL, "sigma_w": FLOAT_POOL, "input_dim": INT_POOL})
    B.vary("gaussnet_gp_kernel", nf.gaussnet_gp_kernel, {"sigma_a": 1.0, "sigma_w": 1.0, "input_dim": 4},
           {"sigma_a": FLOAT_POOL[:8], "sigma_w": FLOAT_POOL[:8], "input_dim": INT_POOL[:8]})
    B.vary("relu_nngp_kernel", nf.relu_nngp_kernel, {"input_dim": 4},
           {"input_dim": INT_POOL, "depth": INT_POOL, "W_std": FLOAT_POOL[:8], "b_std": FLOAT_POOL[:8]})
    B.vary("delta_kernel", nf.delta_kernel, {}, {"amplitude": FLOAT_POOL})
    B.add("GPKernel", "bogus-family", lambda: nf.GPKernel("bogus", ()))
    wick_fns = [nf.wick_purity, nf.wick_purity_brute, nf.wick_purity_partial_trace, nf.wick_purity_factorized,
                nf.wick_purity_hamming]
    for fn in wick_fns:
        for klabel, mk in gps.items():
            B.add(fn.__name__, f"kernel={klabel}", lambda mk=mk, fn=fn: fn(mk(), n_sites=4, subsystem=2), purity_check)
        B.vary(fn.__name__, lambda fn=fn, **kw: fn(**kw), {"kernel1": nf.rbf_kernel(1.0, 0.3), "n_sites": 4,
                                                             "subsystem": 2},
               {"n_sites": INT_POOL + [10**9, 40000], "subsystem": [0, 4, 5, -1, 2.5, [0, 0], [0, 9], "a", None],
                "spin_values": [(-1, 0, 1), (1, 1), (0, 1), (math.nan, 1), ["a", "b"], None, (-1.0, 1.0)],
                "kernel2": ["same", None, nf.cosnet_gp_kernel(1.0, 1.0, 4), 3, "other"],
                "kernel1": [None, 3, nf.relu_nngp_kernel(4, depth=10**9), nf.rbf_kernel(1.0, 1e90)]},
               purity_check)
    n4 = 16
    Kw = nf.rbf_kernel(1.0, 0.3)
    kmat = np.exp(-0.3 * ((nf.spin_basis_inputs(4)[:, None, :] - nf.spin_basis_inputs(4)[None, :, :]) ** 2)
                  .sum(-1))
    B.vary("wick_purity_from_matrices", nf.wick_purity_from_matrices, {"k1": kmat, "n_sites": 4, "subsystem": 2},
           {"k1": array_pool(kmat) + [("neg", -np.eye(n4)), ("asym", kmat + np.triu(kmat, 1)),
                                     ("indef", np.eye(n4) - 2 * np.ones((n4, n4)) / n4), ("wrong-size", np.eye(8))],
            "k2": ["same", None, ("neg", -np.eye(n4)), ("good", kmat)], "n_sites": INT_POOL[:8],
            "subsystem": [0, 4, 5, -1, 2.5]}, purity_check)
    B.vary("spin_basis_inputs", nf.spin_basis_inputs, {"n_sites": 3},
           {"n_sites": INT_POOL + [64, 40], "spin_values": [(-1, 0, 1), (1, 1), (math.nan, 1), None, ["a", "b"]]})
    _ = Kw

    # --------------------------------------------------------------------------------------------- ensembles
    def ens_ent_check(v: Any) -> str | None:
        for k, arr in v.values.items():
            p_ = in_range(0.0, math.log(2) * v.n_sites / 2 + 1e-9 if "renyi" in k or k == "vn" else math.inf,
                          name=k)(arr)
            if p_:
                return p_
        return None

    B.vary("sample_ensemble_entropies", nf.sample_ensemble_entropies,
           {"network": "cosnet", "n_sites": 4, "n_members": 2, "width": 8},
           {"network": STR_POOL + ["gaussnet", "relu"], "n_sites": INT_POOL + [26, 40], "n_members": INT_POOL + [10**8],
            "width": INT_POOL, "cuts": [[2], [0], [5], [2.5], "x", [[0, 0]]],
            "kinds": [["vn", "renyi-2"], ["renyi-2"], ["renyi2"], ["bogus"], [], ["vn", "vn"], "vn"],
            "sigma_a": FLOAT_POOL[:8], "seed": SEED_POOL, "chunk_size": INT_POOL[:8]}, ens_ent_check)
    B.vary("sample_nnqs_state", nf.sample_nnqs_state, {"network": "cosnet", "n_sites": 4, "width": 8, "seed": 0},
           {"network": STR_POOL + ["relu", "gaussnet"], "n_sites": INT_POOL + [26, 40], "width": INT_POOL,
            "seed": SEED_POOL, "sigma_a": FLOAT_POOL, "sigma_w": FLOAT_POOL, "depth": INT_POOL[:8],
            "chunk_size": INT_POOL[:8], "normalize": [True, False]},
           None)
    B.add("sample_nnqs_state", "relu-26", lambda: nf.sample_nnqs_state("relu", n_sites=26, width=8, seed=0))
    for kind in ["vn", "renyi-2", "renyi2", "renyi_2", "Renyi2", "tsallis-2", "tsallis2", "renyi", "renyi-0",
                 "renyi-inf", "renyi-x", "", None, 3, ("renyi", 2), "vn2", "renyi-1e400", "renyi-nan",
                 "renyi--2", " vn", "renyi-2.5"]:
        B.add("parse_entropy_kind", _short(kind), lambda kind=kind: nf.parse_entropy_kind(kind))
    B.add("ENSEMBLE_NETWORKS", "contents", lambda: tuple(nf.ENSEMBLE_NETWORKS))

    # ----------------------------------------------------------------------------------------- result types
    B.add("WickResult", "repr-40000", lambda: repr(nf.wick_purity(nf.rbf_kernel(1.0, 0.3), n_sites=40000,
                                                                    subsystem=20000)))
    B.add("WickResult", "repr-direct", lambda: repr(nf.WickResult(0.5, math.log(2), 0.0, 0.0, 2**40000, 2, "x")))
    B.add("BackendStatus", "base", lambda: nf.BackendStatus("cpu", True))
    B.add("Target", "from-make", lambda: repr(nf.make_target("tfim", lx=2, ly=2)))

    _architecture_cases(B, xr)
    _newer_api_cases(B, xr)
    _cli_cases(B)
    return B


def _newer_api_cases(B: Builder, xr: np.ndarray) -> None:
    """Functions added by the ground-state/scale work: hostile inputs for each (every result is finite-checked)."""
    import nnqs_fast as nf

    psi = _psi(3)
    K = _K(8)
    mats = array_pool(K) + [("neg", -K), ("asym", K + np.triu(K))]
    for label, m in mats:
        B.add("lambda_max", f"k={label}", lambda m=m: nf.lambda_max(m),
              lambda v, m=m: None if abs(v - float(np.linalg.eigvalsh(np.asarray(m, float)).max()))
              <= 1e-8 * max(1.0, abs(v)) else f"lambda_max {v} differs from eigvalsh")
    for label, a in array_pool(psi) + [("len6", psi[:6])]:
        B.add("hadamard_transform", f"psi={label}", lambda a=a: nf.hadamard_transform(a))
        B.add("energy", f"psi={label}", lambda a=a: nf.energy(np.eye(8), a))
    for label, h in array_pool(np.eye(8)) + [("asym", np.triu(np.ones((8, 8))))]:
        B.add("energy", f"H={label}", lambda h=h: nf.energy(h, psi))
    for label, a in array_pool(_rng(5).normal(size=(5, 3))):
        for axis in (0, 1, 2, -1, 1.5, None):
            B.add("mean_sem", f"a={label},axis={axis!r}", lambda a=a, axis=axis: nf.mean_sem(a, axis))
    for label, c in mats + [("psd", K)]:
        for n in (2, 0, -1, 10**9, 1.5):
            B.add("sample_gp_states", f"cov={label},n={n!r}", lambda c=c, n=n: nf.sample_gp_states(c, n, 0))
    for label, x in array_pool(xr):
        for get in ("nngp", "ntk", "bogus", ("nngp", "nngp")):
            B.add("kernel_diagonal", f"x={label},get={get!r}",
                  lambda x=x, get=get: nf.kernel_diagonal(nf.relu_kernel_fn(), x, get), nonneg)
    B.add("kernel_diagonal", "not-callable", lambda: nf.kernel_diagonal(3, xr))
    for block in (0, -1, 10**9, 1.5):
        B.add("kernel_diagonal", f"block={block!r}", lambda block=block: nf.kernel_diagonal(nf.relu_kernel_fn(), xr,
                                                                                             block=block), nonneg)
    for f in (nf.energy_learning_rate, nf.flow_learning_rate):
        for label, k in mats[:8]:
            B.add(f.__name__, f"kernel={label}", lambda f=f, k=k: f(k, np.eye(8), 1.0), in_range(0, math.inf))
        for mn in (0.0, -1.0, math.nan, math.inf, 1e300):
            B.add(f.__name__, f"mean_norm2={mn!r}", lambda f=f, mn=mn: f(K, np.eye(8), mn), in_range(0, math.inf))
    ens_loss = nf.dynamics.losses.EnergyLoss(np.diag(np.arange(8.0))) if hasattr(nf, "dynamics") else None
    for label, k in [("good", K), ("neg", -K), ("empty", np.zeros((0, 0)))]:
        B.add("loss_flow", f"kernel={label}", lambda k=k: nf.loss_flow(k, ens_loss, psi, learning_rate=0.01, n_steps=5))
    for lr in (0.0, -1.0, math.nan, 1e300):
        B.add("loss_flow", f"learning_rate={lr!r}",
              lambda lr=lr: nf.loss_flow(K, ens_loss, psi, learning_rate=lr, n_steps=5))
    B.add("loss_flow", "loss=None", lambda: nf.loss_flow(K, None, psi, learning_rate=0.01, n_steps=5))
    x3 = _x(8, 3)
    for kw in ({"width": 0}, {"n_members": 0}, {"n_steps": -1}, {"learning_rate": math.nan}, {"width": 10**9}):
        B.add("train_loss_ensemble", repr(kw), lambda kw=kw: nf.train_loss_ensemble(x3, ens_loss, **kw))
    B.add("train_loss_ensemble", "loss=None", lambda: nf.train_loss_ensemble(x3, None, width=8, n_members=1,
                                                                            n_steps=1))
    B.add("drive", "engine=None", lambda: nf.drive(None, np.arange(3), 2))
    if hasattr(nf, "target_from_operator"):
        H = np.diag(np.arange(4.0)) + 0.1 * (np.ones((4, 4)) - np.eye(4))
        inp = np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])

        def norm_ok(t: Any) -> str | None:
            return None if abs(np.linalg.norm(t.psi) - 1) < 1e-8 else "target not normalised"

        for label, h in array_pool(H) + [("asym", np.triu(H))]:
            B.add("target_from_operator", f"H={label}", lambda h=h: nf.target_from_operator(h, inputs=inp), norm_ok)
        for label, x in array_pool(inp):
            B.add("target_from_operator", f"inputs={label}", lambda x=x: nf.target_from_operator(H, inputs=x), norm_ok)
        for tau in (None, 2.1, -1.0, math.nan, math.inf, 1e9, 1e300):
            B.add("target_from_operator", f"quench,tau={tau!r}",
                  lambda tau=tau: nf.target_from_operator(H, kind="quench", inputs=inp, H0=np.diag(np.arange(4.0)),
                                                          tau=tau), norm_ok)
        for kind in ("bogus", None, "GROUND"):
            B.add("target_from_operator", f"kind={kind!r}",
                  lambda kind=kind: nf.target_from_operator(H, kind=kind, inputs=inp), norm_ok)


def _architecture_cases(B: Builder, xr: np.ndarray) -> None:
    """The architecture objects (DenseNet/ReLUNet/CosNet/GaussNet/ComplexSingle) and the activation registry."""
    import nnqs_fast as nf

    def life(make: Callable[[], Any], width: Any = 8, x: Any = xr, what: str = "kernel") -> Any:
        net = make()
        if what == "kernel":
            return net.kernel_fn()(x, None, ("nngp", "ntk"))
        params = net.init(0, 4, width)
        return net.apply(params, x)

    def kchk(v: Any) -> str | None:
        for k in (getattr(v, "nngp", None), getattr(v, "ntk", None)):
            if k is not None:
                p_ = symmetric_psd(np.asarray(k))
                if p_:
                    return p_
        return None

    for act in ["relu", "erf", "bogus", None, 3]:
        for depth in [1, 2, 0, 2**31, 10**9, 1.5]:
            B.add("DenseNet", f"act={act!r},depth={depth!r}",
                  lambda act=act, depth=depth: life(lambda: nf.DenseNet(act, depth)), kchk)
        for std in [0.5, 0.0, -1.0, 1e200, math.nan, math.inf]:
            B.add("DenseNet", f"act={act!r},W_std={std!r}",
                  lambda act=act, std=std: life(lambda: nf.DenseNet(act, 1, std)), kchk)
            B.add("DenseNet", f"act={act!r},b_std={std!r}/apply",
                  lambda act=act, std=std: life(lambda: nf.DenseNet(act, 1, 0.5, std), what="apply"))
        for width in [8, 0, 10**9, 2**31, 1.5]:
            B.add("DenseNet", f"act={act!r},width={width!r}",
                  lambda act=act, width=width: life(lambda: nf.DenseNet(act), width=width, what="apply"))
        for label, x in array_pool(xr):
            B.add("DenseNet", f"act={act!r},x={label}", lambda act=act, x=x: life(lambda: nf.DenseNet(act), x=x), kchk)
    for depth in [1, 3, 0, 2**31, 10**9]:
        B.add("ReLUNet", f"depth={depth!r}", lambda depth=depth: life(lambda: nf.ReLUNet(depth)), kchk)
        B.add("ReLUNet", f"depth={depth!r}/apply", lambda depth=depth: life(lambda: nf.ReLUNet(depth), what="apply"))
    for cls in (nf.CosNet, nf.GaussNet):
        for a in [1.0, 0.0, -1.0, 1e200, math.nan]:
            for b in [1.0, 0.0, 1e200]:
                B.add(cls.__name__, f"{a!r},{b!r}", lambda cls=cls, a=a, b=b: life(lambda: cls(a, b)), kchk)
                B.add(cls.__name__, f"{a!r},{b!r}/apply",
                      lambda cls=cls, a=a, b=b: life(lambda: cls(a, b), what="apply"))
        for tr in ["last", "all", "bogus", None]:
            B.add(cls.__name__, f"trainable={tr!r}", lambda cls=cls, tr=tr: life(lambda: cls(1.0, 1.0, tr)), kchk)
    for act in ["relu", "erf", "bogus", None]:
        B.add("ComplexSingle", f"activation={act!r}",
              lambda act=act: life(lambda: nf.ComplexSingle(act), what="apply"))
    for n in [1, 3, 0, -1, 31, 64, 10**9, 2.0, None]:
        for sv in [(-1.0, 1.0), (0, 1), (1, 1), (-1, 0, 1), (math.nan, 1.0), ["a", "b"]]:
            B.add("spin_basis", f"n={n!r},sv={sv!r}", lambda n=n, sv=sv: nf.spin_basis(n, sv))
    B.add("activation_names", "base", nf.activation_names)
    for name in ["relu", "erf", "bogus", None, 3, "RELU"]:
        B.add("get_activation", repr(name), lambda name=name: nf.get_activation(name))
    B.add("register_activation", "bogus-object", lambda: nf.register_activation("not an activation"))
    B.add("register_activation", "duplicate-relu", lambda: nf.register_activation(nf.get_activation("relu")))
    x = _x(6, 4)
    dot, sq = x @ x.T, np.sum(x * x, 1)
    for depth in [1, 2, 0, 10**9, 1.5]:
        for act in ["relu", "erf", "bogus"]:
            B.add("dense_kernels", f"depth={depth!r},act={act}",
                  lambda depth=depth, act=act: nf.dense_kernels(dot, sq[:, None], sq[None, :], input_dim=4,
                                                                depth=depth, W_std=0.5, b_std=0.1, activation=act,
                                                                symmetric=True),
                  lambda v: symmetric_psd(np.asarray(v[0])))
    for label, d in array_pool(dot):
        B.add("dense_kernels", f"dot={label}",
              lambda d=d: nf.dense_kernels(d, sq[:, None], sq[None, :], input_dim=4, depth=1, W_std=0.5, b_std=0.1))


# ---------------------------------------------------------------------------------------------------- CLI
def _cli(argv: list[str]) -> Any:
    """Run the CLI in-process; a clean exit (0, or 2 with a one-line ``error:``/usage message) is fine."""
    import contextlib
    import io

    from nnqs_fast import cli
    from nnqs_fast.errors import NnqsError

    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = cli.main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    msg = err.getvalue() + out.getvalue()
    if "Traceback" in msg:
        raise RuntimeError(f"traceback printed: {msg[-300:]}")
    if rc not in (0, None):
        if rc == 2 and ("error:" in msg or "usage:" in msg):
            raise NnqsError(f"CLI refused cleanly (rc={rc}): {msg.strip().splitlines()[-1][:200]}")
        raise RuntimeError(f"CLI exit code {rc}: {msg[-300:]}")
    return {"rc": rc, "stderr": msg}


def _tmpdir() -> str:
    return tempfile.mkdtemp(prefix="nnqs_fuzz_")


def _cli_cases(B: Builder) -> None:
    def out_variants() -> list[tuple[str, Callable[[], str]]]:
        def existing_file() -> str:
            d = _tmpdir()
            f = os.path.join(d, "f")
            open(f, "w").close()
            return f

        def under_file() -> str:
            return os.path.join(existing_file(), "sub")

        def unwritable() -> str:
            return "/proc/nnqs_fuzz_out"

        return [("tmp", lambda: _tmpdir()), ("existing-file", existing_file), ("under-file", under_file),
                ("unwritable", unwritable)]

    small = {
        "targets": ["targets", "--lx", "2", "--ly", "2"],
        "kernel": ["kernel", "--lx", "2", "--ly", "2", "--width", "16"],
        "predict": ["predict", "--lx", "2", "--ly", "2", "--train-size", "8", "--steps", "100", "--n-times", "5",
                    "--no-plot"],
        "train": ["train", "--lx", "2", "--ly", "2", "--width", "16", "--members", "2", "--steps", "10",
                  "--train-size", "8", "--workers", "1"],
        "entropy": ["entropy", "--sites", "4", "--width", "8", "--members", "2", "--cuts", "2"],
    }
    B.add("cli", "info", lambda: _cli(["info"]))
    B.add("cli", "no-command", lambda: _cli([]))
    B.add("cli", "bogus-command", lambda: _cli(["bogus"]))
    for cmd, argv in small.items():
        for label, mk in out_variants():
            B.add(f"cli/{cmd}", f"out={label}", lambda argv=argv, mk=mk: _cli([*argv, "--quiet", "--out", mk()]))
    bad_opts = {
        "targets": [["--J", "1e308"], ["--J", "nan"], ["--tau", "inf"], ["--lx", "0"], ["--lx", "-3"],
                    ["--lx", "100"], ["--system", "hubbard", "--n-up", "9"], ["--tau", "1e9"], ["--name", "a/b"],
                    ["--name", ""]],
        "kernel": [["--width", "0"], ["--width", "-5"], ["--depth", "0"], ["--W-std", "nan"], ["--b-std", "-1"],
                   ["--chunk-size", "0"], ["--width", "1000000000"]],
        "predict": [["--train-size", "0"], ["--train-size", "100"], ["--lr-factor", "5"], ["--learning-rate", "nan"],
                    ["--steps", "-1"], ["--n-times", "0"], ["--diag-reg", "-1"], ["--discrete", "--lr-factor",
                                                                                       "3"]],
        "train": [["--width", "0"], ["--members", "0"], ["--steps", "-1"], ["--learning-rate", "inf"],
                  ["--lr-factor", "nan"], ["--early-stop", "-1"], ["--n-record", "0"], ["--workers", "100000"],
                  ["--members", "100000000"], ["--dtype", "float16"], ["--dtype", "float32"]],
        "entropy": [["--sites", "0"], ["--sites", "40"], ["--members", "0"], ["--width", "0"], ["--cuts", "9"],
                    ["--cuts", "x"], ["--kinds", "renyi-2"], ["--kinds", "bogus"], ["--depth", "0"],
                    ["--sigma-a", "nan"], ["--network", "relu", "--sites", "26"]],
    }
    for cmd, opts in bad_opts.items():
        for o in opts:
            B.add(f"cli/{cmd}", " ".join(o),
                  lambda cmd=cmd, o=o: _cli([*small[cmd], *o, "--quiet", "--out", _tmpdir()]))

    def state_file(kind: str) -> str:
        d = _tmpdir()
        f = os.path.join(d, "s.npz")
        good = _psi(4)
        if kind == "good":
            np.savez(f, psi=good)
        elif kind == "truncated":
            np.savez(f, psi=good)
            data = open(f, "rb").read()
            open(f, "wb").write(data[: len(data) // 2])
        elif kind == "corrupt":
            open(f, "wb").write(b"PK\x03\x04garbage" * 10)
        elif kind == "empty":
            open(f, "wb").close()
        elif kind == "0d":
            np.savez(f, psi=np.float64(1.0))
        elif kind == "2d":
            np.savez(f, psi=np.ones((4, 4)))
        elif kind == "nan":
            np.savez(f, psi=np.where(np.arange(16) == 0, np.nan, good))
        elif kind == "len15":
            np.savez(f, psi=good[:15])
        elif kind == "nokey":
            np.savez(f, other=good)
        elif kind == "strings":
            np.savez(f, psi=np.array(["a", "b"]))
        elif kind == "missing":
            f = os.path.join(d, "missing.npz")
        elif kind == "dir":
            f = d
        elif kind == "zeros":
            np.savez(f, psi=np.zeros(16))
        elif kind == "pickle":
            np.savez(f, psi=np.array([object()], dtype=object))
        return f

    for kind in ["good", "truncated", "corrupt", "empty", "0d", "2d", "nan", "len15", "nokey", "strings", "missing",
                 "dir", "zeros", "pickle"]:
        for extra in ([], ["--kinds", "vn", "renyi2"], ["--cuts", "1", "3"]):
            B.add("cli/entropy-state", f"{kind} {' '.join(extra)}".strip(),
                  lambda kind=kind, extra=extra: _cli(["entropy", "--state", state_file(kind), *extra, "--quiet",
                                                       "--out", _tmpdir()]))
    for sub in ("fig1", "fig2", "fig3"):
        for label, mk in out_variants()[1:]:
            B.add("cli/reproduce", f"{sub} out={label}",
                  lambda sub=sub, mk=mk: _cli(["reproduce", sub, "--quiet", "--out", mk()]), timeout=60)
    from nnqs_fast import cli as _cli_mod

    for cmd in _cli_mod.COMMANDS:
        B.add("cli/help", cmd, lambda cmd=cmd: _cli([cmd, "--help"]))
        B.add("cli/bad-option", cmd, lambda cmd=cmd: _cli([cmd, "--no-such-option", "1"]))
        if cmd not in small and cmd not in ("info", "reproduce"):
            for label, mk in out_variants()[1:]:
                B.add(f"cli/{cmd}", f"out={label}", lambda cmd=cmd, mk=mk: _cli([cmd, "--quiet", "--out", mk()]),
                      timeout=60)


@cache
def all_cases() -> dict[str, Case]:
    return _cases().cases


#: groups whose cases run in the in-process fast subset only when they are pure Python/NumPy (no C++ call)
def fast_subset(cases: dict[str, Case], every: int = 10) -> list[str]:
    """A deterministic sample (every ``every``-th case) for the default test run."""
    ids = sorted(cases)
    return [c for i, c in enumerate(ids) if i % every == 0 and not c.startswith("cli/reproduce")]


def _unused() -> None:  # keep imported helpers referenced for linters
    _ = (close_to, all_of, finite_check)
