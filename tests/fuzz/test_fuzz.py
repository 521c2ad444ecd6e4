"""The fuzz suite: every case of fuzz_cases.py in an isolated worker (memory cap, timeout, crash recovery).

* ``python -m pytest -m fuzz tests/fuzz -q -p no:cacheprovider``: the whole suite (one test per case);
* the default test run: a deterministic sample (every 25th case) of the same cases, plus the hypothesis
  properties of test_properties.py and the regressions of test_regressions.py.

A case fails when its outcome is a crash, a hang/out-of-memory, a silent wrong answer or a generic exception
(see fuzz_harness). The session prints a table of outcome counts and writes ``fuzz_summary.json`` under the pytest
base temp directory.
"""

from __future__ import annotations

import fuzz_cases
import fuzz_harness
import pytest

CASES = fuzz_cases.all_cases()
ALL_IDS = sorted(CASES)
FAST_IDS = [c for i, c in enumerate(ALL_IDS) if i % 25 == 0 and not c.startswith("cli/reproduce")]


def _check(worker: fuzz_harness.Worker, cid: str) -> None:
    case = CASES[cid]
    r = worker.run(case)
    if case.expect is not None:
        assert r.outcome in case.expect, f"{cid}: {r.outcome} ({r.detail}), expected one of {case.expect}"
    assert r.outcome not in fuzz_harness.BAD, f"{cid}: {r.outcome}: {r.detail}"


@pytest.mark.fuzz
@pytest.mark.parametrize("cid", ALL_IDS)
def test_fuzz_case(fuzz_worker: fuzz_harness.Worker, cid: str) -> None:
    _check(fuzz_worker, cid)


@pytest.mark.parametrize("cid", FAST_IDS)
def test_fuzz_sample(fuzz_worker: fuzz_harness.Worker, cid: str) -> None:
    _check(fuzz_worker, cid)


def test_suite_covers_public_api_and_cli() -> None:
    """Every name of nnqs_fast.__all__ that is a function or class, and every CLI subcommand, has cases."""
    import nnqs_fast
    from nnqs_fast import cli

    groups = {c.group.split("/")[0] for c in CASES.values()}
    skip = {"errors", "__version__"}
    missing = [n for n in nnqs_fast.__all__ if n not in skip and callable(getattr(nnqs_fast, n))
               and not isinstance(getattr(nnqs_fast, n), type(Exception)) and n not in groups
               and not (isinstance(getattr(nnqs_fast, n), type) and issubclass(getattr(nnqs_fast, n), Exception))]
    assert not missing, f"public names without fuzz cases: {missing}"
    for cls in ("DenseNet", "ReLUNet", "CosNet", "GaussNet", "ComplexSingle", "Lattice", "HubbardBasis", "GPKernel"):
        if hasattr(nnqs_fast, cls):
            assert cls in groups, f"architecture/class {cls} has no fuzz cases"
    helps = {c.id for c in CASES.values() if c.group == "cli/help"}
    for cmd in cli.COMMANDS:
        assert f"cli/help[{cmd}]" in helps
    assert len(CASES) >= 1500


def test_harness_classifies_each_outcome(fuzz_worker: fuzz_harness.Worker) -> None:
    """The classifier itself: a named error, a generic exception, a bare MemoryError, a NaN without warning,
    a failed oracle, a named warning and a crash (in the worker) each land in their class."""
    import math
    import warnings

    from nnqs_fast.errors import InvalidInputError, PrecisionLossWarning

    def named() -> None:
        raise InvalidInputError("x")

    def warn() -> float:
        warnings.warn("w", PrecisionLossWarning, stacklevel=1)
        return 1.0

    c = fuzz_harness.classify_call
    assert c(lambda: 1.0, None)[0] == "ok"
    assert c(named, None)[0] == "named-error"
    assert c(lambda: 1 / 0, None)[0] == "generic-exception"
    assert c(lambda: (_ for _ in ()).throw(MemoryError()), None)[0] == "hang-or-oom"
    assert c(lambda: math.nan, None)[0] == "silent-wrong"
    assert c(lambda: 2.0, fuzz_harness.in_range(0, 1))[0] == "silent-wrong"
    assert c(warn, None)[0] == "warning"
    w = fuzz_harness.Worker()
    try:
        for name, expected in (("segfault", "crash"), ("oom", "hang-or-oom"), ("hang", "hang-or-oom")):
            case = fuzz_harness.Case(f"selftest[{name}]", "selftest", lambda: None, timeout=1.0)
            r = w.run(case, recorder=None)
            assert r.outcome == expected, (name, r)
    finally:
        w.close()
