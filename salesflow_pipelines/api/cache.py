"""Answers kept as encoded JSON until the warehouse's data version changes.

The tables change when an asset materializes (once a day, or on a backfill); the same question
asked by every open dashboard in between gets the bytes computed for the first one. An entry is
only used under the version it was computed at (`ReadStore.version()`); the version is looked up
again at most every `recheck_seconds` (1 s by default, SALESFLOW_API_RECHECK_SECONDS; 0: on every
request), so an answer reflects a warehouse commit within that time. The oldest entries go first
past `max_entries`.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date, datetime
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool


class ResponseCache:
    def __init__(self, max_entries: int = 1024):
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: str) -> bytes | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != version:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def compute(self, key: Hashable, version: str, compute: Callable[[], Any]) -> bytes:
        """Compute, encode and keep the answer (a thread's work: it reads the warehouse)."""
        body = encode(compute())
        with self._lock:
            self.misses += 1
            self._entries[key] = (version, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return body

    def get_or_compute(self, key: Hashable, version: str, compute: Callable[[], Any]) -> bytes:
        found = self.get(key, version)
        return found if found is not None else self.compute(key, version, compute)


class DataVersion:
    """The warehouse's data version, looked up at most every `recheck_seconds` by one request at a time."""

    def __init__(self, lookup: Callable[[], str], recheck_seconds: float = 1.0):
        self.lookup = lookup
        self.recheck_seconds = recheck_seconds
        self._value: str | None = None
        self._checked_at = float("-inf")
        self._lock: asyncio.Lock | None = None

    async def current(self) -> str:
        if time.monotonic() - self._checked_at < self.recheck_seconds and self._value is not None:
            return self._value
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._checked_at >= self.recheck_seconds or self._value is None:
                checked_at = time.monotonic()
                self._value = await run_in_threadpool(self.lookup)
                self._checked_at = checked_at
            return self._value


def encode(content: Any) -> bytes:
    """Compact JSON; NaN and infinities (an empty mean, a missing cover) become null."""
    return json.dumps(_finite(content), default=_json_default, separators=(",", ":"), allow_nan=False).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
