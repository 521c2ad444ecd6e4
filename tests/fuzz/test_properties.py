"""Hypothesis properties of the pure NumPy boundaries (safe in-process): arbitrary floats, shapes and strings go
in; the outcome must be a named error, a named warning, or an answer that satisfies the invariant. Each example
is recorded in the fuzz summary. ``-m fuzz`` runs many examples, the default run a few."""

from __future__ import annotations

import math

import fuzz_harness
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnqs_fast as nf

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
SMALL = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
LARGE = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _record(group: str, fn, check=None) -> None:
    r = fuzz_harness.run_inprocess(fuzz_harness.Case(f"{group}[hypothesis]", group, fn, check))
    assert r.outcome not in fuzz_harness.BAD, f"{group}: {r.outcome}: {r.detail}"


def _spectrum_case(p: np.ndarray, kind: str, order: float | None) -> None:
    dim = max(2, p.shape[-1]) if p.ndim else 2
    upper = math.inf if kind == "tsallis" else math.log(dim)
    _record("entropy_from_spectrum", lambda: nf.entropy_from_spectrum(p, kind, order),
            fuzz_harness.in_range(0.0, upper, name="entropy", tol=1e-7))


def _spectra():
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=6), elements=FLOATS)


def _normalised():
    return hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(0, 1, width=64)).filter(
        lambda a: a.sum() > 0).map(lambda a: a / a.sum())


KINDS = st.sampled_from(["vn", "renyi", "tsallis"])
ORDERS = st.one_of(st.none(), FLOATS, st.sampled_from([0.5, 2.0, 300.0, math.inf]))


@pytest.mark.fuzz
@LARGE
@given(_spectra(), KINDS, ORDERS)
def test_entropy_of_arbitrary_arrays_many(p, kind, order):
    _spectrum_case(p, kind, order)


@SMALL
@given(_spectra(), KINDS, ORDERS)
def test_entropy_of_arbitrary_arrays(p, kind, order):
    _spectrum_case(p, kind, order)


def _renyi_oracle_case(p: np.ndarray, n: float) -> None:
    q = p[p > 0]
    if n == 1.0:
        ref = float(-np.sum(q * np.log(q)))
    else:  # independent of the package: factor the largest eigenvalue out by hand
        m = q.max()
        ref = (n * math.log(m) + math.log(np.sum((q / m) ** n))) / (1 - n)
    _record("entropy_from_spectrum/renyi-oracle", lambda: nf.entropy_from_spectrum(p, "renyi", n),
            fuzz_harness.close_to(ref, rtol=1e-9, atol=1e-12))


@pytest.mark.fuzz
@LARGE
@given(_normalised(), st.floats(0.05, 1e4))
def test_renyi_matches_the_oracle_many(p, n):
    _renyi_oracle_case(p, n)


@SMALL
@given(_normalised(), st.floats(0.05, 1e4))
def test_renyi_matches_the_oracle(p, n):
    _renyi_oracle_case(p, n)


def _page_case(m, n) -> None:
    _record("haar_purity", lambda: nf.haar_purity(m, n), fuzz_harness.in_range(0.0, 1.0, name="purity"))
    _record("page_entropy", lambda: nf.page_entropy(m, n), fuzz_harness.in_range(0.0, math.inf))
    _record("max_entropy", lambda: nf.max_entropy(m, n), fuzz_harness.in_range(0.0, math.inf))


DIMS = st.one_of(st.integers(-3, 10**6), st.integers(10**6, 10**300), FLOATS, st.none(), st.text(max_size=3))


@pytest.mark.fuzz
@LARGE
@given(DIMS, DIMS)
def test_page_values_many(m, n):
    _page_case(m, n)


@SMALL
@given(DIMS, DIMS)
def test_page_values(m, n):
    _page_case(m, n)


@pytest.mark.fuzz
@LARGE
@given(st.one_of(st.text(max_size=12), st.tuples(st.text(max_size=6), FLOATS), st.integers(), st.none()))
def test_parse_entropy_kind_many(kind):
    _record("parse_entropy_kind", lambda: nf.parse_entropy_kind(kind),
            lambda v: None if v[1] in ("vn", "renyi", "tsallis") and (v[2] is None or v[2] > 0) else f"parsed {v}")


def _states():
    return st.one_of(
        hnp.arrays(np.complex128, hnp.array_shapes(min_dims=0, max_dims=2, max_side=5),
                   elements=st.complex_numbers(allow_nan=True, allow_infinity=True)),
        hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=5), elements=FLOATS))


@pytest.mark.fuzz
@LARGE
@given(_states(), _states())
def test_losses_of_arbitrary_states_many(a, b):
    _record("mse_loss", lambda: nf.mse_loss(a, b), fuzz_harness.in_range(0.0, math.inf))
    _record("fidelity", lambda: nf.fidelity(a, b), fuzz_harness.in_range(0.0, 1.0, tol=1e-9))


@SMALL
@given(_states(), _states())
def test_losses_of_arbitrary_states(a, b):
    _record("mse_loss", lambda: nf.mse_loss(a, b), fuzz_harness.in_range(0.0, math.inf))
    _record("fidelity", lambda: nf.fidelity(a, b), fuzz_harness.in_range(0.0, 1.0, tol=1e-9))
