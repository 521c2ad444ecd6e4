"""The compiled core's OpenMP threads sleep at barriers by default; the user's OMP_WAIT_POLICY wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PY = str(Path(__file__).resolve().parents[1] / "python")


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_wait_policy_default_and_override(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    env["PYTHONPATH"] = PY + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", "import os, nnqs_fast; print(os.environ['OMP_WAIT_POLICY'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
