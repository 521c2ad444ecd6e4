"""The worked example of docs/interop.md at small size (slow): the QS-NTK prediction is exact for the linearised
NetKet model (oracle: training ``linearize(model)`` by optax SGD, step by step), the real FFN's deviation from
the prediction and its kernel drift shrink with width, and the RBM trains without diverging at its learning rate
(its kernel growth is measured and reported, not hidden)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

pytest.importorskip("netket")
pytest.importorskip("optax")

pytestmark = pytest.mark.slow


def load_example():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "netket_predicted_training.py")
    spec = importlib.util.spec_from_file_location("netket_predicted_training", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # flax's dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_worked_example_small():
    ex = load_example()
    res = ex.run(lx=2, ly=2, steps=40, rbm_alphas=(1,), ffn_widths=(8, 512), seed=0)
    rows = {(r["model"], r["width"]): r for r in res["results"]}
    for r in rows.values():
        assert r["linearised_vs_prediction"] < 1e-9  # the closed form is the linearised model's training
    assert rows[("ffn", 512)]["max_prediction_error"] < 0.5 * rows[("ffn", 8)]["max_prediction_error"]
    drift = {w: rows[("ffn", w)]["max_kernel_change"] for w in (8, 512)}
    assert drift[512] < 0.5 * drift[8]  # lazy training: the FFN's QS-NTK moves less at larger width
    rbm = rows[("rbm", 1)]
    assert rbm["diverged_at"] is None and rbm["kernel_change"][0] < 1e-12
    assert max(rbm["stability_number"]) < 2.0  # 2 eta lambda_max(t) / n stays below the GD stability bound
