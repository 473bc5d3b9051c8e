"""The server process caps glibc's malloc arenas where glibc is the C library, and keeps the objects it
starts with out of the garbage collector's passes."""

from __future__ import annotations

import gc
import platform

import pytest

from tokenledger import runtime


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's arena cap is glibc's")
def test_the_arena_cap_is_accepted_by_glibc() -> None:
    assert runtime.limit_malloc_arenas() is True


def test_startup_objects_are_left_out_of_later_collections() -> None:
    started_with = {"kept": ["alive at startup"]}
    try:
        runtime.freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        # A full pass no longer visits them: they are in no generation.
        assert not any(obj is started_with for obj in gc.get_objects())
        assert started_with["kept"] == ["alive at startup"]
    finally:
        gc.unfreeze()
    assert any(obj is started_with for obj in gc.get_objects())
