"""Numbers written as text, and the decimal mark a file writes them with.

A file writes all its numbers one way: with a decimal comma (`.` between thousands: `1.234,56`)
or with a decimal point (`,` between thousands: `1,234.56`). Spaces, non-breaking spaces and
apostrophes between digits separate thousands either way and are dropped.

Each text cell is read both ways. A cell that is a number one way only shows the file's way:
`1,5`, `12,30`, `1.234,56`, `1.234.567` and `0,500` a decimal comma; `1.5`, `1,234.56`,
`1,234,567` and `0.500` a decimal point. The decimal mark is decided per file, from every text
cell of its number columns, and then applies to the cells that read both ways but differently: one
group of three digits after a single separator (`1.000`, `2,500`). When no cell of the file shows
its way, or cells show both ways, such a cell is never guessed: it gets a message saying what is
ambiguous and how to write it. A cell that is a number one way only always reads that way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COMMA = ","
POINT = "."
SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")


def _number_pattern(decimal: str) -> re.Pattern[str]:
    """A number with `decimal` as decimal mark and the other mark between groups of three digits."""
    mark, thousands = re.escape(decimal), re.escape(_other(decimal))
    whole = rf"(?:[1-9]\d{{0,2}}(?:{thousands}\d{{3}})+|\d+)"
    return re.compile(rf"[+-]?(?:{whole}(?:{mark}\d+)?|{mark}\d+)")


def _other(mark: str) -> str:
    return POINT if mark == COMMA else COMMA


PATTERNS = {mark: _number_pattern(mark) for mark in (COMMA, POINT)}


@dataclass(frozen=True)
class Example:
    """A cell that shows a decimal mark, to point the clerk at it."""

    text: str
    sheet: str
    row: int

    def __str__(self) -> str:
        return f"'{self.text}' on row {self.row} of '{self.sheet}'"


@dataclass
class Separators:
    """A file's decimal mark, from the first cell showing each mark (`shown`: mark -> that cell)."""

    shown: dict[str, Example] = field(default_factory=dict)

    @property
    def decimal(self) -> str | None:
        """`,` or `.` when the file's cells show one way only; None when none shows its way, or both ways show."""
        return next(iter(self.shown)) if len(self.shown) == 1 else None

    @classmethod
    def of_cells(cls, columns: Iterable[tuple[str, pd.Series, pd.Series]]) -> Separators:
        """From a file's number columns, as (sheet name, row numbers, cell values), one sheet's columns
        after the other; only text cells count. The example of each mark is its first cell in the file."""
        shown: dict[str, Example] = {}
        for sheet, rows, values in columns:
            text = values[values.map(lambda value: isinstance(value, str))]
            readings = _readings(text)
            for mark in (COMMA, POINT):
                only = readings[mark].notna() & readings[_other(mark)].isna()
                if not only.any():
                    continue
                first = only.idxmax()
                example = Example(text[first].strip(), sheet, int(rows[first]))
                if mark not in shown or (shown[mark].sheet == sheet and example.row < shown[mark].row):
                    shown[mark] = example
        return cls(shown)

    def read(self, text: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Text cells as numbers read this file's way (NaN: blank or not a number), and a message for
        each cell that reads both ways differently while the file's way is undecided (NaN elsewhere)."""
        readings = _readings(text)
        comma, point = readings[COMMA], readings[POINT]
        preferred, fallback = (point, comma) if self.decimal == POINT else (comma, point)
        numbers = preferred.fillna(fallback)
        problem = pd.Series(np.nan, index=text.index, dtype="object")
        if self.decimal is None:
            ambiguous = comma.notna() & point.notna() & (comma != point)
            numbers[ambiguous] = np.nan
            problem[ambiguous] = [self._ambiguous(value) for value in text[ambiguous]]
        return numbers, problem

    def _ambiguous(self, value: str) -> str:
        written = value.strip()
        compact = SPACES.sub("", written)
        separator = COMMA if COMMA in compact else POINT
        whole = compact.replace(separator, "")
        fraction = compact.replace(separator, POINT).rstrip("0").rstrip(POINT)
        return (
            f"'{written}' could be {whole} or {fraction}: {self._undecided(separator)}. "
            f"Write it without a thousands separator ({whole} or {whole}{_other(separator)}00)"
        )

    def _undecided(self, separator: str) -> str:
        if self.shown:
            return f"the file writes decimals both ways ({self.shown[COMMA]} and {self.shown[POINT]})"
        return f"no other number in the file shows whether '{separator}' separates thousands or decimals"


def _readings(text: pd.Series) -> pd.DataFrame:
    """Each text cell read with a decimal comma and with a decimal point (NaN: not a number that way).

    Each distinct text is read once: a column repeats few values."""
    codes, distinct = pd.factorize(text.to_numpy(dtype=object))
    compact = pd.Series(distinct, dtype="string").str.replace(SPACES, "", regex=True)
    return pd.DataFrame({mark: _read_as(compact, mark).to_numpy()[codes] for mark in (COMMA, POINT)}, index=text.index)


def _read_as(compact: pd.Series, decimal: str) -> pd.Series:
    valid = compact.str.fullmatch(PATTERNS[decimal]).fillna(False).astype(bool)
    plain = compact[valid].str.replace(_other(decimal), "", regex=False).str.replace(decimal, POINT, regex=False)
    return plain.astype("float64").reindex(compact.index)
