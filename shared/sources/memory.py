"""Giving freed memory back to the system: glibc keeps what many small allocations left behind.

A fetch parses its lines page by page into thousands of small arrays and then joins them into one
array a column; the small ones, freed, stay in the process's heap (its RSS) unless the allocator
is asked to trim it. :func:`release_free_memory` asks glibc's ``malloc_trim``; on another C
library it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> None:
    """Return the heap's free pages to the system (glibc), so the RSS shows what is held."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
