"""Settings of the server process itself, made before it starts any thread."""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt's parameter number for the most arenas glibc may create (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8
SERVER_MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVER_MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX does). glibc gives threads that allocate at the same
    time arenas of their own, up to eight per core, and keeps what each has grown to: the server's reader
    threads and ingest parsing held 294 MB at peak through a benchmark's ingest phases, 244 MB with two
    arenas, at the same throughput. Returns whether the cap was set (only glibc has it; elsewhere
    nothing changes)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))
