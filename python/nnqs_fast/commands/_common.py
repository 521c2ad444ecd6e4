"""Options shared by the subcommands."""

from __future__ import annotations

import argparse

from ..errors import InvalidInputError


def add_output_options(p: argparse.ArgumentParser, *, default_out: str | None = None) -> None:
    """``--out DIR`` (required unless a default is given) and ``--quiet``."""
    p.add_argument("--out", required=default_out is None, default=default_out, metavar="DIR",
                   help="directory for the JSON + NPZ results" + (f" (default: {default_out})" if default_out else ""))
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def add_seed_option(p: argparse.ArgumentParser, default: int = 0) -> None:
    p.add_argument("--seed", type=int, default=default, help=f"random seed (default: {default})")


def _backend_name(value: str) -> str:
    """``--backend`` through the package's one backend parser (same letter-case rule and message)."""
    from .._backend import parse_backend

    try:
        return parse_backend(value)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_backend_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", type=_backend_name, choices=("auto", "cpu", "cuda"), default="auto",
                   help="compute backend (default: auto = cuda when usable, else cpu)")


def add_target_options(p: argparse.ArgumentParser) -> None:
    """The physics target: system, lattice, boundary, couplings (see nnqs_fast.physics)."""
    p.add_argument("--system", choices=("tfim", "hubbard"), default="tfim", help="target system (default: tfim)")
    p.add_argument("--lx", type=int, default=3, help="lattice size along x (default: 3)")
    p.add_argument("--ly", type=int, default=4, help="lattice size along y (default: 4)")
    p.add_argument("--boundary", choices=("open", "periodic"), default=None,
                   help="boundary conditions (default: the package's documented default for the system)")
