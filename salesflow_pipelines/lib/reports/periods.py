"""Report periods: a Monday-to-Sunday week or a calendar month, and the file names they give.

Names sort in time order within a kind (`sales-report_2026-W47`, `sales-report_2026-11`): weeks
use the ISO year and week number of their Monday, months their year and month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

PeriodKind = Literal["weekly", "monthly"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("weekly", "monthly")
FILE_STEM = "sales-report"


@dataclass(frozen=True)
class ReportPeriod:
    """The days [start, end) a report covers."""

    kind: PeriodKind
    start: date
    end: date

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> ReportPeriod:
        """The week (Monday to Sunday) or calendar month that contains `day`."""
        if kind == "weekly":
            monday = day - timedelta(days=day.weekday())
            return cls(kind, monday, monday + timedelta(days=7))
        if kind == "monthly":
            first = day.replace(day=1)
            return cls(kind, first, first + timedelta(days=calendar.monthrange(day.year, day.month)[1]))
        raise ValueError(f"a report period is 'weekly' or 'monthly', got {kind!r}")

    @classmethod
    def from_partition_key(cls, kind: PeriodKind, partition_key: str) -> ReportPeriod:
        """The period of a weekly or monthly partition key (the ISO date of its first day)."""
        period = cls.containing(kind, date.fromisoformat(partition_key))
        if period.start.isoformat() != partition_key:
            raise ValueError(f"{partition_key} does not start a {kind} period (expected {period.start})")
        return period

    @property
    def partition_key(self) -> str:
        return self.start.isoformat()

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def day_count(self) -> int:
        return (self.end - self.start).days

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.day_count)]

    @property
    def label(self) -> str:
        """`2026-W47` or `2026-11`: the sortable part of the file name."""
        if self.kind == "weekly":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def title(self) -> str:
        """`Week 47, 2026` or `November 2026`."""
        if self.kind == "weekly":
            year, week, _ = self.start.isocalendar()
            return f"Week {week}, {year}"
        return f"{self.start:%B %Y}"

    @property
    def span(self) -> str:
        """`Monday 16 November 2026 to Sunday 22 November 2026`."""
        return f"{_long_date(self.start)} to {_long_date(self.last_day)}"

    @property
    def noun(self) -> str:
        return "week" if self.kind == "weekly" else "month"

    def previous(self) -> ReportPeriod:
        return ReportPeriod.containing(self.kind, self.start - timedelta(days=1))

    def next(self) -> ReportPeriod:
        return ReportPeriod.containing(self.kind, self.end)

    def file_name(self, extension: str) -> str:
        return f"{FILE_STEM}_{self.label}.{extension}"


def latest_file_name(kind: PeriodKind, extension: str) -> str:
    """The stable name of the newest report of a kind, e.g. `sales-report_weekly.pdf`."""
    return f"{FILE_STEM}_{kind}.{extension}"


def _long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def ended_periods_overlapping(kind: PeriodKind, first_day: date, last_day: date) -> list[ReportPeriod]:
    """The periods of a kind that share a day with [first_day, last_day] and end by `last_day`."""
    periods = []
    period = ReportPeriod.containing(kind, first_day)
    while period.start <= last_day:
        if period.last_day <= last_day:
            periods.append(period)
        period = period.next()
    return periods
