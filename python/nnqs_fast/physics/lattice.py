"""Square lattices Lx × Ly with open or periodic boundaries (the lattices of Eqs. 19–20 of the paper).

Site convention: the site at column ``x`` (0 <= x < lx) and row ``y`` (0 <= y < ly) has index
``site = x + lx * y`` (x fastest, row-major). Bonds ``<ij>`` are nearest-neighbour pairs listed once each as
``(i, j)`` with ``i < j``, sorted lexicographically:

* along a side of length 1 there are no bonds;
* with periodic boundaries, a side of length 2 has one bond between its two sites, not two (the wrap-around
  bond coincides with the direct one and is not double counted);
* with periodic boundaries and a side of length >= 3 the wrap-around bond ``(L-1) -> 0`` is added.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import check_choice, check_nbytes, check_positive_int

__all__ = ["Lattice", "BOUNDARIES"]

#: Accepted boundary names.
BOUNDARIES = ("open", "periodic")


def _check_boundary(boundary: object, name: str = "boundary") -> str:
    return check_choice(boundary, name, BOUNDARIES)


@dataclass(frozen=True)
class Lattice:
    """An ``lx × ly`` square lattice; ``boundary`` is ``"open"`` or ``"periodic"`` (both directions).

    Attributes: ``lx``, ``ly``, ``boundary``, ``n_sites = lx * ly``, ``bonds`` (int64 array, shape
    ``(n_bonds, 2)``, each nearest-neighbour pair once with ``i < j``). Site index ``x + lx * y``.
    """

    lx: int
    ly: int
    boundary: str = "open"
    bonds: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lx = check_positive_int(self.lx, "lx")
        ly = check_positive_int(self.ly, "ly")
        # the bond list is built site by site in Python (about 200 bytes per site): refuse absurd sizes first
        check_nbytes((lx, ly, 200), 1, f"the {lx} x {ly} lattice's bond list")
        boundary = _check_boundary(self.boundary)
        object.__setattr__(self, "lx", lx)
        object.__setattr__(self, "ly", ly)
        object.__setattr__(self, "boundary", boundary)
        periodic = boundary == "periodic"
        pairs = set()
        for y in range(ly):
            for x in range(lx):
                i = x + lx * y
                # +x neighbour
                if x + 1 < lx:
                    pairs.add((i, i + 1))
                elif periodic and lx > 2:
                    pairs.add((min(i, lx * y), max(i, lx * y)))
                # +y neighbour
                if y + 1 < ly:
                    pairs.add((i, i + lx))
                elif periodic and ly > 2:
                    pairs.add((min(i, x), max(i, x)))
        bonds = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
        bonds.setflags(write=False)
        object.__setattr__(self, "bonds", bonds)

    @property
    def n_sites(self) -> int:
        return self.lx * self.ly

    @property
    def n_bonds(self) -> int:
        return int(self.bonds.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.lx, self.ly)

    def site(self, x: int, y: int) -> int:
        """Index of the site at column ``x``, row ``y``: ``x + lx * y``."""
        return int(x) + self.lx * int(y)

    def coords(self, site: int) -> tuple[int, int]:
        """``(x, y)`` of a site index (inverse of :meth:`site`)."""
        return int(site) % self.lx, int(site) // self.lx

    def adjacency(self) -> np.ndarray:
        """Symmetric 0/1 adjacency matrix (n_sites, n_sites) of the bonds (float64)."""
        a = np.zeros((self.n_sites, self.n_sites))
        if self.n_bonds:
            a[self.bonds[:, 0], self.bonds[:, 1]] = 1.0
            a[self.bonds[:, 1], self.bonds[:, 0]] = 1.0
        return a
