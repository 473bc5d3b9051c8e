"""The server process caps glibc's malloc arenas where glibc is the C library."""

from __future__ import annotations

import platform

import pytest

from tokenledger import runtime


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's arena cap is glibc's")
def test_the_arena_cap_is_accepted_by_glibc() -> None:
    assert runtime.limit_malloc_arenas() is True
