"""Handing freed memory back to the operating system, for the long-running processes (`monitor run`, `serve`).

Why: CPython frees large arrays with free(), and glibc keeps what was freed inside its heaps for reuse. After the
model is loaded (its file is decompressed into temporary arrays several times the size of what is kept) and after
a crawl pass (feeds, features, score matrices of every worker thread), tens of megabytes stay resident in the
process although nothing uses them: 60 MB after loading the shipped model, ~37 MB after a first pass over 200
sources (bench/bench_memory.py, issue 17). glibc's malloc_trim(0) returns the free pages of every heap. It is
glibc-only: elsewhere (musl, macOS) this does nothing, and those allocators keep less anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_lock = threading.Lock()
_trim: Callable[[int], int] | None = None
_looked_up = False


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none."""
    global _trim, _looked_up
    with _lock:
        if not _looked_up:
            _looked_up = True
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _trim = libc.malloc_trim
                _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
            except (OSError, AttributeError):
                _trim = None
        return _trim


def release_free_memory() -> bool:
    """Return the C heap's free pages to the operating system; True when the C library could be asked.
    Cheap (a few milliseconds) and safe at any time: it only gives back pages nothing is using."""
    trim = _malloc_trim()
    if trim is None:
        return False
    try:
        trim(0)
    except OSError:  # never seen; a failed trim just leaves the memory where it was
        log.debug("malloc_trim failed", exc_info=True)
        return False
    return True
