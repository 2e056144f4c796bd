"""Pausing Python's cyclic garbage collector while big acyclic structures are built.

Decoding a day of sales builds millions of dicts, lists and strings; each batch of new
objects sets off a collection that walks every object still alive, the whole payload decoded
so far included, and finds nothing to free: JSON has no reference cycles. At 100,000 lines
that halves the decoding time. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off for the block; on again after it if it was on before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
