"""train_ensemble: statistics against independently trained members, learning-rate rules, seeds, interrupts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nnqs_fast._random import member_seeds
from nnqs_fast.errors import InvalidInputError, LearningRateTooLargeError, PrecisionLossWarning
from nnqs_fast.networks.relu import init_relu
from nnqs_fast.training import NumpyReLUStep, log_record_steps, max_learning_rate_for, train_ensemble
from nnqs_fast.training import step as step_mod


def _problem(n=48, nt=24, seed=0):
    g = np.random.default_rng(seed)
    x = g.choice([-1.0, 1.0], size=(n + nt, 12))
    psi = g.standard_normal(n + nt) + 1j * g.standard_normal(n + nt)
    psi /= np.linalg.norm(psi)
    return x[:n], psi[:n], x[n:], psi[n:]


def test_log_record_steps():
    s = log_record_steps(10_000, 40)
    assert s[0] == 0 and s[1] == 1 and s[-1] == 10_000 and np.all(np.diff(s) > 0)
    assert 30 <= s.size <= 42
    assert list(log_record_steps(3, 10)) == [0, 1, 2, 3]


def test_max_learning_rate_is_n_over_lambda_max():
    """Oracle: the arc-cosine NTK written out in the test (tests/training/_oracles.py), and a Monte Carlo of the
    empirical NTK of wide networks (explicit Jacobians)."""
    x, *_ = _problem()
    from ._oracles import analytic_ntk, empirical_ntk

    k = analytic_ntk(x)
    assert max_learning_rate_for(x) == pytest.approx(x.shape[0] / np.linalg.eigvalsh(k)[-1], rel=1e-10)
    mc = np.mean([empirical_ntk(init_relu(s, 12, 2000), x) for s in range(4)], axis=0)
    np.testing.assert_allclose(mc, k, rtol=0.05, atol=0.02 * np.abs(k).max())


def test_ensemble_statistics_match_independently_trained_members():
    x, y, xt, yt = _problem()
    K, T, N = 3, 25, 64
    steps = np.array([0, 1, 7, 25])
    res = train_ensemble(x, y, xt, yt, width=N, n_members=K, n_steps=T, record_steps=steps, seed=7, quiet=True)
    seeds = member_seeds(7, 2 * K)
    assert np.array_equal(res.seeds.astype(np.int64), np.array(seeds, dtype=np.int64).reshape(K, 2))
    lr = res.learning_rate
    assert lr == pytest.approx(0.9 * max_learning_rate_for(x), rel=1e-12)
    member_tr, member_te, mean_tr, mean_te = [], [], 0, 0
    for k in range(K):
        parts = []
        for p, (ytr, yte) in enumerate([(y.real, yt.real), (y.imag, yt.imag)]):
            ref = NumpyReLUStep(init_relu(seeds[2 * k + p], 12, N), x, ytr, lr, xt, yte)
            parts.append(ref.run(T, steps, record_predictions=True))
        member_tr.append(parts[0].train_loss + parts[1].train_loss)
        member_te.append(parts[0].test_loss + parts[1].test_loss)
        mean_tr = mean_tr + (parts[0].train_pred + 1j * parts[1].train_pred) / K
        mean_te = mean_te + (parts[0].test_pred + 1j * parts[1].test_pred) / K
    np.testing.assert_allclose(res.train_loss, member_tr, rtol=1e-10)
    np.testing.assert_allclose(res.test_loss, member_te, rtol=1e-10)
    np.testing.assert_allclose(res.train_loss_ensemble, np.mean(member_tr, axis=0), rtol=1e-10)
    np.testing.assert_allclose(res.test_loss_ensemble, np.mean(member_te, axis=0), rtol=1e-10)
    np.testing.assert_allclose(res.train_loss_of_mean, np.mean(np.abs(mean_tr - y) ** 2, axis=1), rtol=1e-9)
    np.testing.assert_allclose(res.test_loss_of_mean, np.mean(np.abs(mean_te - yt) ** 2, axis=1), rtol=1e-9)
    assert np.all(res.train_loss_of_mean <= res.train_loss_ensemble)  # Jensen
    assert res.members_done == K and not res.interrupted


def test_learning_rate_above_maximum_is_refused_or_warned():
    x, y, _xt, _yt = _problem()
    eta = max_learning_rate_for(x)
    with pytest.raises(LearningRateTooLargeError, match=f"{eta:.6g}"):
        train_ensemble(x, y, width=16, n_members=1, n_steps=2, learning_rate=1.1 * eta, quiet=True)
    with pytest.raises(LearningRateTooLargeError):
        train_ensemble(x, y, width=16, n_members=1, n_steps=2, lr_factor=1.2, quiet=True)
    with pytest.warns(UserWarning, match="exceeds the maximal stable rate"):
        res = train_ensemble(x, y, width=16, n_members=1, n_steps=2, learning_rate=1.1 * eta, force=True,
                             quiet=True)
    assert res.learning_rate == pytest.approx(1.1 * eta)


def test_divergence_is_reported_not_silent():
    x, y, xt, yt = _problem()
    eta = max_learning_rate_for(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("always", PrecisionLossWarning)
        with pytest.warns(PrecisionLossWarning, match="non-finite"):
            res = train_ensemble(x, y, xt, yt, width=64, n_members=1, n_steps=3000, learning_rate=4 * eta,
                                 force=True, quiet=True)
    stop = res.stopped_at.max()
    assert 0 < stop < 3000 and np.all(res.stopped_at[res.stopped_at >= 0] > 0)
    before, after = res.steps < stop, res.steps > stop
    assert np.all(np.isfinite(res.train_loss[0, before])) and np.all(np.isfinite(res.test_loss[0, before]))
    assert after.any() and not np.any(np.isfinite(res.train_loss[0, after]))
    assert not np.any(np.isfinite(res.test_loss[0, after])) and res.members_done == 1


def test_same_seed_is_bit_identical_whatever_the_concurrency():
    x, y, xt, yt = _problem()
    kw = dict(width=40, n_members=2, n_steps=30, seed=3, quiet=True)
    a = train_ensemble(x, y, xt, yt, n_workers=1, **kw)
    b = train_ensemble(x, y, xt, yt, n_workers=2, **kw)
    for key, v in a.arrays().items():
        assert np.array_equal(v, getattr(b, key), equal_nan=True), key
    c = train_ensemble(x, y, xt, yt, n_workers=1, **{**kw, "seed": 4})
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_early_stop_fills_later_records():
    x, y, *_ = _problem()
    res = train_ensemble(x, y, width=64, n_members=1, n_steps=20_000, early_stop_rtol=1e-3, quiet=True)
    assert np.all(res.stopped_at > 0) and np.all(res.stopped_at < 20_000)
    stop = res.stopped_at.max()
    later = res.steps > stop
    assert later.any() and np.all(res.train_loss[0, later] == res.train_loss[0, later][0])


def test_keyboard_interrupt_keeps_what_was_recorded(monkeypatch):
    x, y, xt, yt = _problem()
    real_run = step_mod.CPUReLUStep.run
    calls = {"n": 0}

    def flaky_run(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 45:  # chunk 8 of one-step chunks (6 networks per chunk), network 2
            raise KeyboardInterrupt
        return real_run(self, *a, **k)

    monkeypatch.setattr(step_mod.CPUReLUStep, "run", flaky_run)
    res = train_ensemble(x, y, xt, yt, width=32, n_members=3, n_steps=40, chunk_flops=1.0e5, n_workers=1,
                         quiet=True)
    assert res.interrupted and res.members_done < 3
    assert np.isfinite(res.train_loss[0, 0]) and np.isnan(res.train_loss[-1, -1])
    assert np.isfinite(res.train_loss_ensemble[0])


def test_input_validation():
    x, y, xt, _yt = _problem()
    with pytest.raises(InvalidInputError):
        train_ensemble(x, y, xt, None, width=8, quiet=True)
    with pytest.raises(InvalidInputError):
        train_ensemble(x, y[:-1], width=8, quiet=True)
    with pytest.raises(InvalidInputError):
        train_ensemble(x, y, width=8, n_steps=5, record_steps=[0, 3, 2], quiet=True)
    with pytest.raises(InvalidInputError):
        train_ensemble(x, y, width=0, quiet=True)


def test_cuda_engine_runs_under_the_same_driver(monkeypatch):
    """backend="cuda" builds its engine with nnqs_fast.gpu.training.make_engine and runs it under the one driver;
    here the engine is a pool of NumPy reference steps, which must reproduce the CPU engine's result."""
    from nnqs_fast.training import CPUStepPool, trainer

    used = {"n": 0}

    def fake_make_engine(params, x, y, lr, x_test=None, y_test=None):
        used["n"] += 1
        steps = [NumpyReLUStep(p, x, y[m], lr, x_test, None if y_test is None else y_test[m])
                 for m, p in enumerate(params)]
        return CPUStepPool(steps, x.shape[0], 0 if x_test is None else x_test.shape[0], n_workers=1,
                           chunk_flops=1e6)

    import nnqs_fast._backend as be

    # the registry holds a CUDA engine (a pool of NumPy reference steps) and nothing else for training
    monkeypatch.setitem(be._CUDA_AREAS_LOADED, "training", "")
    monkeypatch.setattr(be, "_CUDA_IMPLS", {"training.make_engine": fake_make_engine})
    monkeypatch.setattr(trainer, "resolve_backend", lambda b: "cuda")
    x, y, xt, yt = _problem()
    kw = dict(width=24, n_members=2, n_steps=15, seed=2, quiet=True, max_learning_rate=max_learning_rate_for(x))
    res = train_ensemble(x, y, xt, yt, backend="cuda", **kw)
    assert used["n"] == 1 and res.backend == "cuda"
    monkeypatch.undo()
    ref = train_ensemble(x, y, xt, yt, backend="cpu", **kw)
    np.testing.assert_allclose(res.train_loss, ref.train_loss, rtol=1e-10)
    np.testing.assert_allclose(res.test_loss_of_mean, ref.test_loss_of_mean, rtol=1e-10)
    np.testing.assert_array_equal(res.seeds, ref.seeds)
