"""The fuzz suite's machinery: run a case, classify its outcome, isolate risky cases in a worker subprocess.

Outcome classes (the suite's summary table counts each):

* ``ok`` — returned, and the result passed its oracle/invariant check (and the generic finiteness check);
* ``named-error`` — refused with an :mod:`nnqs_fast.errors` class (or a clean CLI refusal: argparse usage error,
  one-line ``error:`` message, no traceback);
* ``warning`` — returned and emitted a named nnqs_fast warning (e.g. ``PrecisionLossWarning``);
* ``generic-exception`` — any other Python exception reached the caller (a defect: not actionable);
* ``crash`` — the worker process died (segfault, abort): recorded, the worker is restarted;
* ``hang-or-oom`` — the case ran past its timeout, or hit the memory cap (a bare ``MemoryError``);
* ``silent-wrong`` — returned an answer that fails its oracle/invariant, a non-finite value without a named
  warning, or leaked a foreign (NumPy) warning instead of a named one.
"""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

OUTCOMES = ("ok", "named-error", "warning", "generic-exception", "crash", "hang-or-oom", "silent-wrong")
#: classes that fail the suite
BAD = ("generic-exception", "crash", "hang-or-oom", "silent-wrong")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MEM_CAP_BYTES = 3 * 1024**3
DEFAULT_TIMEOUT_S = 60.0

Check = Callable[[Any], "str | None"]


@dataclass
class Case:
    """One fuzz input: ``fn()`` is the call, ``check(result)`` returns ``None`` or what is wrong."""

    id: str
    group: str
    fn: Callable[[], Any]
    check: Check | None = None
    #: outcome classes this case may legitimately end in (``None``: any non-BAD class)
    expect: tuple[str, ...] | None = None
    timeout: float = DEFAULT_TIMEOUT_S


@dataclass
class Result:
    id: str
    group: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "group": self.group, "outcome": self.outcome, "detail": self.detail,
                "seconds": round(self.seconds, 4)}


@dataclass
class Recorder:
    """Session-wide collection of results (the summary plugin in conftest.py prints and saves it)."""

    results: list[Result] = field(default_factory=list)

    def add(self, r: Result) -> Result:
        self.results.append(r)
        return r

    def counts(self) -> Counter:
        return Counter(r.outcome for r in self.results)


RECORDER = Recorder()


# ---------------------------------------------------------------------------------------------- classification
def _named_warning_classes() -> tuple[type, ...]:
    """Warning classes defined by nnqs_fast (errors.PrecisionLossWarning, physics' DegenerateGroundStateWarning,
    ...): found by walking the loaded nnqs_fast modules."""
    out = []
    for name, mod in list(sys.modules.items()):
        if name == "nnqs_fast" or name.startswith("nnqs_fast."):
            for c in list(vars(mod).values()):
                if isinstance(c, type) and issubclass(c, Warning) and c.__module__.startswith("nnqs_fast"):
                    out.append(c)
    return tuple(set(out))


def _nonfinite_paths(obj: Any, path: str = "result", depth: int = 0) -> list[str]:
    """Where ``obj`` (arrays, numbers, dataclasses, tuples, dicts) holds NaN/inf (first few)."""
    if depth > 4:
        return []
    out: list[str] = []
    if isinstance(obj, (bool, np.bool_, str, bytes)) or obj is None:
        return out
    if isinstance(obj, (int, np.integer)):
        return out
    if isinstance(obj, (float, complex, np.floating, np.complexfloating)):
        return [] if np.isfinite(obj) else [path]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc" and obj.size and not np.all(np.isfinite(obj)):
            return [path]
        return out
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:50]:
            out += _nonfinite_paths(v, f"{path}[{k!r}]", depth + 1)
        return out
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj[:50]):
            out += _nonfinite_paths(v, f"{path}[{i}]", depth + 1)
        return out
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields:
        for k in fields:
            if k in ("config", "meta", "fit_params"):
                continue
            out += _nonfinite_paths(getattr(obj, k, None), f"{path}.{k}", depth + 1)
    return out


#: result attributes that may legitimately be non-finite: a singular kernel has condition number inf; a record
#: without a test set holds NaN test losses (documented in StepRecord/EnsembleResult: NaN = not recorded)
ALLOWED_INF = ("condition_number", "max_learning_rate", "lambda_max", "stopped_at", "renyi2", "log_", ".test_loss",
               ".test_pred", "part_test_loss", "test_loss_ensemble", "test_loss_of_mean")


def classify_call(fn: Callable[[], Any], check: Check | None) -> tuple[str, str]:
    """Run ``fn`` in this process and classify the outcome (see module docstring)."""
    from nnqs_fast.errors import NnqsError

    named_w = _named_warning_classes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except NnqsError as exc:
            return "named-error", f"{type(exc).__name__}: {str(exc)[:300]}"
        except MemoryError as exc:
            return "hang-or-oom", f"bare MemoryError: {str(exc)[:200]}"
        except RecursionError as exc:
            return "generic-exception", f"RecursionError: {str(exc)[:200]}"
        except Exception as exc:
            return "generic-exception", f"{type(exc).__name__}: {str(exc)[:300]}"
    named = [w for w in caught if issubclass(w.category, named_w)]
    foreign = [w for w in caught if not issubclass(w.category, named_w)
               and not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))]
    try:
        problem = check(result) if check is not None else None
    except Exception as exc:
        problem = f"check raised {type(exc).__name__}: {exc}"
    if problem:
        return "silent-wrong", str(problem)[:300]
    if foreign:
        w = foreign[0]
        return "silent-wrong", f"foreign warning {w.category.__name__}: {str(w.message)[:200]}"
    bad = [p for p in _nonfinite_paths(result) if not any(a in p for a in ALLOWED_INF)]
    if named:
        return "warning", f"{named[0].category.__name__}: {str(named[0].message)[:200]}"
    if bad:
        return "silent-wrong", f"non-finite value(s) without a named warning at {', '.join(bad[:3])}"
    return "ok", ""


def run_inprocess(case: Case, recorder: Recorder | None = RECORDER) -> Result:
    t0 = time.perf_counter()
    outcome, detail = classify_call(case.fn, case.check)
    r = Result(case.id, case.group, outcome, detail, time.perf_counter() - t0)
    if recorder is not None:
        recorder.add(r)
    return r


# ------------------------------------------------------------------------------------------------ subprocesses
def _limit_child() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP_BYTES, MEM_CAP_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _package_root() -> str:
    """The directory the test process imports ``nnqs_fast`` from: the working tree's ``python/`` after
    ``tools/dev_build.sh``, site-packages after ``pip install .`` (CI). Children must test the same build."""
    import nnqs_fast

    return str(Path(nnqs_fast.__file__).resolve().parent.parent)


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_package_root(), str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "2")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["NNQS_FAST_QUIET"] = "1"
    # The package's own budget below the worker's address-space cap, written the way users write it (1e9):
    env["NNQS_FAST_MAX_BYTES"] = "1e9"
    env["PYTHONFAULTHANDLER"] = "1"
    if extra:
        env.update(extra)
    return env


class Worker:
    """A persistent subprocess that runs cases by id (``fuzz_worker.py``); restarted after a crash or hang."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.fresh = True

    def _start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.fresh = True
            self.proc = subprocess.Popen([sys.executable, str(HERE / "fuzz_worker.py")], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=worker_env(),
                                         preexec_fn=_limit_child, cwd=str(REPO))
        return self.proc

    def _release(self) -> None:
        if self.proc is not None:
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    if f is not None:
                        f.close()
                except OSError:
                    pass
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._release()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=10)
            except Exception:
                self.kill()
        self._release()

    def run(self, case: Case, recorder: Recorder | None = RECORDER) -> Result:
        proc = self._start()
        t0 = time.perf_counter()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(case.id + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self.kill()
            proc = self._start()
            proc.stdin.write(case.id + "\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        # the first case of a fresh worker also pays its start-up (imports) on a busy machine
        deadline = t0 + case.timeout + (30.0 if self.fresh else 0.0)
        self.fresh = False
        line = ""
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                self.kill()
                r = Result(case.id, case.group, "hang-or-oom", f"timeout after {case.timeout:.0f} s",
                           time.perf_counter() - t0)
                break
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if ready:
                line = proc.stdout.readline()
                if not line:  # EOF: the worker died
                    rc = proc.wait()
                    self._release()
                    r = Result(case.id, case.group, "crash" if rc != 0 else "generic-exception",
                               f"worker exited with code {rc}", time.perf_counter() - t0)
                    break
                if line.startswith("@@RESULT "):
                    d = json.loads(line[len("@@RESULT "):])
                    r = Result(case.id, case.group, d["outcome"], d["detail"], d["seconds"])
                    break
        if recorder is not None:
            recorder.add(r)
        return r


# ---------------------------------------------------------------------------------------------- summary output
def summary_table(results: list[Result]) -> str:
    counts = Counter(r.outcome for r in results)
    total = len(results)
    lines = [f"nnqs_fast fuzz summary: {total} cases"]
    for o in OUTCOMES:
        n = counts.get(o, 0)
        pct = 100.0 * n / total if total else 0.0
        lines.append(f"  {o:<18} {n:>6}  ({pct:5.1f} %)")
    by_group = Counter(r.group for r in results)
    lines.append(f"  groups covered: {len(by_group)}")
    for r in results:
        if r.outcome in BAD:
            lines.append(f"  {r.outcome}: {r.id}: {r.detail}")
    return "\n".join(lines)


def summary_json(results: list[Result]) -> dict[str, Any]:
    counts = Counter(r.outcome for r in results)
    groups: dict[str, Counter] = {}
    for r in results:
        groups.setdefault(r.group, Counter())[r.outcome] += 1
    return {"total": len(results), "counts": {o: counts.get(o, 0) for o in OUTCOMES},
            "groups": {g: dict(c) for g, c in sorted(groups.items())},
            "bad": [r.as_dict() for r in results if r.outcome in BAD]}


# ------------------------------------------------------------------------------------------------ common checks
def in_range(lo: float, hi: float, *, name: str = "value", tol: float = 1e-9) -> Check:
    def check(v: Any) -> str | None:
        a = np.asarray(v, dtype=float)
        if a.size and (np.any(a < lo - tol * max(1.0, abs(lo))) or np.any(a > hi + tol * max(1.0, abs(hi)))):
            return f"{name} outside [{lo:.6g}, {hi:.6g}]: {a.ravel()[:4]}"
        return None
    return check


def close_to(expected: Any, *, rtol: float = 1e-7, atol: float = 1e-10) -> Check:
    def check(v: Any) -> str | None:
        a, e = np.asarray(v), np.asarray(expected)
        if a.shape != e.shape:
            return f"shape {a.shape} != oracle's {e.shape}"
        if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=False):
            return f"differs from the oracle: {a.ravel()[:4]} vs {e.ravel()[:4]}"
        return None
    return check


def all_of(*checks: Check | None) -> Check:
    def check(v: Any) -> str | None:
        for c in checks:
            if c is not None:
                p = c(v)
                if p:
                    return p
        return None
    return check


def log_dim(d: float) -> float:
    return math.log(d)
