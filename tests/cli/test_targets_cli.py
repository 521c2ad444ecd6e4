"""``nnqs-fast targets``: result files hold psi, inputs, basis and the documented JSON keys."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.cli import main
from nnqs_fast.experiments.io import load_results
from nnqs_fast.physics import encode_occupations, encode_spins, make_target


@pytest.mark.parametrize("system,dim,encode", [("tfim", 4096, encode_spins), ("hubbard", 4356, encode_occupations)])
def test_targets_cli_default(tmp_path, capsys, system, dim, encode) -> None:
    assert main(["targets", "--system", system, "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    meta, arrays = load_results(tmp_path, f"targets_{system}")
    r = meta["results"]
    assert r["system"] == system and r["boundary"] == "open" and r["lattice"] == [3, 4] and r["dim"] == dim
    assert r["norm"] == pytest.approx(1.0, abs=1e-12) and "energy" in r["energies"]
    assert meta["config"]["tau"] == 2.1
    assert np.iscomplexobj(arrays["psi"]) and arrays["psi"].shape == (dim,)
    assert arrays["inputs"].shape == (dim, 12)
    np.testing.assert_array_equal(arrays["inputs"], encode(arrays["basis"], 12))
    np.testing.assert_array_equal(arrays["psi"], make_target(system).psi)


def test_targets_cli_options(tmp_path) -> None:
    assert main(["targets", "--system", "hubbard", "--lx", "2", "--ly", "3", "--boundary", "periodic", "--U", "6",
                 "--U0", "2", "--n-up", "1", "--n-down", "2", "--tau", "0.7", "--out", str(tmp_path), "--quiet"]) == 0
    meta, arrays = load_results(tmp_path, "targets_hubbard")
    c = meta["config"]
    assert (c["U"], c["U0"], c["n_up"], c["n_down"], c["tau"], c["boundary"]) == (6.0, 2.0, 1, 2, 0.7, "periodic")
    assert meta["results"]["dim"] == 6 * 15 == arrays["psi"].size


def test_targets_cli_errors(tmp_path, capsys) -> None:
    assert main(["targets", "--system", "hubbard", "--lx", "2", "--ly", "2", "--n-up", "5",
                 "--out", str(tmp_path)]) == 2
    assert "n_up" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["targets", "--system", "ising", "--out", str(tmp_path)])
