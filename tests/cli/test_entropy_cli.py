"""``nnqs-fast entropy``: ensemble and state modes write JSON + NPZ with the documented keys; errors exit 2."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.cli import main
from nnqs_fast.entanglement import entanglement_entropy, page_entropy
from nnqs_fast.experiments.io import load_results


def test_ensemble_mode(tmp_path, capsys):
    rc = main(["entropy", "--sites", "5", "--members", "3", "--width", "40", "--cuts", "2", "0,3",
               "--kinds", "vn", "renyi2", "--out", str(tmp_path)])
    assert rc == 0
    meta, arrays = load_results(tmp_path, "entropy")
    res = meta["results"]
    assert res["cuts"] == [[0, 1], [0, 3]]
    assert arrays["values_vn"].shape == (3, 2)
    np.testing.assert_allclose(res["mean"]["vn"], arrays["values_vn"].mean(0), rtol=1e-12)
    assert res["page_entropy"][0] == pytest.approx(page_entropy(4, 8))
    assert len(res["wick_renyi2_estimate"]) == 2 and res["wick_renyi2_estimate"][0] == pytest.approx(
        res["wick_renyi2_estimate"][1])
    assert "wrote" in capsys.readouterr().out
    rc = main(["entropy", "--network", "relu", "--real", "--sites", "4", "--members", "2", "--width", "10",
               "--out", str(tmp_path / "r"), "--quiet"])
    assert rc == 0


def test_state_mode_and_errors(tmp_path, capsys):
    rng = np.random.default_rng(0)
    psi = rng.normal(size=16) + 1j * rng.normal(size=16)
    psi /= np.linalg.norm(psi)
    np.savez(tmp_path / "s.npz", psi=psi)
    assert main(["entropy", "--state", str(tmp_path / "s.npz"), "--cuts", "1,3", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    meta, _ = load_results(tmp_path / "o", "entropy")
    assert meta["results"]["entropies"]["vn"][0] == pytest.approx(entanglement_entropy(psi, [1, 3]))
    np.savez(tmp_path / "bad.npz", psi=np.ones(6))
    assert main(["entropy", "--state", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o2")]) == 2
    assert main(["entropy", "--sites", "4", "--cuts", "7", "--out", str(tmp_path / "o3")]) == 2
    assert main(["entropy", "--state", str(tmp_path / "s.npz"), "--key", "nope", "--out", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


def test_state_mode_reads_targets_files(tmp_path):
    """Files from `nnqs-fast targets`: Hubbard (basis codes + inputs) -> fermion mode entropies; TFIM -> spins."""
    from nnqs_fast.entanglement import entropy_from_spectrum, fermion_entanglement_spectrum

    assert main(["targets", "--system", "hubbard", "--lx", "2", "--ly", "2", "--n-up", "1", "--n-down", "1",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert main(["entropy", "--state", str(tmp_path / "targets_hubbard.npz"), "--cuts", "0,3", "1",
                 "--out", str(tmp_path / "h"), "--quiet"]) == 0
    meta, _ = load_results(tmp_path / "h", "entropy")
    _, arr = load_results(tmp_path, "targets_hubbard")
    assert meta["results"]["basis"] == "hubbard"
    ref = entropy_from_spectrum(fermion_entanglement_spectrum(arr["psi"], arr["basis"], [0, 3], 4))
    assert meta["results"]["entropies"]["vn"][0] == pytest.approx(ref, rel=1e-12)
    assert main(["targets", "--system", "tfim", "--lx", "2", "--ly", "2", "--out", str(tmp_path), "--quiet"]) == 0
    assert main(["entropy", "--state", str(tmp_path / "targets_tfim.npz"), "--cuts", "2",
                 "--out", str(tmp_path / "t"), "--quiet"]) == 0
    meta, _ = load_results(tmp_path / "t", "entropy")
    _, arr = load_results(tmp_path, "targets_tfim")
    assert meta["results"]["basis"] == "spin"
    assert meta["results"]["entropies"]["vn"][0] == pytest.approx(entanglement_entropy(arr["psi"], 2), rel=1e-10)
