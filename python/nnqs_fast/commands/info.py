"""``nnqs-fast info``: version, backends, and why a backend is not usable."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._backend import backend_info
from .._version import __version__


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show the version and which backends are usable (and why not)",
                       description="Show the package version, the compiled core's threading, and the status of the "
                                   "CPU and CUDA backends (no CUDA build / no device / no CuPy).")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    backends: dict[str, dict[str, Any]] = {}
    info = {"nnqs_fast": __version__, "backends": backends}
    for name, st in backend_info().items():
        backends[name] = {"usable": st.usable, "reason": st.reason, **st.details}
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"nnqs_fast {__version__}")
    for name, row in backends.items():
        status = "usable" if row["usable"] else f"not usable: {row['reason']}"
        print(f"  {name:5s} {status}")
        for k, v in row.items():
            if k not in ("usable", "reason"):
                print(f"        {k}: {v}")
    return 0
