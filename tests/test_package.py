"""The package skeleton: import without a GPU, backends report why not, CLI help, result files round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nnqs_fast
from nnqs_fast import errors
from nnqs_fast._backend import backend_info, resolve_backend
from nnqs_fast._random import member_seeds
from nnqs_fast._validation import as_array, check_memory, check_positive_int
from nnqs_fast.cli import main
from nnqs_fast.experiments.io import load_results, save_results


def test_import_and_version() -> None:
    assert isinstance(nnqs_fast.__version__, str) and nnqs_fast.__version__
    for name in nnqs_fast.__all__:
        assert hasattr(nnqs_fast, name), name


def test_cpu_backend_usable_and_cuda_reports_reason() -> None:
    info = backend_info()
    assert info["cpu"].usable
    assert info["cuda"].usable or info["cuda"].reason  # never unusable without saying why
    assert resolve_backend("cpu") == "cpu"
    assert resolve_backend("auto") in ("cpu", "cuda")
    with pytest.raises(errors.InvalidInputError, match="backend must be one of"):
        resolve_backend("tpu")
    if not info["cuda"].usable:
        with pytest.raises(errors.BackendUnavailableError, match="not usable"):
            resolve_backend("cuda")


def test_cli_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backends"]["cpu"]["usable"] is True


def test_cli_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "info" in capsys.readouterr().out


def test_results_round_trip(tmp_path) -> None:
    arrays = {"psi": np.array([1 + 2j, 3 - 1j]), "x": np.arange(6.0).reshape(2, 3)}
    save_results(tmp_path, "demo", config={"system": "tfim", "J": 0.1}, results={"z": 1 + 1j, "v": np.float64(2)},
                 arrays=arrays, seed=7, backend="cpu")
    meta, back = load_results(tmp_path, "demo")
    assert meta["seed"] == 7 and meta["backend"] == "cpu" and meta["config"]["J"] == 0.1
    assert meta["results"]["z"] == {"re": 1.0, "im": 1.0}
    assert meta["arrays"]["psi"]["shape"] == [2]
    np.testing.assert_array_equal(back["psi"], arrays["psi"])


def test_validation_errors() -> None:
    with pytest.raises(errors.NonFiniteError, match="x contains 1 non-finite"):
        as_array([1.0, np.nan], "x")
    with pytest.raises(errors.ShapeMismatchError, match="must have 2 dimensions"):
        as_array([1.0, 2.0], "x", ndim=2)
    with pytest.raises(errors.DTypeError, match="must be real"):
        as_array([1j], "x", allow_complex=False)
    with pytest.raises(errors.InvalidInputError, match="width must be >= 1"):
        check_positive_int(0, "width")
    with pytest.raises(errors.MemoryLimitError, match="GiB"):
        check_memory(2e12, "a test array", limit=1e9)


def test_member_seeds_are_stable_prefixes() -> None:
    assert member_seeds(3, 5)[:2] == member_seeds(3, 2)
    assert len(set(member_seeds(3, 10))) == 10
