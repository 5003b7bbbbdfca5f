"""The C heap under the scorer's arrays: keep batch-sized blocks in it while scoring, hand free pages back when idle.

Why: scoring a batch allocates numpy arrays of a few MB each, many times per batch. glibc serves blocks above its
mmap threshold (128 KB to start) with a fresh mmap and unmaps them on free, so every batch pays page faults and
zeroing again; it raises the threshold on its own only after freeing a large mmapped block. Loading the model used
to do that by accident (temporaries of tens of MB): once loading stopped making them (issue 17 §3), features and
scores were ~30 % slower (bench/RESULTS.md, "Memory and start-up"). `keep_batch_arrays_in_heap` sets the
thresholds glibc would have reached (mmap 32 MiB, its maximum; trim 64 MiB), so those blocks are reused.

The other side: CPython frees large arrays with free(), and glibc keeps what was freed inside its heaps. After the
model is loaded and after a crawl pass, tens of megabytes stay resident though nothing uses them (60 MB after
loading the shipped model with the old loader, ~37 MB after a first pass over 200 sources). `release_free_memory`
(glibc's malloc_trim(0)) returns the free pages of every heap; long-running processes call it when idle.

Fewer arenas (`limit_arenas`, set by the `monitor` console script before any thread starts): glibc gives each
thread that allocates its own arena, up to 8 per core, and memory freed in one arena is not reused by the others.
A crawl pass runs 32 fetch threads (and `monitor run` a web server's threads beside the scheduler's); each arena
keeps the high-water mark of what its threads once parsed, so a 1,000-feed cold pass peaked at ~715 MB where two
arenas give ~386 MB, in the same time (bench/RESULTS.md, "Lean and fast"). The threads mostly wait on the network
and on the GIL, so they gain nothing from arenas of their own.

glibc only: with another C library (musl, macOS) all three do nothing, and those allocators behave differently.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)
ARENAS = 2
MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for its own dynamic threshold on 64-bit
TRIM_THRESHOLD = 64 << 20  # twice that, as glibc sets it when it raises the mmap threshold

_lock = threading.Lock()
_libc: ctypes.CDLL | None = None
_looked_up = False
_tuned = False


def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (it has malloc_trim and mallopt), else None."""
    global _libc, _looked_up
    with _lock:
        if not _looked_up:
            _looked_up = True
            try:
                libc = ctypes.CDLL(None)  # the process's own symbols: glibc's, without find_library's ~15 ms subprocess
                libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
                libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
                _libc = libc
            except (OSError, AttributeError):
                _libc = None
        return _libc


def keep_batch_arrays_in_heap() -> bool:
    """Once per process: serve blocks up to 32 MiB from the heap and trim its top only past 64 MiB free (see the
    module docstring); True when glibc took the settings."""
    global _tuned
    libc = _glibc()
    if libc is None:
        return False
    with _lock:
        if not _tuned:
            _tuned = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        return _tuned


def release_free_memory() -> bool:
    """Return the C heap's free pages to the operating system; True when the C library could be asked.
    Safe at any time (it only gives back pages nothing uses); takes up to a few hundred ms on a large heap."""
    libc = _glibc()
    if libc is None:
        return False
    try:
        libc.malloc_trim(0)
    except OSError:  # never seen; a failed trim just leaves the memory where it was
        log.debug("malloc_trim failed", exc_info=True)
        return False
    return True


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; whether the cap was set.

    Call before the process starts threads (an arena, once made, stays). Does nothing when the
    operator set MALLOC_ARENA_MAX (theirs wins) or on a C library other than glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _glibc()
    return bool(libc.mallopt(M_ARENA_MAX, arenas)) if libc is not None else False
