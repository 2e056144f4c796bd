"""Dates the pipelines pass around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Window:
    """Days [start, end): the partitions a write replaces or a read returns."""

    start: date
    end: date
