"""``nnqs-fast groundstate``: runs end to end on tiny lattices; the result files hold the documented keys, and the
energies are bounded below by the exact ground energy (variational principle)."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.cli import main
from nnqs_fast.experiments.io import load_results


@pytest.mark.parametrize("extra", [["--system", "tfim", "--lx", "2", "--ly", "2"],
                                   ["--system", "hubbard", "--lx", "2", "--ly", "2", "--n-up", "1", "--n-down", "1"],
                                   ["--system", "tfim", "--lx", "2", "--ly", "2", "--loss", "tomography",
                                    "--shots", "500"]])
def test_groundstate_cli_tiny(tmp_path, capsys, extra) -> None:
    args = ["groundstate", *extra, "--widths", "16,64", "--members", "2", "--inf-members", "4", "--steps", "40",
            "--seed", "3", "--out", str(tmp_path)]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out
    meta, a = load_results(tmp_path, "groundstate")
    assert (tmp_path / "groundstate.png").stat().st_size > 0 and (tmp_path / "groundstate.pdf").stat().st_size > 0
    r, R = meta["results"], a["steps"].size
    E0 = float(a["exact_ground_energy"])
    assert r["exact_ground_energy"] == pytest.approx(E0) and a["steps"][-1] == 40 and meta["seed"] == 3
    for key in ("energy_infinite_mean", "energy_infinite_sem", "fidelity_infinite_mean"):
        assert a[key].shape == (R,) and np.all(np.isfinite(a[key]))
    for key in ("energy_finite_mean", "energy_finite_sem", "fidelity_finite_mean", "fidelity_finite_sem"):
        assert a[key].shape == (2, R) and np.all(np.isfinite(a[key]))
    assert np.all(a["energy_infinite_mean"] >= E0 - 1e-9) and np.all(a["energy_finite_mean"] >= E0 - 1e-9)
    assert np.all((a["fidelity_finite_mean"] >= 0) & (a["fidelity_finite_mean"] <= 1 + 1e-12))
    assert r["learning_rate"] == pytest.approx(0.5 * r["eta_max"])
    if "tomography" not in extra:
        assert a["energy_infinite_mean"][-1] < a["energy_infinite_mean"][0]
