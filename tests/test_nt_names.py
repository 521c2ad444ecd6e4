"""Issue 12: neural-tangents' names never carry the paper's semantics.

The paper-convention functions are qsntk_mse_predictor / qsntk_mse_ensemble / qsntk_eta_max / nngp_posterior;
NT's names are absent from the package namespaces (an AttributeError that names both replacements) and exist only
in nnqs_fast.nt with NT's semantics (checked against stored neural-tangents numbers in tests/interop/).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import nnqs_fast as nf

NT_NAMES = ("gradient_descent_mse", "gradient_descent_mse_ensemble", "max_learning_rate", "gp_inference")


@pytest.mark.parametrize("module", ["nnqs_fast", "nnqs_fast.dynamics", "nnqs_fast.kernels"])
@pytest.mark.parametrize("name", NT_NAMES)
def test_nt_names_absent_with_a_pointer(module, name):
    mod = importlib.import_module(module)
    assert name not in mod.__all__
    assert not hasattr(mod, name)
    with pytest.raises(AttributeError, match=r"docs/interop\.md"):
        getattr(mod, name)
    with pytest.raises(ImportError):
        exec(f"from {module} import {name}", {})


def test_other_missing_attributes_still_plain_attribute_errors():
    with pytest.raises(AttributeError, match=r"no attribute 'no_such_thing'$"):
        nf.no_such_thing  # noqa: B018


def test_nt_module_keeps_nt_names_with_nt_semantics():
    """nnqs_fast.nt.max_learning_rate = 2 y_train_size / lambda_max (NT) vs qsntk_eta_max = n / lambda_max
    (paper); closed forms on a diagonal kernel (lambda_max = 4, n = 2)."""
    from nnqs_fast import nt

    k = np.diag([1.0, 4.0])
    assert nt.max_learning_rate(k, eps=0.0) == pytest.approx(2 * 2 / 4)
    assert nt.max_learning_rate(k, 6, eps=0.0) == pytest.approx(2 * 6 / 4)
    assert nf.qsntk_eta_max(k) == pytest.approx(2 / 4)
    for name in ("gradient_descent_mse", "gradient_descent_mse_ensemble", "max_learning_rate"):
        assert callable(getattr(nt.predict, name))


def test_renamed_functions_are_the_paper_ones():
    """qsntk_mse_predictor: e(t) = exp(-(2 eta / n) Theta t) e(0) (Eq. 13 with L = (1/n) sum |e|^2), checked on a
    diagonal kernel in closed form."""
    k = np.diag([1.0, 3.0])
    y = np.array([1.0 + 1j, -2.0])
    eta, t = 0.1, 2.5
    out = nf.qsntk_mse_predictor(k, y, eta)(t, 0.0)
    expect = y - np.exp(-(2 * eta / 2) * np.diag(k) * t) * y
    np.testing.assert_allclose(out, expect, rtol=1e-12)
