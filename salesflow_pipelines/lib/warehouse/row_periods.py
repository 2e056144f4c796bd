"""A frame's rows grouped by calendar period (day or month) of a date column."""

from __future__ import annotations

import numpy as np
import pandas as pd


def rows_by_period(dates: pd.Series, unit: str) -> tuple[np.ndarray, list[slice | np.ndarray]]:
    """The distinct periods of `dates` (numpy unit "D" or "M"; NaT last) and each one's rows:
    slices when the rows come period by period, as a backfill's frames do, else positions.

    Works on period numbers only, so nothing is formatted or compared per row. An aware column
    is grouped by its wall-clock time.
    """
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    period = dates.to_numpy(dtype="datetime64[ns]").astype(f"datetime64[{unit}]")
    distinct, number = np.unique(period, return_inverse=True)
    if len(number) < 2 or bool((number[1:] >= number[:-1]).all()):
        bounds = np.searchsorted(number, np.arange(len(distinct) + 1))
        return distinct, [slice(bounds[i], bounds[i + 1]) for i in range(len(distinct))]
    order = np.argsort(number, kind="stable")
    bounds = np.searchsorted(number[order], np.arange(len(distinct) + 1))
    return distinct, [order[bounds[i] : bounds[i + 1]] for i in range(len(distinct))]
