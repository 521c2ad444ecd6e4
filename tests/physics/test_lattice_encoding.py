"""Lattice bonds (each once; periodic side 2 not doubled) and the paper's input encodings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nnqs_fast.errors import InvalidInputError
from nnqs_fast.physics import Lattice, encode_occupations, encode_spins


def _brute_bonds(lx: int, ly: int, periodic: bool) -> set[tuple[int, int]]:
    """Pairs of distinct sites at (minimal-image) lattice distance 1, from coordinates only."""
    out = set()
    sites = [(x, y) for y in range(ly) for x in range(lx)]
    for (x1, y1), (x2, y2) in itertools.combinations(sites, 2):
        dx, dy = abs(x1 - x2), abs(y1 - y2)
        if periodic:
            dx, dy = min(dx, lx - dx), min(dy, ly - dy)
        if dx + dy == 1:
            i, j = x1 + lx * y1, x2 + lx * y2
            out.add((min(i, j), max(i, j)))
    return out


@pytest.mark.parametrize("lx,ly", [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (1, 5), (3, 4), (4, 3), (2, 5), (4, 4)])
@pytest.mark.parametrize("boundary", ["open", "periodic"])
def test_bonds_match_coordinate_brute_force(lx: int, ly: int, boundary: str) -> None:
    lat = Lattice(lx, ly, boundary)
    got = [tuple(map(int, b)) for b in lat.bonds]
    assert len(got) == len(set(got))  # each bond once
    assert all(i < j for i, j in got)
    assert set(got) == _brute_bonds(lx, ly, boundary == "periodic")
    # count formula: per line, n - 1 open; periodic n for n > 2, n - 1 for n <= 2 (no doubled bond on a side of 2)
    def b(n: int) -> int:
        return n if (boundary == "periodic" and n > 2) else n - 1
    assert lat.n_bonds == ly * b(lx) + lx * b(ly)
    assert lat.n_sites == lx * ly


def test_site_index_convention() -> None:
    lat = Lattice(3, 4)
    assert lat.site(2, 1) == 5 and lat.coords(5) == (2, 1)
    assert (0, 1) in {tuple(b) for b in lat.bonds.tolist()}  # x-neighbours differ by 1
    assert (0, 3) in {tuple(b) for b in lat.bonds.tolist()}  # y-neighbours differ by lx
    a = lat.adjacency()
    assert np.array_equal(a, a.T) and a.sum() == 2 * lat.n_bonds


def test_lattice_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="lx"):
        Lattice(0, 3)
    with pytest.raises(InvalidInputError, match="ly"):
        Lattice(3, -1)
    with pytest.raises(InvalidInputError, match="boundary"):
        Lattice(3, 4, "twisted")
    with pytest.raises(InvalidInputError, match="lx"):
        Lattice(2.5, 3)  # type: ignore[arg-type]


def test_encode_spins() -> None:
    codes = np.array([0b000, 0b101, 0b111, 0b010])
    x = encode_spins(codes, 3)
    assert x.dtype == np.float64 and x.shape == (4, 3)
    # bit i = site i, bit 1 = spin up = +1
    np.testing.assert_array_equal(x, [[-1, -1, -1], [1, -1, 1], [1, 1, 1], [-1, 1, -1]])
    with pytest.raises(InvalidInputError, match="basis"):
        encode_spins(np.array([8]), 3)
    with pytest.raises(InvalidInputError, match="basis"):
        encode_spins(np.array([0.5]), 3)


def test_encode_occupations() -> None:
    L = 4
    up, dn = 0b0101, 0b0011  # site0 double, site1 down, site2 up, site3 hole
    x = encode_occupations(np.array([up | (dn << L)]), L)
    np.testing.assert_array_equal(x, [[1.5, -0.5, 0.5, -1.5]])
    assert set(np.unique(encode_occupations(np.arange(1 << (2 * L)), L))) == {-1.5, -0.5, 0.5, 1.5}
