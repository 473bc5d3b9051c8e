"""Settings of the server process itself, made before it starts any thread."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

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


def freeze_startup_objects() -> None:
    """Exempt every object alive now (modules, classes, the app and its routes: some 121,000 once the app is
    built) from the garbage collector's future passes. A full pass visits every tracked object, and request work
    triggered one every twenty or so searches: that request took 60–70 ms instead of 20. Frozen objects
    are still freed by reference counting; only cycles among them would stay."""
    gc.collect()
    gc.freeze()
