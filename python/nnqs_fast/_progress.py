"""Progress bars (tqdm) for long work; silent when ``quiet`` or when stderr is not a terminal in CI."""

from __future__ import annotations

import os
from typing import Any

from tqdm.auto import tqdm


def progress(total: int | None = None, *, desc: str = "", quiet: bool = False, **kwargs: Any) -> tqdm:
    """A tqdm bar; ``quiet=True`` (or NNQS_FAST_QUIET=1) disables it."""
    disable = quiet or os.environ.get("NNQS_FAST_QUIET", "") not in ("", "0")
    return tqdm(total=total, desc=desc, disable=disable, leave=False, dynamic_ncols=True, **kwargs)
