"""The package version (from the installed metadata; a source checkout reports the pyproject version + dev)."""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("nnqs_fast")
    except PackageNotFoundError:  # running from a source checkout
        __version__ = "0.1.0+dev"
except ImportError:  # pragma: no cover
    __version__ = "0.1.0+dev"
