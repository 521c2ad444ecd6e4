"""``nnqs-fast kernel``: files, keys, and consistency of what it writes with the library."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast._random import member_seeds
from nnqs_fast.cli import main
from nnqs_fast.experiments.io import load_results


def test_kernel_command_tfim(tmp_path):
    rc = main(["kernel", "--system", "tfim", "--lx", "2", "--ly", "3", "--width", "200", "--seed", "5",
               "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    meta, arr = load_results(tmp_path, "kernel_tfim")
    n = 2 ** 6
    for key in ("inputs", "ntk_analytic", "nngp_analytic", "theta", "phi", "mixing", "theta1", "theta2",
                "eig_ntk_analytic", "eig_theta1", "eig_phi", "psi_target"):
        assert key in arr, key
    assert arr["inputs"].shape == (n, 6) and arr["theta"].shape == (n, n)
    assert set(np.unique(arr["inputs"])) == {-1.0, 1.0}
    # the command's default is the reproductions' weight scale (W_std 0.25, b_std 0.01), not the library's
    assert (meta["config"]["W_std"], meta["config"]["b_std"]) == (0.25, 0.01)
    kf = nf.relu_kernel_fn(W_std=0.25, b_std=0.01)
    np.testing.assert_allclose(arr["ntk_analytic"], kf(arr["inputs"], get="ntk"), rtol=1e-12)
    s1, _s2 = member_seeds(5, 2)
    t1 = nf.empirical_ntk(nf.init_relu(s1, 6, 200, W_std=0.25, b_std=0.01), arr["inputs"])
    np.testing.assert_allclose(arr["theta1"], t1, rtol=1e-12)
    np.testing.assert_allclose(arr["phi"], arr["theta1"] + arr["theta2"], rtol=1e-12)
    assert not np.any(arr["mixing"])
    assert meta["seed"] == 5 and meta["config"]["width"] == 200
    res = meta["results"]
    sp = res["spectra"]["ntk_analytic"]
    assert sp["lambda_max"] == pytest.approx(arr["eig_ntk_analytic"][-1], rel=1e-12)
    assert res["max_learning_rate_analytic"] == pytest.approx(n / sp["lambda_max"], rel=1e-12)
    assert {"lambda_min", "lambda_max", "condition_number", "max_learning_rate"} <= set(sp)
    json.dumps(meta)


def test_kernel_command_hubbard_no_eigenvalues(tmp_path):
    rc = main(["kernel", "--system", "hubbard", "--lx", "2", "--ly", "1", "--n-up", "1", "--n-down", "1",
               "--width", "50", "--no-eigenvalues", "--out", str(tmp_path), "--name", "k", "--quiet"])
    assert rc == 0
    meta, arr = load_results(tmp_path, "k")
    assert arr["inputs"].shape[1] == 2 and "eig_theta1" not in arr
    assert meta["results"]["spectra"]["theta1"]["max_learning_rate"] > 0


def test_kernel_command_bad_width(tmp_path, capsys):
    assert main(["kernel", "--width", "0", "--lx", "2", "--ly", "2", "--out", str(tmp_path), "--quiet"]) == 2
    assert "width" in capsys.readouterr().err
