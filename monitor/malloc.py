"""Fewer malloc arenas: glibc gives each thread that allocates its own arena, up to 8 per core, and
memory freed in one arena is not reused by the others. A crawl pass runs 32 fetch threads (and `monitor
run` a web server's threads beside the scheduler's); each arena keeps the high-water mark of what its
threads once parsed, so a 1,000-feed cold pass peaked at ~715 MB where two arenas give ~386 MB, in the
same time (bench/RESULTS.md, "Lean and fast"). The threads mostly wait on the network and on the GIL,
so they gain nothing from arenas of their own.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; whether the cap was set.

    Call before the process starts threads (an arena, once made, stays). Does nothing when the
    operator set MALLOC_ARENA_MAX (theirs wins), off Linux, or on a C library without mallopt.
    """
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
