"""Result files: every command that computes writes ``<name>.json`` + ``<name>.npz`` into ``--out DIR``.

JSON schema (all commands)::

    {
      "schema": "nnqs_fast.result/1",
      "name": "<command or experiment name>",
      "nnqs_fast_version": "...", "backend": "cpu" | "cuda", "seed": <int or null>,
      "created": "<UTC ISO time>", "python": "...", "numpy": "...", "platform": "...",
      "config": {... every setting that defines the run ...},
      "results": {... all scalar numbers and small lists ...},
      "arrays": {"<key>": {"shape": [...], "dtype": "..."}, ...}   # what the NPZ holds
    }

Complex numbers in JSON are written as ``{"re": x, "im": y}``; NumPy scalars/arrays as plain numbers/lists.
The NPZ holds the arrays under the keys listed in ``"arrays"``. :func:`load_results` reads both back so figures
can be re-plotted without recomputing.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InvalidInputError

SCHEMA = "nnqs_fast.result/1"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (complex, np.complexfloating)):
        z = complex(obj)
        return {"re": z.real, "im": z.imag}
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else str(f)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return _jsonable({k: getattr(obj, k) for k in obj.__dataclass_fields__})
    return obj


def save_results(out_dir: str | os.PathLike, name: str, *, config: Mapping[str, Any], results: Mapping[str, Any],
                 arrays: Mapping[str, np.ndarray] | None = None, seed: int | None = None,
                 backend: str = "cpu") -> tuple[Path, Path]:
    """Write ``out_dir/name.json`` and ``out_dir/name.npz``; returns both paths."""
    if not name or any(c in name for c in "/\\"):
        raise InvalidInputError(f"result name must be a plain file stem, got {name!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in (arrays or {}).items()}
    meta = {
        "schema": SCHEMA,
        "name": name,
        "nnqs_fast_version": __version__,
        "backend": backend,
        "seed": seed,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "config": _jsonable(config),
        "results": _jsonable(results),
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
    }
    json_path, npz_path = out / f"{name}.json", out / f"{name}.npz"
    # both files atomically (temporary name unique to this process, then os.replace); the NPZ first, so an
    # existing JSON means the result is complete (sweeps use it as the completion marker)
    tag = f".{os.getpid()}.{threading.get_ident()}.tmp"
    tmp_npz = out / f"{name}.npz{tag}"
    with open(tmp_npz, "wb") as fh:
        payload: dict[str, Any] = dict(arrays)
        np.savez_compressed(fh, **payload)
    os.replace(tmp_npz, npz_path)
    tmp = out / f"{name}.json{tag}"
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, json_path)
    return json_path, npz_path


def load_results(out_dir: str | os.PathLike, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read back ``(meta, arrays)`` written by :func:`save_results`."""
    out = Path(out_dir)
    json_path, npz_path = out / f"{name}.json", out / f"{name}.npz"
    if not json_path.exists():
        raise InvalidInputError(f"no result file {json_path}; run the command with --out {out} first")
    meta = json.loads(json_path.read_text())
    with np.load(npz_path) as data:
        arrays = {k: data[k] for k in data.files}
    return meta, arrays
