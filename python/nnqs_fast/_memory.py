"""The caching host memory pool of the compiled core (like CuPy's and PyTorch's memory pools).

Large result matrices (the analytic ReLU NNGP/NTK Gram, ...) are allocated from a pool of already-mapped memory:
when such an array (and every view of it) is gone, its block goes back to the pool and the next request of a
similar size reuses it, without the page faults and the operating system's zeroing of fresh pages (for a 4096²
float64 NNGP + NTK that is 256 MiB zeroed per call, as long as writing the result itself).

The pool hands out uninitialised memory (``np.empty`` semantics) only to functions that write every entry.
Freed blocks are cached while the cached bytes stay within a limit (least recently freed blocks are evicted
first); the default limit is ``min(2 GiB, 10% of physical memory)``. Set it with the environment variable
``NNQS_FAST_MEMORY_POOL_LIMIT`` (a byte count such as ``512MiB`` or ``1e9``; ``0`` disables caching), read on
first use, or with :meth:`MemoryPool.set_cache_limit`. Blocks below 1 MiB are never cached. Thread-safe.

:mod:`tracemalloc` sees pool arrays as it sees ``np.empty`` ones: each is tracked, with its own byte count, in
domain :data:`TRACE_DOMAIN` while it lives (cached free blocks are not counted); filter with
``tracemalloc.DomainFilter(True, TRACE_DOMAIN)``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._backend import core_module
from ._validation import parse_byte_size
from .errors import InvalidInputError

__all__ = ["MemoryPool", "memory_pool", "pool_empty", "pool_take"]

#: environment variable with the cache limit in bytes (``0`` disables caching)
POOL_LIMIT_ENV = "NNQS_FAST_MEMORY_POOL_LIMIT"

_configured = False
#: larger limits are clamped to this (no limit in practice)
_MAX_LIMIT = 2**63 - 1


def _configure() -> Any:
    """The core module, with the cache limit from :data:`POOL_LIMIT_ENV` applied once (an unreadable value raises
    :class:`InvalidInputError` naming it, here at first use rather than at import)."""
    global _configured
    core = core_module()
    if not _configured:
        limit = parse_byte_size(os.environ.get(POOL_LIMIT_ENV), POOL_LIMIT_ENV, allow_zero=True)
        if limit is not None:
            core.pool_set_cache_limit(min(int(limit), _MAX_LIMIT))
        _configured = True
    return core


def __getattr__(name: str) -> Any:
    """``TRACE_DOMAIN``: the tracemalloc domain of pool-backed arrays, read from the core on first use (its one home
    is cpp/bindings/register_memory.cpp; NumPy's own buffers use domain 389047)."""
    if name == "TRACE_DOMAIN":
        return int(core_module().pool_trace_domain)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pool_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """``np.empty(shape, dtype)`` from the memory pool: uninitialised, C-contiguous, 64-byte aligned (whole cache
    lines; 2 MiB for blocks of at least 2 MiB). For results whose every entry the caller writes."""
    return _configure().pool_empty([int(s) for s in shape], np.dtype(dtype))


def pool_take(shape: tuple[int, ...], dtype: Any) -> tuple[np.ndarray, bool]:
    """:func:`pool_empty`, and whether its block was reused from the cache (pages already mapped: streaming stores
    pay off) rather than fresh from the system (the OS zeroes each page on first touch: plain stores are faster)."""
    a, reused = _configure().pool_take([int(s) for s in shape], np.dtype(dtype))
    return a, bool(reused)


class MemoryPool:
    """Handle on the process-wide caching host memory pool (see :mod:`nnqs_fast._memory`); get it with
    :func:`memory_pool`. Byte counts are of whole blocks (requests of at least 1 MiB are rounded up to 2 MiB)."""

    def used_bytes(self) -> int:
        """Bytes of pool blocks held by live arrays."""
        return int(_configure().pool_used_bytes())

    def cached_bytes(self) -> int:
        """Bytes of free blocks kept for reuse."""
        return int(_configure().pool_cached_bytes())

    def total_bytes(self) -> int:
        """``used_bytes() + cached_bytes()``."""
        return self.used_bytes() + self.cached_bytes()

    def n_free_blocks(self) -> int:
        """Number of cached free blocks."""
        return int(_configure().pool_n_cached_blocks())

    def hits(self) -> int:
        """Allocations served from the cache so far."""
        return int(_configure().pool_hits())

    def misses(self) -> int:
        """Allocations of at least 1 MiB that had to ask the operating system."""
        return int(_configure().pool_misses())

    def free_all_blocks(self) -> None:
        """Return every cached free block to the operating system (blocks in use are unaffected)."""
        _configure().pool_free_all_blocks()

    def cache_limit(self) -> int:
        """The most bytes of free blocks the pool keeps (0: caching disabled)."""
        return int(_configure().pool_cache_limit())

    def set_cache_limit(self, nbytes: int | str | None) -> None:
        """Set the cache limit: a byte count (``int`` or text such as ``"512MiB"``; values beyond 2**63 - 1 are
        clamped to it), ``0`` to disable caching (cached blocks are freed at once), ``None`` for the default
        ``min(2 GiB, 10% of RAM)``."""
        core = _configure()
        if nbytes is None:
            core.pool_set_cache_limit(int(core.pool_default_cache_limit()))
            return
        if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer, str)):
            raise InvalidInputError(f"nbytes must be a byte count (int or text like '512MiB'), got {nbytes!r}")
        value = parse_byte_size(str(nbytes), "nbytes", allow_zero=True)
        if value is None:
            raise InvalidInputError("nbytes is empty; pass a byte count, 0 to disable caching, or None for default")
        core.pool_set_cache_limit(min(int(value), _MAX_LIMIT))

    def disable(self) -> None:
        """Disable caching (``set_cache_limit(0)``): every block goes back to the system when its array dies."""
        self.set_cache_limit(0)

    def __repr__(self) -> str:
        return (f"MemoryPool(used_bytes={self.used_bytes()}, cached_bytes={self.cached_bytes()}, "
                f"cache_limit={self.cache_limit()})")


def memory_pool() -> MemoryPool:
    """The process-wide caching host memory pool of the compiled core (large analytic-kernel results come from it;
    docs/performance.md). ``memory_pool().free_all_blocks()`` returns its cached memory to the system."""
    return MemoryPool()
