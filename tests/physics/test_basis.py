"""The one spin-basis builder against itertools.product (site i = bit i, bit 1 = spin up = +1)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nnqs_fast.entanglement import spin_basis_inputs
from nnqs_fast.errors import InvalidInputError, MemoryLimitError, ShapeMismatchError
from nnqs_fast.physics import encode_spins, spin_basis
from nnqs_fast.physics.basis import MAX_SPIN_SITES


@pytest.mark.parametrize("vals", [(-1.0, 1.0), (0.0, 1.0), (-0.5, 2.0)])
def test_spin_basis_equals_product_enumeration(vals):
    L = 4
    # itertools.product varies the last factor fastest: reverse so that column i is bit i of the row index
    oracle = np.array([[vals[b] for b in reversed(bits)] for bits in itertools.product((0, 1), repeat=L)])
    np.testing.assert_array_equal(spin_basis(L, vals), oracle)
    np.testing.assert_array_equal(spin_basis_inputs(L, vals), oracle)
    if vals == (-1.0, 1.0):
        np.testing.assert_array_equal(encode_spins(np.arange(16), L), oracle)


def test_one_size_limit():
    with pytest.raises(InvalidInputError, match=str(MAX_SPIN_SITES)):
        spin_basis(MAX_SPIN_SITES + 1)
    with pytest.raises(MemoryLimitError):
        spin_basis(40)
    with pytest.raises(ShapeMismatchError):
        spin_basis(3, (1.0, 2.0, 3.0))
