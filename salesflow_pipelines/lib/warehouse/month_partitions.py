"""Which monthly partitions a window's write rebuilds, drops or edits in place (PostgreSQL only).

A dated table in PostgreSQL is partitioned by month. Replacing a window then splits in two:
- months the window covers whole are rebuilt: a fresh table is loaded with the month's rows,
  indexed once, and swapped in for the old partition (no row-by-row delete, no unique checks
  against deleted rows);
- the window's days in months it covers only in part (a daily run, the ends of a backfill)
  are deleted and re-inserted in the month's partition, as an unpartitioned table would be.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from salesflow_pipelines.lib.warehouse.tables import Table


def partitioned_by_month(table: Table) -> bool:
    """Dated tables whose primary key (if any) includes the date: PostgreSQL requires that of a partition key."""
    return bool(table.date_column) and (not table.primary_key or table.date_column in table.primary_key)


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(table: Table, month: date) -> str:
    return f"{table.name}_p{month:%Y%m}"


def month_of_partition(table: Table, name: str) -> date | None:
    """The month a partition named by `partition_name` holds; None for any other name."""
    digits = name.removeprefix(f"{table.name}_p")
    if digits == name or len(digits) != 6 or not digits.isdigit():
        return None
    return date(int(digits[:4]), int(digits[4:]), 1)


@dataclass(frozen=True)
class Plan:
    """What replacing a window does, month by month; days are [start, end) pairs."""

    rebuilt: list[date] = field(default_factory=list)
    dropped: list[date] = field(default_factory=list)
    edited_days: list[tuple[date, date]] = field(default_factory=list)


def plan(window: tuple[date, date] | None, months_with_rows: Iterable[date], existing: Iterable[date]) -> Plan:
    """The plan for a window (None: the whole table) given the months the new rows fall in and
    the months that have a partition already."""
    months_with_rows, existing = set(months_with_rows), set(existing)
    if window is None:
        return Plan(sorted(months_with_rows), sorted(existing - months_with_rows))
    start, end = window
    covered, edited_days = set(), []
    month = month_of(start)
    while month < end:
        following = next_month(month)
        if start <= month and following <= end:
            covered.add(month)
        else:
            edited_days.append((max(start, month), min(end, following)))
        month = following
    return Plan(sorted(covered & months_with_rows), sorted((covered & existing) - months_with_rows), edited_days)
