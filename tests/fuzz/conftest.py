"""Fuzz suite fixtures and the outcome-summary plugin (table at session end + JSON under the pytest tmp dir)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_harness  # noqa: E402


@pytest.fixture(scope="session")
def fuzz_worker():
    w = fuzz_harness.Worker()
    yield w
    w.close()


@pytest.fixture(scope="session")
def fuzz_recorder() -> fuzz_harness.Recorder:
    return fuzz_harness.RECORDER


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    results = fuzz_harness.RECORDER.results
    if not results:
        return
    terminalreporter.write_line("")
    terminalreporter.write_line(fuzz_harness.summary_table(results))
    try:
        base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return
    path = Path(base) / "fuzz_summary.json"
    path.write_text(json.dumps(fuzz_harness.summary_json(results), indent=1))
    terminalreporter.write_line(f"fuzz summary JSON: {path}")
