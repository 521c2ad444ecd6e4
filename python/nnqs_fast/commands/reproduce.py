"""``nnqs-fast reproduce fig1|fig2|fig3``: the paper's figures (PNG + JSON + NPZ in ``--out``).

Each figure lives in :mod:`nnqs_fast.experiments.figN` with ``add_arguments(parser)`` and ``run(args) -> int``;
the modules are imported when the parser is built (a figure missing from this build is skipped).
"""

from __future__ import annotations

import argparse
import importlib

FIGURES = {
    "fig1": "ensemble entanglement of CosNet/GaussNet NNQS vs the Page value (Fig. 1)",
    "fig2": "finite-width ensemble training vs QS-NTK train/test curves (Fig. 2)",
    "fig3": "test loss after training vs train size for several widths and the QS-NTK value (Fig. 3)",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="reproduce the paper's figures (fig1, fig2, fig3)",
                       description="Reproduce a figure of Luo & Halverson (arXiv:2112.00723): FIGURE.json/.npz and "
                                   "the figure FIGURE.png (300 dpi) + FIGURE.pdf. Without a usable GPU the defaults "
                                   "are reduced settings that finish in about two minutes on 2 cores and show the "
                                   "paper's claim; --paper (fig2/fig3) runs the paper's full settings.")
    figs = p.add_subparsers(dest="figure", metavar="FIGURE")
    for name, help_text in FIGURES.items():
        try:
            mod = importlib.import_module(f"nnqs_fast.experiments.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"nnqs_fast.experiments.{name}":
                continue
            raise
        fp = figs.add_parser(name, help=help_text, description=getattr(mod, "DESCRIPTION", help_text))
        mod.add_arguments(fp)
        fp.set_defaults(func=mod.run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
