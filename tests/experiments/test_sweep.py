"""Sweeps (nnqs_fast.experiments.sweep, ``nnqs-fast sweep``): SPEC validation, resumable task files, Dask runs
that are bit-identical to a sequential run (2-worker LocalCluster, a killed worker, a scheduler address, Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nnqs_fast.errors import SpecError
from nnqs_fast.experiments import sweep as sw
from nnqs_fast.experiments.io import load_results

SMALL = {"name": "t", "grid": {"lattice": [[2, 3]], "kind": ["predict", "train"], "width": [8, 16],
                               "train_fraction": [0.25, 0.5], "seed": {"start": 0, "stop": 2}},
         "settings": {"steps": 60, "members": 2}}
#: tasks that last ~1 s each, so a worker can be killed in the middle of the sweep
SLOWER = {"name": "k", "grid": {"lattice": [[3, 3]], "kind": ["train"], "width": [32], "train_size": [128, 192],
                                "seed": {"stop": 4}}, "settings": {"steps": 300, "members": 2}}


def _files(d: Path, points) -> dict:
    out = {}
    for p in points:
        meta, arrays = load_results(d, sw.point_key(p))
        res = {k: v for k, v in meta["results"].items() if k != "wall_time_s"}
        out[sw.point_key(p)] = (res, arrays)
    return out


def _assert_bit_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k][0] == b[k][0], k
        assert a[k][1].keys() == b[k][1].keys()
        for name in a[k][1]:
            np.testing.assert_array_equal(a[k][1][name], b[k][1][name])


@pytest.mark.parametrize("bad,match", [
    ({"grid": {"train_size": [10]}, "oops": 1}, "unknown top-level"),
    ({"settings": {}}, r"needs a \[grid\]"),
    ({"grid": {"train_size": [10], "colour": [1]}}, "unknown grid key"),
    ({"grid": {"system": ["ising"], "train_size": [10]}}, "grid.system"),
    ({"grid": {"lattice": [[3]], "train_size": [10]}}, "grid.lattice"),
    ({"grid": {"kind": ["train"], "train_size": [10]}}, "grid.width"),
    ({"grid": {"kind": ["fit"], "train_size": [10]}}, "grid.kind"),
    ({"grid": {"train_size": [10], "train_fraction": [0.5]}}, "exactly one of"),
    ({"grid": {"train_fraction": [1.5]}}, "grid.train_fraction"),
    ({"grid": {"train_size": []}}, "empty list"),
    ({"grid": {"train_size": [10], "seed": {"start": 3, "stop": 3}}}, "is empty"),
    ({"grid": {"train_size": [10]}, "settings": {"steps": -1}}, "settings.steps"),
    ({"grid": {"train_size": [10]}, "settings": {"lr": 0.9}}, "unknown settings"),
])
def test_spec_validation_named_errors(bad, match):
    with pytest.raises(SpecError, match=match):
        sw.validate_spec(bad)


def test_expand_train_size_out_of_range_and_toml(tmp_path):
    with pytest.raises(SpecError, match=r"outside 1 \.\. 63"):
        sw.expand(sw.validate_spec({"grid": {"lattice": [[2, 3]], "train_size": [64]}}))
    f = tmp_path / "s.toml"
    f.write_text('[grid]\nlattice = [[2, 3]]\ntrain_fraction = [0.5]\nseed = {stop = 3}\n')
    pts = sw.expand(sw.load_spec(f))
    assert [p["seed"] for p in pts] == [0, 1, 2] and {p["train_size"] for p in pts} == {32}
    f.write_text("[grid\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        sw.load_spec(f)
    with pytest.raises(SpecError, match="does not exist"):
        sw.load_spec(tmp_path / "missing.toml")


def test_expand_points_and_keys():
    pts = sw.expand(sw.validate_spec(SMALL))
    assert len(pts) == 2 * 2 * (1 + 2)  # sizes × seeds × (predict + 2 widths)
    assert all(p["width"] is None for p in pts if p["kind"] == "predict")
    assert {p["train_size"] for p in pts} == {16, 32}
    keys = [sw.point_key(p) for p in pts]
    assert len(set(keys)) == len(keys)
    assert keys == [sw.point_key(p) for p in sw.expand(sw.validate_spec(SMALL))]  # deterministic


def test_inprocess_sweep_writes_merged_files_and_resumes(tmp_path, monkeypatch):
    spec = sw.validate_spec(SMALL)
    res = sw.run_sweep(spec, tmp_path, scheduler=None, quiet=True)
    assert len(res["results"]) == 12
    meta, arrays = load_results(tmp_path, "sweep")
    assert meta["results"]["n_tasks"] == 12 and arrays["test_loss"].shape == (12,)
    assert np.all(np.isfinite(arrays["test_loss"])) and np.all(arrays["test_loss"] > 0)
    assert (tmp_path / "losses_vs_fraction.png").is_file() and (tmp_path / "widths_vs_qsntk.png").is_file()

    def boom(*a, **k):
        raise AssertionError("a finished task was recomputed")

    monkeypatch.setattr(sw, "_compute", boom)
    sw.run_sweep(spec, tmp_path, scheduler=None, quiet=True, plot=False)  # everything skipped


def _reference(tmp_path: Path, spec: dict) -> dict:
    pytest.importorskip("threadpoolctl")
    pts = sw.expand(sw.validate_spec(spec))
    sw.run_points(pts, tmp_path / "ref", scheduler=None, threads=1, n_workers_inprocess=1, quiet=True)
    return _files(tmp_path / "ref", pts)


def test_local_cluster_two_workers_bit_identical(tmp_path):
    pytest.importorskip("distributed")
    ref = _reference(tmp_path, SMALL)
    spec = sw.validate_spec(SMALL)
    sw.run_sweep(spec, tmp_path / "dask", scheduler="local", workers=2, quiet=True, plot=False)
    _assert_bit_identical(_files(tmp_path / "dask" / "tasks", sw.expand(spec)), ref)


@pytest.mark.slow
def test_killed_worker_and_scheduler_address(tmp_path):
    """A worker process is SIGKILLed mid-sweep (cluster started separately, passed by address); Dask retries
    the lost task, a rerun has nothing left to do, and the files equal an uninterrupted sequential run."""
    distributed = pytest.importorskip("distributed")
    ref = _reference(tmp_path, SLOWER)
    pts = sw.expand(sw.validate_spec(SLOWER))
    out = tmp_path / "killed"
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env, silence_logs=40) as cluster, distributed.Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        errors: list[BaseException] = []

        def go() -> None:
            try:
                sw.run_points(pts, out, scheduler=cluster.scheduler_address, threads=1, quiet=True)
            except BaseException as exc:
                errors.append(exc)

        th = threading.Thread(target=go)
        th.start()
        deadline = time.time() + 120
        while time.time() < deadline and not list(out.glob("*.json")):
            time.sleep(0.05)
        n_done_at_kill = len(list(out.glob("*.json")))
        os.kill(pids[0], signal.SIGKILL)
        th.join(600)
        assert n_done_at_kill < len(pts), "the sweep finished before the worker was killed"
        # the first run either completed (Dask retried the lost task) or failed; the rerun completes
        sw.run_points(pts, out, scheduler=cluster.scheduler_address, threads=1, quiet=True)
    _assert_bit_identical(_files(out, pts), ref)


@pytest.mark.slow
def test_ctrl_c_then_resume(tmp_path):
    pytest.importorskip("distributed")
    ref = _reference(tmp_path, SLOWER)
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('name = "k"\n[grid]\nlattice = [[3, 3]]\nkind = ["train"]\nwidth = [32]\n'
                         'train_size = [128, 192]\nseed = {stop = 4}\n[settings]\nsteps = 300\nmembers = 2\n')
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "nnqs_fast.cli", "sweep", str(spec_file), "--out", str(out), "--workers", "2",
           "--quiet", "--no-plot"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(sw.__file__).parents[2]),
                                                        os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and not list((out / "tasks").glob("*.json")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    n_after_interrupt = len(list((out / "tasks").glob("*.json")))
    assert proc.returncode == 130, err[-2000:]
    assert 0 < n_after_interrupt < 8
    assert not (out / "sweep.json").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    pts = sw.expand(sw.load_spec(spec_file))
    _assert_bit_identical(_files(out / "tasks", pts), ref)
    assert (out / "sweep.json").is_file()
