"""The ``nnqs-fast`` command line: parse -> experiment -> io. Nothing else lives here.

Each subcommand is a module in :mod:`nnqs_fast.commands` with ``register(subparsers)``; the module parses its
options, calls the library, and writes JSON + NPZ through :mod:`nnqs_fast.experiments.io`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ._version import __version__
from .errors import NnqsError

#: Subcommands, in ``--help`` order. A module missing from this build is skipped.
COMMANDS = ("info", "targets", "kernel", "predict", "train", "groundstate", "entropy", "reproduce", "sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnqs-fast",
        description="Infinite neural network quantum states (Luo & Halverson, arXiv:2112.00723): QS-NTK kernels, "
                    "closed-form training dynamics, finite-width ensembles and ensemble entanglement.",
    )
    parser.add_argument("--version", action="version", version=f"nnqs_fast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"nnqs_fast.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"nnqs_fast.commands.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NnqsError as exc:
        print(f"nnqs-fast {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nnqs-fast {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
