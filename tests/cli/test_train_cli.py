"""``nnqs-fast train``: runs end to end on a tiny lattice; the result files hold the documented keys."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.cli import main
from nnqs_fast.experiments.io import load_results


def test_train_cli_tiny(tmp_path, capsys) -> None:
    args = ["train", "--system", "tfim", "--lx", "2", "--ly", "3", "--train-size", "40", "--width", "32",
            "--members", "2", "--steps", "50", "--seed", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out
    meta, arrays = load_results(tmp_path, "train")
    assert meta["config"]["width"] == 32 and meta["config"]["n_members"] == 2 and meta["seed"] == 1
    r = meta["results"]
    assert r["learning_rate"] == pytest.approx(0.9 * r["max_learning_rate"])
    assert arrays["train_loss"].shape == (2, arrays["steps"].size) and arrays["steps"][-1] == 50
    assert arrays["train_idx"].size == 40 and arrays["test_idx"].size == 24
    assert np.all(np.isfinite(arrays["test_loss_ensemble"]))
    assert arrays["train_loss_ensemble"][-1] < arrays["train_loss_ensemble"][0]
    # same seed -> bit-identical losses
    assert main(args[:-1] + [str(tmp_path / "again"), "--quiet"]) == 0
    _, again = load_results(tmp_path / "again", "train")
    assert np.array_equal(again["train_loss"], arrays["train_loss"])


def test_train_cli_refuses_large_rate(tmp_path, capsys) -> None:
    args = ["train", "--lx", "2", "--ly", "3", "--train-size", "40", "--width", "8", "--members", "1", "--steps",
            "2", "--lr-factor", "1.5", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 2
    assert "LearningRateTooLargeError" in capsys.readouterr().err
