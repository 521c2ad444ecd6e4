"""Result files: every command that computes writes ``<name>.json`` + ``<name>.npz`` into ``--out DIR``.

JSON schema (all commands)::

    {
      "schema": "nnqs_fast.result/1",
      "name": "<command or experiment name>",
      "nnqs_fast_version": "...", "backend": "cpu" | "cuda", "seed": <int or null>,
      "created": "<UTC ISO time>", "python": "...", "numpy": "...", "platform": "...",
      "config": {... every setting that defines the run ...},
      "conventions": {... what the numbers mean: loss, time unit, learning-rate rule, basis, ...},
      "results": {... all scalar numbers and small lists ...},
      "arrays": {"<key>": {"shape": [...], "dtype": "..."}, ...}   # what the NPZ holds
    }

Complex numbers in JSON are written as ``{"re": x, "im": y}``; NumPy scalars/arrays as plain numbers/lists.
The NPZ holds the arrays under the keys listed in ``"arrays"``. :func:`load_results` reads both back so figures
can be re-plotted without recomputing. The ``conventions`` block is built by
:func:`nnqs_fast.experiments.conventions.conventions`; a command that passes none gets the package-wide
statements with ``"stated_by_command": false``. Every file (JSON, NPZ, figures via :func:`atomic_path`) is
written to a temporary name in the same directory and renamed into place, so a crash never leaves a torn file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator, Mapping
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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path`` (atomic on POSIX).

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions a plain open() would
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _default_conventions() -> dict[str, Any]:
    from .conventions import CONVENTIONS_VERSION, LOSS, SPIN_BASIS

    return {"version": CONVENTIONS_VERSION, "stated_by_command": False,
            "note": "the command did not state its conventions; these are the package-wide ones (README)",
            "loss": LOSS, "basis": SPIN_BASIS, "log_base": "e (natural log)"}


def save_results(out_dir: str | os.PathLike, name: str, *, config: Mapping[str, Any], results: Mapping[str, Any],
                 arrays: Mapping[str, np.ndarray] | None = None, seed: int | None = None,
                 backend: str = "cpu", conventions: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``out_dir/name.json`` and ``out_dir/name.npz`` atomically; returns both paths.

    ``conventions``: the block from :func:`nnqs_fast.experiments.conventions.conventions` (what the numbers mean).
    """
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
        "conventions": _jsonable(conventions if conventions is not None else _default_conventions()),
        "results": _jsonable(results),
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
    }
    json_path, npz_path = out / f"{name}.json", out / f"{name}.npz"
    # the NPZ first, then the JSON, each to a unique temporary name and renamed into place: an existing JSON means
    # the result is complete (sweeps use it as the completion marker)
    with atomic_path(npz_path) as tmp, open(tmp, "wb") as fh:
        payload: dict[str, Any] = dict(arrays)
        np.savez_compressed(fh, **payload)
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
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
