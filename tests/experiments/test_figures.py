"""The house plotting style (``nnqs_fast.experiments.plotting``) and what the figures plot.

- Files: PNG at 300 dpi (read from the PNG ``pHYs`` chunk and the pixel size), a vector PDF, written atomically.
- Numbers on the figures against independent oracles: the entropy figure's Page line against Page's closed form
  (a harmonic sum) and the maximum against min(k, L − k) log 2; fig3's QS-NTK line against the predictor run
  at the same step and split; fig2's lower panel against test / QS-NTK − 1 recomputed from the NPZ.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from nnqs_fast.errors import InvalidInputError
from nnqs_fast.experiments import plotting as pl


def png_info(path: Path) -> tuple[int, int, float, float]:
    """(width px, height px, dpi x, dpi y) from the IHDR and pHYs chunks of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, width, height, dpi = 8, None, None, (None, None)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"pHYs":
            px, py, unit = struct.unpack(">IIB", body)
            assert unit == 1, "pHYs unit must be metres"
            dpi = (px * 0.0254, py * 0.0254)
        pos += 12 + length
    assert width is not None and dpi[0] is not None, "IHDR or pHYs missing"
    return width, height, dpi[0], dpi[1]


def assert_figure_files(out: Path, name: str, *, min_inches: float = 3.0) -> None:
    """``name.png`` at 300 dpi and at least ``min_inches`` wide, and a vector ``name.pdf``; no temp files left."""
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    w, h, dx, dy = png_info(png)
    assert dx == pytest.approx(300, abs=0.1) and dy == pytest.approx(300, abs=0.1)
    assert w >= min_inches * 300 and h >= 1.5 * 300
    head = pdf.read_bytes()[:5]
    assert head == b"%PDF-"
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_save_figure_png_300_dpi_and_pdf(tmp_path) -> None:
    fig, (ax,) = pl.new_figure(1, panel_size=(4.0, 3.0))
    pl.theory_line(ax, [1, 2, 3], [1, 4, 9], "train", label="theory")
    pl.ensemble_points(ax, [1, 2, 3], [1.1, 3.9, 9.2], "train", label="ensemble")
    png, pdf = pl.save_figure(fig, tmp_path / "sub", "demo")
    assert png == tmp_path / "sub" / "demo.png" and pdf == tmp_path / "sub" / "demo.pdf"
    assert_figure_files(tmp_path / "sub", "demo")
    w, h, _, _ = png_info(png)
    assert 3.0 * 300 < w < 4.4 * 300 and 2.0 * 300 < h < 3.4 * 300  # ~ the figure size at 300 dpi (tight box)
    with pytest.raises(InvalidInputError):
        pl.save_figure(pl.new_figure(1)[0], tmp_path, "a/b")


def test_theory_and_ensemble_share_a_hue_and_narrow_widths_are_lighter() -> None:
    from matplotlib.colors import to_rgb

    _fig, (ax,) = pl.new_figure(1)
    line = pl.theory_line(ax, [1, 2], [1, 2], "test")
    widest = pl.ensemble_points(ax, [1, 2], [1, 2], "test", rank=2, n_ranks=3)
    narrow = pl.ensemble_points(ax, [1, 2], [1, 2], "test", rank=0, n_ranks=3)
    assert to_rgb(line.get_color()) == pytest.approx(to_rgb(widest.get_color()))
    assert sum(to_rgb(narrow.get_color())) > sum(to_rgb(widest.get_color()))  # lighter = closer to white
    assert widest.get_linestyle() == "None" and line.get_linestyle() == "-"
    assert pl.rate_label(0.9) == r"$\eta = 0.9\,\eta_{\max}$" and pl.rate_label(0.9, True) == r"fixed $\eta$"


def _page_closed_form(m: int, n: int) -> float:
    """Page's conjecture (proved by Foong–Kanno, Sen): S = Σ_{k=n+1}^{mn} 1/k − (m − 1)/(2n), m ≤ n."""
    m, n = min(m, n), max(m, n)
    return math.fsum(1.0 / k for k in range(n + 1, m * n + 1)) - (m - 1) / (2 * n)


def test_entropy_figure_lines_are_page_and_maximum(tmp_path) -> None:
    from nnqs_fast.cli import main
    from nnqs_fast.commands import entropy
    from nnqs_fast.experiments.io import load_results

    L = 6
    assert main(["entropy", "--sites", str(L), "--members", "3", "--width", "30", "--out", str(tmp_path),
                 "--quiet"]) == 0
    assert_figure_files(tmp_path, "entropy")
    meta, _ = load_results(tmp_path, "entropy")
    fig = entropy.make_figure(meta["results"], meta["config"])
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    page = next(v for k, v in lines.items() if k.startswith("Page"))
    ks = np.asarray(page.get_xdata())
    np.testing.assert_array_equal(ks, np.arange(1, L))
    np.testing.assert_allclose(page.get_ydata(), [_page_closed_form(2 ** k, 2 ** (L - k)) for k in ks], rtol=1e-12)
    mx = next(v for k, v in lines.items() if k.startswith("maximum"))
    np.testing.assert_allclose(mx.get_ydata(), [min(k, L - k) * math.log(2) for k in ks], rtol=1e-12)
    wick = next(v for k, v in lines.items() if k.startswith("Wick"))
    np.testing.assert_allclose(wick.get_ydata(), meta["results"]["wick_renyi2_estimate"], rtol=1e-12)


def test_fig3_qsntk_line_is_the_predictor_at_the_same_step(tmp_path) -> None:
    from nnqs_fast.cli import main
    from nnqs_fast.experiments import fig3
    from nnqs_fast.experiments.io import load_results
    from nnqs_fast.experiments.predict_curves import PredictConfig, run_predict_curves

    T = 30
    assert main(["reproduce", "fig3", "--lx", "2", "--ly", "3", "--train-sizes", "24", "40", "--widths", "32",
                 "--members", "1", "--steps", str(T), "--out", str(tmp_path), "--quiet"]) == 0
    assert_figure_files(tmp_path, "fig3")
    meta, arrays = load_results(tmp_path, "fig3")
    for i, n in enumerate((24, 40)):
        res = run_predict_curves(PredictConfig(system="tfim", lx=2, ly=3, train_size=n, seed=0, W_std=0.25,
                                               b_std=0.01, max_step=T, n_times=5, discrete=True))
        assert res.steps[-1] == T
        assert arrays["qsntk_test_loss"][i] == pytest.approx(float(res.curves["L_psi_test"][-1]), rel=1e-10)
        assert arrays["learning_rates"][i] == pytest.approx(0.9 * res.eta_max, rel=1e-12)
    fig = fig3.make_figure(meta["config"], arrays)
    q = next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("QS-NTK"))
    np.testing.assert_array_equal(q.get_xdata(), [24, 40])
    np.testing.assert_allclose(q.get_ydata(), arrays["qsntk_test_loss"], rtol=0)


def test_fig2_widths_share_the_qsntk_grid_and_the_deviation_panel(tmp_path) -> None:
    from nnqs_fast.cli import main
    from nnqs_fast.experiments import fig2
    from nnqs_fast.experiments.io import load_results

    assert main(["reproduce", "fig2", "--lx", "2", "--ly", "3", "--train-size", "30", "--widths", "32", "64",
                 "--members", "1", "--steps", "50", "--n-record", "8", "--out", str(tmp_path), "--quiet"]) == 0
    assert_figure_files(tmp_path, "fig2")
    meta, arrays = load_results(tmp_path, "fig2")
    qs = np.rint(arrays["qsntk_steps"]).astype(int)
    assert meta["config"]["width"] == [32, 64] and list(arrays["widths"]) == [32, 64]
    for N in (32, 64):
        np.testing.assert_array_equal(arrays[f"ensemble_w{N}_steps"], np.r_[0, qs])  # recorded on the QS-NTK grid
    np.testing.assert_array_equal(arrays["ensemble_test_loss_ensemble"], arrays["ensemble_w64_test_loss_ensemble"])
    fig = fig2.make_figure(meta["config"], arrays, meta["results"])
    dev = [ln for ln in fig.axes[1].get_lines() if ln.get_marker() not in ("None", None, "")]
    assert len(dev) == 2
    for ln, N in zip(dev, (32, 64)):
        expect = arrays[f"ensemble_w{N}_test_loss_ensemble"][1:] / arrays["qsntk_L_psi_test"] - 1.0
        np.testing.assert_allclose(ln.get_ydata(), expect, rtol=1e-12)
    r = meta["results"]
    assert r["final"]["64"]["test"] == pytest.approx(arrays["ensemble_w64_test_loss_ensemble"][-1])
