"""`keep_freed_blocks`: applied on glibc, left alone where the user chose allocator settings."""
from __future__ import annotations

import ctypes
import sys

import pytest

from pyskl.utils.malloc import keep_freed_blocks


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL("libc.so.6"), "mallopt")
    except OSError:
        return False


@pytest.mark.skipif(not _glibc(), reason="needs Linux with glibc")
def test_applied_on_glibc(monkeypatch):
    for key in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "LD_PRELOAD"):
        monkeypatch.delenv(key, raising=False)
    assert keep_freed_blocks() is True


@pytest.mark.parametrize("key, value",
                         [("MALLOC_MMAP_THRESHOLD_", "65536"), ("LD_PRELOAD", "libjemalloc.so")])
def test_user_allocator_settings_win(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    assert keep_freed_blocks() is False


def test_not_linux_is_a_no_op(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_blocks() is False
