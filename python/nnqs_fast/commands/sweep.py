"""``nnqs-fast sweep SPEC --out DIR [--scheduler local|ADDRESS] [--workers N]``: a parameter grid on Dask.

SPEC is a TOML grid (systems × lattices × boundaries × kinds (predict | train) × widths × train sizes × seeds,
plus shared settings; :mod:`nnqs_fast.experiments.sweep`). Each grid point is one Dask task writing
``DIR/tasks/<hash>.json`` + ``.npz`` atomically; rerunning the command skips finished points. At the end:
``DIR/sweep.json`` + ``sweep.npz`` (every point's settings and results) and the figures
``losses_vs_fraction.png`` and ``widths_vs_qsntk.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from ..experiments.sweep import add_scheduler_arguments

    p = sub.add_parser("sweep", help="run a parameter grid (TOML SPEC) as Dask tasks; resumable",
                       description="Run every point of the SPEC grid as one Dask task (LocalCluster by default, or "
                                   "any scheduler by address). Finished points are skipped on a rerun; results "
                                   "do not depend on the number of workers.")
    p.add_argument("spec", metavar="SPEC", help="TOML file with [grid] and [settings] (see examples/)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (task files, merged results)")
    add_scheduler_arguments(p, default="local", workers_flag="--workers")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS/OpenMP threads per task (default 1: results bit-identical for any worker count; "
                        "keep workers x threads <= cores)")
    p.add_argument("--retries", type=int, default=3, help="retries of a task lost with its worker (default 3)")
    p.add_argument("--no-plot", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validation import check_positive_int
    from ..experiments.sweep import load_spec, run_sweep

    spec = load_spec(args.spec)
    workers = None if args.dask_workers is None else check_positive_int(args.dask_workers, "--workers")
    threads = None if args.threads is None else check_positive_int(args.threads, "--threads")
    retries = check_positive_int(args.retries, "--retries", minimum=0)
    res = run_sweep(spec, args.out, scheduler=args.scheduler, workers=workers, threads=threads, retries=retries,
                    quiet=args.quiet, plot=not args.no_plot)
    if not args.quiet:
        print(f"sweep {spec['name']}: {len(res['points'])} tasks in {res['wall_time_s']:.1f} s; "
              f"wrote {Path(args.out) / 'sweep.json'}")
    return 0
