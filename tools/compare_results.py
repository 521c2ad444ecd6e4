"""Compare two nnqs_fast result trees (DIR/*/NAME.json + .npz): the largest relative difference of every numeric
JSON leaf and NPZ array present on both sides.

Usage: python tools/compare_results.py BEFORE_DIR AFTER_DIR   (wall times, versions and timestamps are skipped)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

SKIP = ("timing", "created", "wall_time", "version", "git", "host", "timestamp", "wall", "python", "numpy",
        "platform")


def leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not any(s in k for s in SKIP):
                yield from leaves(v, f"{prefix}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{prefix}[{i}]")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix, float(obj)


def rel(a: Any, b: Any) -> float:
    a, b = np.asarray(a, complex), np.asarray(b, complex)
    if a.shape != b.shape or not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("inf")
    fin = np.isfinite(a)
    if not fin.any():
        return 0.0
    d, s = np.abs(a[fin] - b[fin]), np.maximum(np.abs(a[fin]), np.abs(b[fin]))
    return float(np.max(np.where(s > 0, d / np.where(s > 0, s, 1), 0)))


def main(before: str, after: str) -> float:
    worst_all = 0.0
    for base in sorted(Path(before).glob("*/*.json")):
        new = Path(after) / base.parent.name / base.name
        if not new.exists():
            continue
        la, lb = dict(leaves(json.loads(base.read_text()))), dict(leaves(json.loads(new.read_text())))
        jw = max([(rel(la[k], lb[k]), k) for k in la if k in lb], default=(0.0, None))
        na, nb = np.load(base.with_suffix(".npz")), np.load(new.with_suffix(".npz"))
        aw = max([(rel(na[k], nb[k]), k) for k in na.files if k in nb.files], default=(0.0, None))
        print(f"{base.parent.name}/{base.name}: JSON {len(la)} numbers, max rel diff {jw[0]:.2e}; NPZ "
              f"{len(na.files)} arrays, max rel diff {aw[0]:.2e}; keys on one side only: {len(set(la) ^ set(lb))}")
        worst_all = max(worst_all, jw[0], aw[0])
    print(f"overall max relative difference: {worst_all:.2e}")
    return worst_all


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
