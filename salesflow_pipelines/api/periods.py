"""The date range a request asks for: a named period ending on the anchor day, or explicit dates.

The legacy service counted periods back from today. The warehouse holds days once their day is
over (the daily schedule loads yesterday), so here a period ends on the *anchor*: the newest day
the warehouse holds, never after today. `daily` is that day; `weekly` the 7 days to it; `monthly`
the month to date; `quarterly` the 90 days to it; `yearly` the 365 days to it. Explicit
`start_date` / `end_date` override the period (`start_date` alone: from it to the anchor;
`end_date` alone: the named period ending on it).

The previous period, for changes: the month to date compares with the same days of the month
before; every other range with the same number of days just before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

PERIODS = ("daily", "weekly", "monthly", "quarterly", "yearly")
PERIOD_DAYS = {"daily": 1, "weekly": 7, "quarterly": 90, "yearly": 365}
CUSTOM = "custom"


class BadRange(ValueError):
    """A period or date the API cannot use; the message is the answer's `detail`."""


@dataclass(frozen=True)
class DateRange:
    """Days `start`..`end`, both included."""

    period: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def end_exclusive(self) -> date:
        return self.end + timedelta(days=1)

    def previous(self) -> DateRange:
        if self.period == "monthly" and self.start.day == 1:
            month_end = self.start - timedelta(days=1)
            first = month_end.replace(day=1)
            last = min(month_end, first + timedelta(days=self.days - 1))
            return DateRange(self.period, first, last)
        return DateRange(self.period, self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    @property
    def label(self) -> str:
        span = f"{long_day(self.start)} – {long_day(self.end)}"
        if self.period == "daily" or (self.period == CUSTOM and self.days == 1):
            return long_day(self.end)
        names = {
            "weekly": "Last 7 days",
            "monthly": "Month to date",
            "quarterly": "Last 90 days",
            "yearly": "Last 365 days",
        }
        if self.period in names:
            return f"{names[self.period]} ({span})"
        return span


def long_day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def parse_day(text: str | None) -> date | None:
    if text is None or not str(text).strip():
        return None
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise BadRange(f"Invalid date format (expected YYYY-MM-DD): {text}") from None


def check_period(period: str | None) -> str:
    name = (period or "").strip().lower() or "monthly"
    if name not in PERIODS:
        raise BadRange(f"Unknown period '{period}': expected one of {', '.join(PERIODS)}")
    return name


def resolve(
    period: str | None,
    start_date: str | None,
    end_date: str | None,
    anchor: date,
    max_days: int,
) -> DateRange:
    """The range a request asks for; `BadRange` for an unknown period, a bad date or a too long range."""
    name = check_period(period)
    start, end = parse_day(start_date), parse_day(end_date)
    if start is None and end is None:
        found = named(name, anchor)
    elif start is not None and end is not None:
        found = DateRange(CUSTOM, start, end)
    elif start is not None:
        found = DateRange(CUSTOM, start, max(start, anchor))
    else:
        found = named(name, end)
    if found.start > found.end:
        raise BadRange(f"start_date {found.start} is after end_date {found.end}")
    if found.days > max_days:
        raise BadRange(f"the range {found.start} to {found.end} is {found.days} days long; at most {max_days} days")
    return found


def named(period: str, anchor: date) -> DateRange:
    if period == "monthly":
        return DateRange(period, anchor.replace(day=1), anchor)
    return DateRange(period, anchor - timedelta(days=PERIOD_DAYS[period] - 1), anchor)
