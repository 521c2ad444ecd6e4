"""Fuzz suite fixtures and the outcome-summary plugin (table at session end + JSON under the pytest tmp dir)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_harness


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The whole suite (tests marked ``fuzz``) runs only when asked for with ``-m fuzz`` (CI's separate step);
    the default run keeps the fast sample."""
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    keep = [i for i in items if i.get_closest_marker("fuzz") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("fuzz") is not None])
        items[:] = keep


@pytest.fixture(scope="session")
def fuzz_worker():
    w = fuzz_harness.Worker()
    yield w
    w.close()


@pytest.fixture(scope="session")
def fuzz_recorder() -> fuzz_harness.Recorder:
    return fuzz_harness.RECORDER


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    results = fuzz_harness.RECORDER.results
    if not results:
        return
    terminalreporter.write_line("")
    terminalreporter.write_line(fuzz_harness.summary_table(results))
    try:
        base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    except Exception:
        return
    path = Path(base) / "fuzz_summary.json"
    path.write_text(json.dumps(fuzz_harness.summary_json(results), indent=1))
    terminalreporter.write_line(f"fuzz summary JSON: {path}")
