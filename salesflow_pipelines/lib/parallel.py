"""Threads for the big array passes of cleaning and the KPIs.

numpy lets go of the GIL while it gathers, copies and counts, so threads run those passes on
several cores at once; on a VM they also fault fresh pages in side by side, which one thread
alone pays for in system time (at 10 M lines, more than the computation itself).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

# Measured on the 2-core benchmark machine: two threads halve the cold gather, more do not help.
THREADS = 2
# Rows per block of a pass: 8 MB a float column, so a block's temporaries stay in cache and the
# allocator hands the same memory to the next block instead of fresh pages.
BLOCK_ROWS = 1_000_000

T = TypeVar("T")


def run_all(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each job's answer under its name; the jobs run on `THREADS` threads."""
    with ThreadPoolExecutor(THREADS) as pool:
        return dict(zip(jobs, pool.map(lambda job: job(), jobs.values()), strict=True))


def over_blocks(work: Callable[[slice], T], rows: int) -> list[T]:
    """`work` of consecutive blocks of at most `BLOCK_ROWS` of `rows` rows, in row order.

    One block runs in the caller's thread; more run on `THREADS` threads.
    """
    bounds = [*range(0, rows, BLOCK_ROWS), rows] if rows else [0, 0]
    blocks = [slice(start, stop) for start, stop in itertools.pairwise(bounds)]
    if len(blocks) == 1:
        return [work(blocks[0])]
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, blocks))
