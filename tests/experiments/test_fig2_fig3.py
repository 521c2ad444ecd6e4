"""``nnqs-fast reproduce fig2|fig3`` end to end at tiny settings (2×3 lattices): PNG + JSON + NPZ with the keys
docs/training.md lists, and the QS-NTK curves consistent with the finite ensemble where they must be."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast._random import member_seeds
from nnqs_fast.cli import main
from nnqs_fast.experiments import _training_figs as tf
from nnqs_fast.experiments.io import load_results
from nnqs_fast.experiments.predict_curves import split_basis
from nnqs_fast.networks import init_relu
from nnqs_fast.physics import make_target


@pytest.mark.parametrize("system", ["tfim", "hubbard"])
def test_reproduce_fig2_tiny(tmp_path, system) -> None:
    out = tmp_path / system
    args = ["reproduce", "fig2", "--system", system, "--lx", "2", "--ly", "3", "--train-size", "30", "--widths",
            "64", "--members", "2", "--steps", "100", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert (out / "fig2.png").stat().st_size > 1000
    meta, arrays = load_results(out, "fig2")
    r = meta["results"]
    assert meta["config"]["width"] == [64] and meta["config"]["members"] == 2 and meta["config"]["steps"] == 100
    assert r["learning_rate"] == pytest.approx(0.9 * r["eta_max"])
    for key in ("ensemble_steps", "ensemble_train_loss_ensemble", "ensemble_test_loss_ensemble",
                "ensemble_train_loss_of_mean", "ensemble_train_loss", "qsntk_steps", "qsntk_L_psi_train",
                "qsntk_L_psi_test"):
        assert key in arrays, key
    assert set(r["at_steps"]) == {"1", "10", "100"}
    # at step 0 nothing has trained: the QS-NTK ensemble loss is |ψ_T|² + 2 K(x,x) per point and the finite
    # ensemble's average is a (noisy, K=2) estimate of it; after training both train losses are far below it
    assert arrays["ensemble_train_loss_ensemble"][-1] < 0.1 * arrays["ensemble_train_loss_ensemble"][0]
    assert arrays["qsntk_L_psi_train"][-1] < 0.1 * arrays["qsntk_L_psi_train"][0]
    assert r["qsntk_test_inf"] > 0


def test_reproduce_fig3_tiny(tmp_path) -> None:
    # the library's weight scale (init_relu's defaults, used by the oracle below): --weight-scale paper-variance
    args = ["reproduce", "fig3", "--lx", "2", "--ly", "3", "--train-sizes", "24", "40", "--widths", "16", "48",
            "--members", "2", "--steps", "40", "--weight-scale", "paper-variance", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    assert (tmp_path / "fig3.png").stat().st_size > 1000
    meta, arrays = load_results(tmp_path, "fig3")
    assert arrays["test_loss_ensemble"].shape == (2, 2) and arrays["member_test_loss"].shape == (2, 2, 2)
    assert np.all(np.isfinite(arrays["test_loss_ensemble"])) and np.all(np.isfinite(arrays["qsntk_test_loss"]))
    # oracle: member k of (n = 24, N = 16) trained again by plain NumPy gradient descent (hand-written gradient)
    target = make_target("tfim", lx=2, ly=3)
    x, psi = np.asarray(target.inputs, float), np.asarray(target.psi)
    tr, te = split_basis(psi.size, 24, 0)
    lr = float(arrays["learning_rates"][0])
    seeds = member_seeds(0, 4)
    oracles = []
    for k in range(2):
        f = [_numpy_gd(init_relu(seeds[2 * k + p], x.shape[1], 16), x[tr], part(psi[tr]), x[te], lr, 40)
             for p, part in enumerate((np.real, np.imag))]
        oracles.append(np.mean(np.abs(psi[te] - (f[0] + 1j * f[1])) ** 2))
        assert arrays["member_test_loss"][0, 0, k] == pytest.approx(oracles[k], rel=1e-9)
    assert arrays["test_loss_ensemble"][0, 0] == pytest.approx(np.mean(oracles), rel=1e-9)  # L_Ψl, Eq. 17
    assert meta["results"]["train_sizes"] == [24, 40] and meta["results"]["widths"] == [16, 48]


def _numpy_gd(p, x, y, x_test, lr, steps):
    """Oracle: ``steps`` full-batch GD steps θ ← θ − lr ∇(1/n)Σ(f − y)² of the depth-1 ReLU net of
    :mod:`nnqs_fast.networks.relu` (gradient written out by hand); returns f on ``x_test``."""
    W1, a, b1, b2 = p.weights[0].copy(), p.weights[1][0].copy(), p.biases[0].copy(), p.biases[1].copy()
    N, d = W1.shape
    cw, ca, sb = p.W_std / np.sqrt(d), p.W_std / np.sqrt(N), p.b_std

    def fwd(xx):
        z = cw * xx @ W1.T + sb * b1
        return z, ca * np.maximum(z, 0) @ a + sb * b2[0]

    for _ in range(steps):
        z, f = fwd(x)
        g = (2.0 / x.shape[0]) * (f - y)                 # dL/df
        on = (z > 0) * (ca * a)                          # df/dz
        gW1 = cw * ((g[:, None] * on).T @ x)
        gb1 = sb * (g @ on)
        ga = ca * (g @ np.maximum(z, 0))
        gb2 = sb * g.sum()
        W1 -= lr * gW1
        b1 -= lr * gb1
        a -= lr * ga
        b2 -= lr * gb2
    return fwd(x_test)[1]


def test_settings_reduced_vs_paper() -> None:
    import argparse

    p = argparse.ArgumentParser()
    tf.add_common_arguments(p, "fig2")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--train-size", type=int, default=None)
    s, mode = tf.settings(p.parse_args([]), "fig2", "cpu")
    assert mode == "reduced" and s == tf.REDUCED["fig2"]
    s, mode = tf.settings(p.parse_args([]), "fig2", "cuda")
    assert mode == "paper" and s == tf.PAPER["fig2"] == {"width": 5000, "members": 10, "steps": 10_000,
                                                         "train_size": 2400}
    s, _ = tf.settings(p.parse_args(["--paper", "--width", "300"]), "fig2", "cpu")
    assert s["width"] == 300 and s["members"] == 10


def test_reproduce_fig2_weight_scales_reach_both_the_trainer_and_the_qsntk(tmp_path) -> None:
    """The default is the paper-std reading (W_std 0.25, b_std 0.01); --weight-scale paper-variance gives 0.5 / 0.1;
    both change the analytic NTK (hence eta_max) and the networks, and are recorded."""
    common = ["reproduce", "fig2", "--system", "tfim", "--lx", "2", "--ly", "3", "--train-size", "30", "--widths",
              "32", "--members", "1", "--steps", "10", "--quiet", "--no-plot"]
    assert main(common + ["--out", str(tmp_path / "a")]) == 0
    assert main(common + ["--out", str(tmp_path / "b"), "--weight-scale", "paper-variance"]) == 0
    assert main(common + ["--out", str(tmp_path / "c"), "--weight-scale", "paper-variance", "--W-std", "0.3"]) == 0
    ma, _ = load_results(tmp_path / "a", "fig2")
    mb, _ = load_results(tmp_path / "b", "fig2")
    mc, _ = load_results(tmp_path / "c", "fig2")
    assert (ma["config"]["W_std"], ma["config"]["b_std"]) == (0.25, 0.01)
    assert (mb["config"]["W_std"], mb["config"]["b_std"]) == (0.5, 0.1)
    assert (mc["config"]["W_std"], mc["config"]["b_std"]) == (0.3, 0.1)  # an explicit value wins
    assert ma["conventions"]["weight_scale_reading"] == "paper-std"
    assert mb["conventions"]["weight_scale_reading"] == "paper-variance"
    assert mc["conventions"]["weight_scale_reading"] == "custom"
    # the NTK scales like W_std^2 (outer layer) times W_std^2 (inside): eta_max grows by much more than 4x
    assert ma["results"]["eta_max"] > 4 * mb["results"]["eta_max"]
