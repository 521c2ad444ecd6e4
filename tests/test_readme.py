"""The README stays honest: its API tour runs, and .ci/run runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme() -> str:
    if not README.exists():  # pragma: no cover - running from an installed copy without the source tree
        pytest.skip("README.md not found next to tests/")
    return README.read_text()


def test_api_tour_runs() -> None:
    text = _readme()
    tour = text[text.index("## API tour"):]
    code = re.search(r"```python\n(.*?)```", tour, re.S)
    assert code is not None, "README API tour has no python block"
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md:API tour", "exec"), namespace)
    psi_test = namespace["psi_test"]
    assert psi_test.shape == (50, 2896)  # type: ignore[attr-defined]


def test_quick_start_has_two_commands_and_a_marked_test_command() -> None:
    text = _readme()
    quick = text[text.index("## Quick start"):text.index("## Command line")]
    blocks = re.findall(r"```bash\n(.*?)```", quick, re.S)
    assert len(blocks) == 2 and all(len(b.strip().splitlines()) == 1 for b in blocks)
    marker = quick.index("<!-- test-command -->")
    assert blocks[1].strip() in quick[marker:]
    assert blocks[0].strip().startswith("pip install . && nnqs-fast ")
