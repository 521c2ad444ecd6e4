"""Options shared by the subcommands."""

from __future__ import annotations

import argparse
from typing import Any

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


def _add(parser: argparse.ArgumentParser, *names: str, **kw: Any) -> None:
    if any(n in parser._option_string_actions for n in names):  # the caller already defines it
        return
    parser.add_argument(*names, **kw)


class _DeprecatedAlias(argparse.Action):
    """An old option name that still works, warns on each use, and is hidden from ``--help``."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kw: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        import warnings

        warnings.warn(f"{option_string} is deprecated; use {self.new}", FutureWarning, stacklevel=2)
        setattr(namespace, self.dest, values)


def add_deprecated_alias(parser: argparse.ArgumentParser, old: str, *, dest: str, new: str, **kw: Any) -> None:
    """Accept ``old`` as a hidden alias of ``new`` (same ``dest``) that emits a FutureWarning when used."""
    if old in parser._option_string_actions:
        return
    parser.add_argument(old, dest=dest, action=_DeprecatedAlias, new=new, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS, **kw)


def add_weight_scale_arguments(parser: argparse.ArgumentParser) -> None:
    """``--weight-scale paper-std|paper-variance`` and ``--W-std``/``--b-std`` (explicit values win)."""
    from ..experiments.conventions import DEFAULT_WEIGHT_SCALE, WEIGHT_SCALES

    w, b = WEIGHT_SCALES[DEFAULT_WEIGHT_SCALE]
    wv, bv = WEIGHT_SCALES["paper-variance"]
    _add(parser, "--weight-scale", choices=tuple(WEIGHT_SCALES), default=DEFAULT_WEIGHT_SCALE,
         help=f"reading of the paper's 'W ~ N(0, 0.25), b ~ N(0, 0.01)': paper-std = standard deviations "
              f"(W_std {w:g}, b_std {b:g}; default, the reading the evidence supports, docs/training.md) or "
              f"paper-variance = variances (W_std {wv:g}, b_std {bv:g})")
    _add(parser, "--W-std", type=float, default=None, dest="W_std",
         help="weight standard deviation of the NTK-parameterised ReLU layers (overrides --weight-scale)")
    _add(parser, "--b-std", type=float, default=None, dest="b_std",
         help="bias standard deviation (overrides --weight-scale)")


def weight_scale(args: argparse.Namespace) -> tuple[float, float]:
    """``(W_std, b_std)`` from ``--weight-scale`` and explicit ``--W-std``/``--b-std``."""
    from ..experiments.conventions import DEFAULT_WEIGHT_SCALE, WEIGHT_SCALES

    w, b = WEIGHT_SCALES[getattr(args, "weight_scale", None) or DEFAULT_WEIGHT_SCALE]
    W_std = getattr(args, "W_std", None)
    b_std = getattr(args, "b_std", None)
    return float(w if W_std is None else W_std), float(b if b_std is None else b_std)
