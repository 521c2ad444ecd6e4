"""Parameter sweeps on Dask: a TOML grid → one task per grid point → result files keyed by the point's hash.

SPEC (TOML; every key below is checked, unknown keys raise :class:`~nnqs_fast.errors.SpecError`)::

    name = "fig3_4x4"                         # optional, recorded in the merged file
    [grid]                                    # the cartesian product of these lists is the task list
    system = ["tfim"]                         # "tfim" | "hubbard"
    lattice = [[3, 4], [4, 4]]                # (lx, ly) pairs
    boundary = ["open"]                       # "open" | "periodic"
    kind = ["predict", "train"]               # predict: QS-NTK (closed form); train: finite-width ensemble
    width = [64, 128]                         # hidden widths (train tasks only; predict tasks ignore it)
    train_fraction = [0.3, 0.5]               # or train_size = [1200, 2400] (absolute; not both)
    seed = {start = 0, stop = 2}              # a list or a range: split + network seeds of the point
    [settings]                                # shared by every task
    steps = 1000                              # gradient-descent steps (the plotted loss is at this step)
    members = 2                               # ensemble size K of train tasks
    lr_factor = 0.9                           # learning rate / η_max(analytic NTK of the train points)
    W_std = 0.5
    b_std = 0.1

Each grid point becomes a canonical dict (:func:`expand`) and a key ``sha256(canonical JSON)[:16]``; the task
(:func:`run_task`) is a pure function of the point: it writes ``DIR/tasks/<key>.npz`` then ``<key>.json``
(both atomically; the JSON is the completion marker) and returns the scalar results. Seeds come from the point,
so results do not depend on the number of workers or on the completion order, and a rerun skips every point
whose JSON exists (resume after a crash, Ctrl-C or a lost worker). Dask is the engine
(:func:`run_points`): a ``distributed.LocalCluster`` (``n_workers`` processes, one task at a time each) or any
scheduler by address; a task lost with its worker is retried (``retries``). Each task runs with ``threads``
BLAS/OpenMP threads (default 1, set through the workers' environment and ``threadpoolctl``), which makes the
results bit-identical for any number of workers; more threads per task are faster for large points but round
differently. Without a scheduler (``scheduler=None``) the tasks run in this process, one after another (same
task functions, same files) — what ``reproduce fig3`` does unless ``--scheduler`` is given.

Loss convention: ``L_Ψl`` (Eq. 17; mean over members of the member losses; ``(1/|S|) Σ_S |ψ − ψ_T|²``) at step
``steps``; time unit: gradient-descent steps (discrete, as the finite networks); learning rate
``lr_factor × n / λ_max(Θ_train)``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, SpecError

__all__ = ["load_spec", "validate_spec", "expand", "make_point", "point_key", "task_done", "run_task", "run_points",
           "run_sweep", "merge_results", "plot_sweep", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
GRID_KEYS = ("system", "lattice", "boundary", "kind", "width", "train_fraction", "train_size", "seed")
SETTINGS = {"steps": (int, 1000), "members": (int, 2), "lr_factor": (float, 0.9), "learning_rate": (float, None),
            "W_std": (float, 0.5), "b_std": (float, 0.1), "early_stop": (float, 0.0)}
KINDS = ("predict", "train")


# ---------------------------------------------------------------------------------------------------- spec
def load_spec(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a TOML SPEC file (:func:`validate_spec`)."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"sweep SPEC {p} does not exist; pass the path of a TOML file (see examples/)")
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"sweep SPEC {p} is not valid TOML: {exc}") from exc
    return validate_spec(raw)


def _as_list(v: Any, key: str) -> list[Any]:
    if isinstance(v, Mapping):  # a range {start, stop[, step]}
        extra = set(v) - {"start", "stop", "step"}
        if extra or "stop" not in v:
            raise SpecError(f"grid.{key}: a range needs 'stop' (and optional 'start', 'step'), got keys {sorted(v)}")
        vals = [v.get("start", 0), v["stop"], v.get("step", 1)]
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in vals) or vals[2] <= 0:
            raise SpecError(f"grid.{key}: range bounds must be integers with step > 0, got {dict(v)}")
        out = list(range(*vals))
        if not out:
            raise SpecError(f"grid.{key}: the range {dict(v)} is empty")
        return out
    if isinstance(v, list):
        if not v:
            raise SpecError(f"grid.{key} is an empty list; give at least one value")
        return v
    return [v]


def validate_spec(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check a SPEC dict and fill defaults; returns ``{"name", "grid": {key: list}, "settings": {...}}``.

    Raises :class:`~nnqs_fast.errors.SpecError` naming the offending key.
    """
    if not isinstance(raw, Mapping):
        raise SpecError(f"a sweep SPEC must be a table, got {type(raw).__name__}")
    unknown = set(raw) - {"name", "grid", "settings"}
    if unknown:
        raise SpecError(f"unknown top-level SPEC key(s) {sorted(unknown)}; valid: name, grid, settings")
    grid_raw = raw.get("grid")
    if not isinstance(grid_raw, Mapping):
        raise SpecError("the SPEC needs a [grid] table (system, lattice, kind, train_fraction or train_size, ...)")
    unknown = set(grid_raw) - set(GRID_KEYS)
    if unknown:
        raise SpecError(f"unknown grid key(s) {sorted(unknown)}; valid: {', '.join(GRID_KEYS)}")
    grid = {k: _as_list(v, k) for k, v in grid_raw.items()}
    grid.setdefault("system", ["tfim"])
    grid.setdefault("lattice", [[3, 4]])
    grid.setdefault("boundary", ["open"])
    grid.setdefault("kind", ["predict"])
    grid.setdefault("seed", [0])
    for s in grid["system"]:
        if s not in ("tfim", "hubbard"):
            raise SpecError(f"grid.system: {s!r} is not 'tfim' or 'hubbard'")
    for lat in grid["lattice"]:
        if not (isinstance(lat, list) and len(lat) == 2 and all(isinstance(v, int) and v >= 1 for v in lat)):
            raise SpecError(f"grid.lattice: each entry must be [lx, ly] with positive integers, got {lat!r}")
    for b in grid["boundary"]:
        if b not in ("open", "periodic"):
            raise SpecError(f"grid.boundary: {b!r} is not 'open' or 'periodic'")
    for k in grid["kind"]:
        if k not in KINDS:
            raise SpecError(f"grid.kind: {k!r} is not one of {KINDS}")
    if "train" in grid["kind"] and "width" not in grid:
        raise SpecError("grid.kind contains 'train': give grid.width (hidden widths of the finite networks)")
    for w in grid.get("width", []):
        if not (isinstance(w, int) and not isinstance(w, bool) and w >= 1):
            raise SpecError(f"grid.width: widths must be positive integers, got {w!r}")
    has_f, has_n = "train_fraction" in grid, "train_size" in grid
    if has_f == has_n:
        raise SpecError("the grid needs exactly one of train_fraction (0 < f < 1) or train_size (integers)")
    for f in grid.get("train_fraction", []):
        if not (isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 1):
            raise SpecError(f"grid.train_fraction: values must lie in (0, 1), got {f!r}")
    for n in grid.get("train_size", []):
        if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
            raise SpecError(f"grid.train_size: values must be positive integers, got {n!r}")
    for s in grid["seed"]:
        if not (isinstance(s, int) and not isinstance(s, bool) and s >= 0):
            raise SpecError(f"grid.seed: seeds must be non-negative integers, got {s!r}")
    st_raw = raw.get("settings", {})
    if not isinstance(st_raw, Mapping):
        raise SpecError("[settings] must be a table")
    unknown = set(st_raw) - set(SETTINGS)
    if unknown:
        raise SpecError(f"unknown settings key(s) {sorted(unknown)}; valid: {', '.join(SETTINGS)}")
    settings: dict[str, Any] = {}
    for key, (typ, default) in SETTINGS.items():
        v = st_raw.get(key, default)
        if v is not None:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (typ is float or isinstance(v, int))
            if not ok or not np.isfinite(v) or (v <= 0 and key not in ("early_stop",)) or v < 0:
                raise SpecError(f"settings.{key} must be a positive {typ.__name__}, got {v!r}")
            v = typ(v)
        settings[key] = v
    name = raw.get("name", "sweep")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\"):
        raise SpecError(f"name must be a plain non-empty string, got {name!r}")
    return {"name": name, "grid": grid, "settings": settings}


def _dim(system: str, lx: int, ly: int) -> int:
    from ..physics.targets import basis_dimension

    return basis_dimension(system, lx, ly)


def expand(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The task list: one canonical point dict per grid combination (train tasks × widths; predict tasks once).

    A ``train_fraction`` f becomes ``train_size = round(f · dim)``. Points are ordered deterministically.
    """
    g, st = spec["grid"], spec["settings"]
    sizes_key = "train_fraction" if "train_fraction" in g else "train_size"
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    for system, lat, boundary, kind, size, seed in itertools.product(
            g["system"], g["lattice"], g["boundary"], g["kind"], g[sizes_key], g["seed"]):
        lx, ly = int(lat[0]), int(lat[1])
        dim = _dim(system, lx, ly)
        n = round(size * dim) if sizes_key == "train_fraction" else int(size)
        if not 1 <= n < dim:
            raise SpecError(f"train size {n} (from {sizes_key} = {size}) is outside 1 .. {dim - 1} for {system} "
                            f"{lx}x{ly} (basis size {dim})")
        widths = g["width"] if kind == "train" else [None]
        for w in widths:
            p = make_point(system, lx, ly, boundary, kind, n, int(seed), st, width=w)
            k = point_key(p)
            if k not in seen:
                seen.add(k)
                points.append(p)
    return points


def make_point(system: str, lx: int, ly: int, boundary: str, kind: str, train_size: int, seed: int,
               settings: Mapping[str, Any], width: int | None = None, force: bool = False) -> dict[str, Any]:
    """The canonical task dict of one grid point (what :func:`point_key` hashes and :func:`run_task` reads)."""
    st = {k: settings.get(k, d) for k, (_, d) in SETTINGS.items()}
    p = {"v": SCHEMA_VERSION, "system": system, "lx": int(lx), "ly": int(ly), "boundary": boundary, "kind": kind,
         "width": None if width is None else int(width), "train_size": int(train_size),
         "dim": _dim(system, lx, ly), "seed": int(seed), "steps": int(st["steps"]), "lr_factor": st["lr_factor"],
         "learning_rate": st["learning_rate"], "W_std": st["W_std"], "b_std": st["b_std"]}
    if kind == "train":
        p.update(members=int(st["members"]), early_stop=st["early_stop"])
        if force:
            p["force"] = True
    return p


def point_key(point: Mapping[str, Any]) -> str:
    """``sha256`` of the point's canonical JSON (sorted keys), first 16 hex digits: its result files' stem."""
    blob = json.dumps(dict(point), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------- tasks
_TARGETS: dict[tuple, Any] = {}


def _target(system: str, lx: int, ly: int, boundary: str) -> Any:
    """make_target, cached per worker process (a pure function of its arguments)."""
    key = (system, lx, ly, boundary)
    if key not in _TARGETS:
        from ..physics import make_target

        _TARGETS.clear()  # hold one target per process (4×4 targets are large)
        _TARGETS[key] = make_target(system, lx=lx, ly=ly, boundary=boundary)
    return _TARGETS[key]


def _compute(point: Mapping[str, Any], n_workers: int | None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from . import _training_figs as tf

    p = point
    target = _target(p["system"], p["lx"], p["ly"], p["boundary"])
    n, T = int(p["train_size"]), int(p["steps"])
    q = tf.qsntk(target, n, p["seed"], np.array([T]), p["learning_rate"], p["lr_factor"], "cpu",
                 W_std=p["W_std"], b_std=p["b_std"]) if p["kind"] == "predict" else None
    if q is not None:
        D = int(target.dim)
        res = {"test_loss": float(q["curves"]["L_psi_test"][-1]), "train_loss": float(q["curves"]["L_psi_train"][-1]),
               "test_loss_inf": float(q["limits"]["L_psi_test_inf"]),
               "fidelity": float(q["curves"]["fidelity"][-1]), "fidelity_inf": float(q["limits"]["fidelity_inf"]),
               "learning_rate": q["learning_rate"], "eta_max": q["eta_max"], "target": dict(target.config)}
        res["total_loss"] = (n * res["train_loss"] + (D - n) * res["test_loss"]) / D
        return res, {"steps": q["steps"], **{k: np.asarray(v) for k, v in q["curves"].items()}}
    from ..training import train_ensemble

    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    tr, te = tf.split(psi.shape[0], n, p["seed"])
    eta = _eta_max(x[tr], p["W_std"], p["b_std"])
    lr = float(p["learning_rate"]) if p["learning_rate"] is not None else p["lr_factor"] * eta
    ens = train_ensemble(x[tr], psi[tr], x[te], psi[te], width=int(p["width"]), n_members=int(p["members"]),
                         n_steps=T, learning_rate=lr, max_learning_rate=eta, force=bool(p.get("force", False)),
                         W_std=p["W_std"], b_std=p["b_std"],
                         seed=int(p["seed"]), record_steps=[0, T], early_stop_rtol=p["early_stop"],
                         n_workers=n_workers, backend="cpu", quiet=True)
    if ens.interrupted:
        raise KeyboardInterrupt
    D = psi.shape[0]
    res = {"test_loss": float(ens.test_loss_ensemble[-1]), "train_loss": float(ens.train_loss_ensemble[-1]),
           "test_loss_of_mean": float(ens.test_loss_of_mean[-1]), "learning_rate": lr, "eta_max": eta,
           "target": dict(target.config)}
    res["total_loss"] = (n * res["train_loss"] + (D - n) * res["test_loss"]) / D
    return res, {"member_test_loss": np.asarray(ens.test_loss[:, -1]),
                 "member_train_loss": np.asarray(ens.train_loss[:, -1])}


def _eta_max(xtr: np.ndarray, W_std: float, b_std: float) -> float:
    """η_max = n / λ_max of the analytic NTK on the train inputs (as :func:`run_predict_curves` computes it)."""
    from ..dynamics.predict import _max_learning_rate
    from .predict_curves import _relu_kernel_fn

    k = _relu_kernel_fn(1, W_std, b_std)(xtr, None, get=("nngp", "ntk"), backend="cpu")
    return float(_max_learning_rate(np.asarray(k.ntk)))


def task_done(out_dir: str | os.PathLike, point: Mapping[str, Any]) -> bool:
    """Whether the point's completion marker ``<key>.json`` exists under ``out_dir``."""
    return (Path(out_dir) / f"{point_key(point)}.json").is_file()


def run_task(point: Mapping[str, Any], out_dir: str, threads: int | None = None,
             n_workers: int | None = 1) -> dict[str, Any]:
    """Compute one grid point and write ``out_dir/<key>.npz`` + ``<key>.json`` (atomic; JSON last).

    A pure function of ``point`` (seeds from the point; BLAS/OpenMP limited to ``threads`` inside). Skips the
    work when the JSON already exists. Returns ``{"key", "results", "skipped"}``.
    """
    from .._linalg import blas_threads
    from .io import load_results, save_results

    key = point_key(point)
    if task_done(out_dir, point):
        meta, _ = load_results(out_dir, key)
        return {"key": key, "results": meta["results"], "skipped": True}
    t0 = time.perf_counter()
    with blas_threads(threads):
        results, arrays = _compute(point, n_workers)
    results["wall_time_s"] = time.perf_counter() - t0
    save_results(out_dir, key, config=dict(point), results=results, arrays=arrays, seed=int(point["seed"]),
                 backend="cpu")
    return {"key": key, "results": results, "skipped": False}


# ---------------------------------------------------------------------------------------------------- engine
def _client(scheduler: str, workers: int | None, threads: int | None) -> tuple[Any, Any, int | None]:
    """(client, cluster or None, BLAS threads per task) for ``scheduler`` = "local" or an address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise BackendUnavailableError("Dask is not installed: pip install 'nnqs_fast[dask]' (dask[distributed]) "
                                      "to run sweeps, or run `reproduce fig3` without --scheduler") from exc
    if scheduler != "local":  # the same thread rule on any cluster: results do not depend on where tasks ran
        return Client(scheduler, timeout="30s"), None, 1 if threads is None else int(threads)
    cores = os.cpu_count() or 1
    n = max(1, int(workers or cores))
    # one BLAS thread per task unless asked: the results are then bit-identical for any number of workers
    # (a BLAS reduction's rounding depends on its thread count); workers × threads <= cores is the user's choice
    per = 1 if threads is None else int(threads)
    if n * per > cores:
        import warnings

        warnings.warn(f"{n} workers x {per} BLAS threads exceeds the {cores} cores of this machine", stacklevel=3)
    env = {v: str(per) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           env=env, silence_logs=40)
    return Client(cluster), cluster, per


def run_points(points: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike, *, scheduler: str | None = "local",
               workers: int | None = None, threads: int | None = None, retries: int = 3, quiet: bool = False,
               n_workers_inprocess: int | None = None,
               on_result: Callable[[Mapping[str, Any], dict[str, Any]], None] | None = None) -> dict[str, dict]:
    """Run (or skip, when finished) every point; returns ``{key: results}`` for all points.

    ``scheduler``: ``"local"`` (a LocalCluster of ``workers`` processes (default: one per core), one task at a
    time each, ``threads`` BLAS threads per task (default 1)), a scheduler address (``tcp://host:port``), or None (this
    process, sequentially). Ctrl-C cancels the outstanding tasks and re-raises; finished tasks stay on disk.
    """
    from .._progress import progress

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keyed = {point_key(p): p for p in points}
    todo = [p for k, p in keyed.items() if not task_done(out, p)]
    done: dict[str, dict] = {}
    bar = progress(total=len(keyed), desc="sweep", quiet=quiet, initial=len(keyed) - len(todo))
    try:
        if scheduler is None or not todo:
            for p in todo:
                r = run_task(p, str(out), threads, n_workers_inprocess)
                if on_result:
                    on_result(p, r["results"])
                bar.update()
        else:
            client, cluster, per = _client(scheduler, workers, threads)
            try:
                from distributed import as_completed

                futs = {client.submit(run_task, dict(p), str(out.resolve()), per, 1, key=f"nnqs-task-{point_key(p)}",
                                      retries=retries, pure=False): p for p in todo}
                try:
                    for fut in as_completed(list(futs)):
                        r = fut.result()
                        if on_result:
                            on_result(futs[fut], r["results"])
                        bar.update()
                except BaseException:
                    client.cancel(list(futs))
                    raise
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    finally:
        bar.close()
    from .io import load_results

    for k in keyed:
        done[k] = load_results(out, k)[0]["results"]
    return done


def run_sweep(spec: Mapping[str, Any], out_dir: str | os.PathLike, *, scheduler: str | None = "local",
              workers: int | None = None, threads: int | None = None, retries: int = 3, quiet: bool = False,
              plot: bool = True) -> dict[str, Any]:
    """Expand ``spec``, run its tasks under ``out_dir/tasks`` (:func:`run_points`), write the merged
    ``out_dir/sweep.json`` + ``sweep.npz`` and the figures; returns ``{"points", "results", "wall_time_s"}``."""
    from .io import save_results

    points = expand(spec)
    t0 = time.perf_counter()
    results = run_points(points, Path(out_dir) / "tasks", scheduler=scheduler, workers=workers, threads=threads,
                         retries=retries, quiet=quiet)
    wall = time.perf_counter() - t0
    table, arrays = merge_results(points, results)
    save_results(out_dir, "sweep", config={"spec": dict(spec), "scheduler": scheduler, "workers": workers},
                 results={"n_tasks": len(points), "wall_time_s": wall, "tasks": table,
                          "loss": "test L_Psi_l (Eq. 17) at settings.steps; train fraction = train_size / dim"},
                 arrays=arrays, seed=None, backend="cpu")
    if plot:
        plot_sweep(points, results, Path(out_dir))
    return {"points": points, "results": results, "wall_time_s": wall}


def merge_results(points: Iterable[Mapping[str, Any]], results: Mapping[str, Mapping[str, Any]]
                  ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One row per point (its settings, key and scalar results) and column arrays of the numeric fields."""
    table = []
    for p in points:
        k = point_key(p)
        table.append({"key": k, **dict(p), **{a: b for a, b in results[k].items() if not isinstance(b, dict)}})
    cols = ("lx", "ly", "train_size", "dim", "seed", "steps", "test_loss", "train_loss", "total_loss",
            "learning_rate", "eta_max")
    arrays: dict[str, np.ndarray] = {c: np.array([float(r.get(c, np.nan)) for r in table]) for c in cols}
    arrays["width"] = np.array([np.nan if r["width"] is None else float(r["width"]) for r in table])
    arrays["is_train"] = np.array([r["kind"] == "train" for r in table])
    arrays["train_fraction"] = arrays["train_size"] / arrays["dim"]
    return table, arrays


def plot_sweep(points: Sequence[Mapping[str, Any]], results: Mapping[str, Mapping[str, Any]],
               out_dir: Path) -> list[Path]:
    """Figures: ``losses_vs_fraction.png`` (one panel per system × lattice: test L_Ψl at the final step vs the
    train fraction, one line per width and the QS-NTK, mean ± std over seeds) and ``widths_vs_qsntk.png``
    (finite-width loss / QS-NTK loss vs width)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple, dict] = {}
    for p in points:
        r = results[point_key(p)]
        g = groups.setdefault((p["system"], p["lx"], p["ly"], p["boundary"]), {})
        line = "QS-NTK" if p["kind"] == "predict" else int(p["width"])
        g.setdefault(line, {}).setdefault(p["train_size"] / p["dim"], []).append(r["test_loss"])
    paths = []
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 3.6), squeeze=False)
    for ax, ((system, lx, ly, boundary), g) in zip(axes[0], sorted(groups.items())):
        for i, line in enumerate(sorted(g, key=lambda v: (isinstance(v, str), v))):
            xs = sorted(g[line])
            ys = np.array([np.mean(g[line][f]) for f in xs])
            es = np.array([np.std(g[line][f]) for f in xs])
            sty = {"color": "k", "marker": "^"} if line == "QS-NTK" else {"color": f"C{i}", "marker": "o"}
            ax.errorbar(xs, ys, yerr=es, ms=4, capsize=2, label="QS-NTK" if line == "QS-NTK" else f"Width N={line}",
                        **sty)
        ax.set_xlabel("train fraction n / dim")
        ax.set_title(f"{system.upper()} {lx}x{ly} ({boundary})", fontsize=9)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(r"test $L_{\Psi_l}$ at the final step")
    fig.tight_layout()
    paths.append(out_dir / "losses_vs_fraction.png")
    fig.savefig(paths[-1], dpi=130)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    for i, (gk, g) in enumerate(sorted(groups.items())):
        if "QS-NTK" not in g:
            continue
        ws = sorted(w for w in g if w != "QS-NTK")
        ratios = [np.mean([np.mean(g[w][f]) / np.mean(g["QS-NTK"][f]) for f in g[w] if f in g["QS-NTK"]])
                  for w in ws]
        if ws:
            ax.plot(ws, ratios, "o-", color=f"C{i}", label=f"{gk[0]} {gk[1]}x{gk[2]}")
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel("finite-width / QS-NTK test loss")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "widths_vs_qsntk.png")
    fig.savefig(paths[-1], dpi=130)
    plt.close(fig)
    return paths


def add_scheduler_arguments(parser: Any, *, default: str | None, workers_flag: str = "--workers") -> None:
    """``--scheduler`` and the worker count (``sweep``: ``--workers``; ``reproduce fig3``: ``--dask-workers``,
    since its ``--workers`` counts networks trained concurrently)."""
    parser.add_argument("--scheduler", default=default, metavar="local|ADDRESS",
                        help="Dask scheduler: 'local' (a LocalCluster on this machine) or an address "
                             "tcp://host:port" + (f" (default: {default})" if default else
                                                  " (default: run the tasks in this process, no Dask)"))
    parser.add_argument(workers_flag, type=int, default=None, metavar="N", dest="dask_workers",
                        help="worker processes of the local cluster (default: one per core); each runs one task "
                             "at a time")
