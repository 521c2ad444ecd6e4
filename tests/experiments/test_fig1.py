"""``reproduce fig1`` machinery at a tiny size: the JSON keys, the NPZ arrays, the PNG, and the numbers against
the library (Page values, Wick estimates, ensemble statistics recomputed from the per-member arrays)."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from nnqs_fast.entanglement import cosnet_gp_kernel, page_entropy, wick_purity
from nnqs_fast.experiments import fig1
from nnqs_fast.experiments.io import load_results


def test_fig1_small_run(tmp_path):
    p = argparse.ArgumentParser()
    fig1.add_arguments(p)
    fig1.add_arguments(p)  # idempotent: a caller that already defines options is fine
    args = p.parse_args(["--sites", "6", "--members", "4", "--widths", "30", "200", "--out", str(tmp_path),
                         "--quiet"])
    assert fig1.run(args) == 0
    meta, arrays = load_results(tmp_path, "fig1")
    assert (tmp_path / "fig1.png").stat().st_size > 1000
    res = meta["results"]
    assert res["subsystem_sizes"] == [1, 2, 3, 4, 5]
    for i, k in enumerate(res["subsystem_sizes"]):
        assert res["page_entropy"][i] == pytest.approx(page_entropy(2 ** k, 2 ** (6 - k)))
        assert res["max_entropy"][i] == pytest.approx(min(k, 6 - k) * math.log(2))
        w = wick_purity(cosnet_gp_kernel(10.0, math.sqrt(12), 6), n_sites=6, subsystem=k, method="partial_trace")
        assert res["wick_renyi2_estimate"][i] == pytest.approx(w.renyi2, rel=1e-12)
    for N in ("30", "200"):
        vn = arrays[f"von_neumann_w{N}"]
        assert vn.shape == (4, 5)
        np.testing.assert_allclose(res["widths"][N]["von_neumann_mean"], vn.mean(0), rtol=1e-12)
        np.testing.assert_allclose(res["widths"][N]["von_neumann_sem"], vn.std(0, ddof=1) / 2, rtol=1e-12)
        assert np.all(vn <= np.array(res["max_entropy"]) + 1e-12)
        pur = np.exp(-arrays[f"renyi2_w{N}"])
        np.testing.assert_allclose(res["widths"][N]["purity_mean"], pur.mean(0), rtol=1e-12)
        np.testing.assert_allclose(res["widths"][N]["minus_log_purity_mean"], -np.log(pur.mean(0)), rtol=1e-12)
    assert len(res["table"]) == 10
    assert {"width", "subsystem_size", "von_neumann_mean", "von_neumann_sem", "page_entropy",
            "wick_renyi2_estimate"} <= set(res["table"][0])
    assert meta["config"]["sigma_w"] == pytest.approx(math.sqrt(12))


def test_reproduce_fig1_cli(tmp_path):
    """`nnqs-fast reproduce fig1` end to end at tiny settings."""
    from nnqs_fast.cli import main

    assert main(["reproduce", "fig1", "--sites", "4", "--members", "3", "--widths", "20", "--out", str(tmp_path),
                 "--quiet", "--no-plot"]) == 0
    meta, _ = load_results(tmp_path, "fig1")
    assert meta["results"]["subsystem_sizes"] == [1, 2, 3]
