"""KPI tables (docs/design.md section 4) computed from clean sale lines.

Every function takes the valid lines of a window of days and returns one frame in the
table contract's columns. Only `COMPLETED` sales count as revenue, orders and units;
`REFUNDED` lines are summed apart; a walk-in (null customer) counts in orders, not customers.
Money is summed exactly and rounded once to the cent, half away from zero (`money.round_money`);
rates to four decimals.

Margins: the product, category and day tables take the day's unit costs (`stock.unit_costs`, from
that day's stock snapshot) and add `cost_of_goods` (quantity x unit cost, summed exactly, rounded
once), `gross_margin` = revenue - cost_of_goods as published (so the identity holds to the cent)
and `margin_pct`. A line whose product has no known cost that day makes its group's cost null:
an incomplete cost is never published as a smaller one.

Shaped for tens of millions of lines: each table is one pass over integer group numbers
(day x product, region or category), sums are `np.bincount`, and distinct counts (orders,
customers) hash one day at a time, whose keys fit in cache where one table over every line
would not. Text columns may be categoricals (as `clean_sales` hands them on) or strings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from salesflow_pipelines.lib import parallel
from salesflow_pipelines.lib.money import round_money

COMPLETED = "COMPLETED"
REFUNDED = "REFUNDED"
GROWTH_LAG_DAYS = 7
RETURNING_LOOKBACK_DAYS = 90
# Above this many (day x key) slots the group numbers are compacted before counting.
MAX_DENSE_GROUPS = 50_000_000
# Above this many (day x product) slots, unit costs are looked up by binary search, not in a table.
MAX_DENSE_COSTS = 8_000_000


def sale_day(lines: pd.DataFrame) -> pd.Series:
    """The shop-local calendar day of each line (midnight timestamps)."""
    return lines["sale_date"].dt.normalize()


def completed(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines of completed sales, with their `sale_day`."""
    done = lines[status_is(lines, COMPLETED)]
    return done.assign(sale_day=sale_day(done))


def status_is(lines: pd.DataFrame, status: str) -> np.ndarray:
    """Mask of the lines whose `status` is `status` (one comparison of codes for a categorical)."""
    return _status_class(lines, (status,)) == 0


def _status_class(lines: pd.DataFrame, statuses: tuple[str, ...]) -> np.ndarray:
    """Per line the index of its status in `statuses`, -1 for any other (int8)."""
    values = lines["status"]
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = np.asarray(values.cat.categories, dtype=object)
        lookup = np.full(len(categories) + 1, -1, dtype=np.int8)  # last slot: missing status
        for number, status in enumerate(statuses):
            lookup[:-1][categories == status] = number
        return lookup[values.cat.codes.to_numpy()]
    status_class = np.full(len(values), -1, dtype=np.int8)
    for number, status in enumerate(statuses):
        status_class[(values == status).fillna(False).to_numpy(dtype=bool)] = number
    return status_class


class _Days:
    """The lines' days as offsets from the first one; undated rows (offset -1) belong to no day.

    `bounds[d]:bounds[d + 1]` are the rows of day `d` when the lines come day by day (as they
    do from the Parquet store and from `clean_sales`); None otherwise.
    """

    def __init__(self, lines: pd.DataFrame):
        sale_date = lines["sale_date"]
        if isinstance(sale_date.dtype, pd.DatetimeTZDtype):
            sale_date = sale_date.dt.tz_localize(None)  # the shop's wall-clock day
        stamps = sale_date.to_numpy(dtype="datetime64[ns]").view("int64")
        self.size = len(stamps)
        self.first, self.count, self.dated, self.bounds = 0, 0, None, None
        if not self.size:
            self.offset = np.zeros(0, dtype=np.int64)
            return
        if stamps[0] != _UNDATED and bool((stamps[1:] >= stamps[:-1]).all()):
            # Day by day already: the day boundaries give every offset without a division.
            self.first, last = int(stamps[0] // _NS_PER_DAY), int(stamps[-1] // _NS_PER_DAY)
            self.count = last - self.first + 1
            edges = (self.first + np.arange(1, self.count, dtype=np.int64)) * _NS_PER_DAY
            self.bounds = np.concatenate([[0], np.searchsorted(stamps, edges), [self.size]])
            self.offset = np.repeat(np.arange(self.count, dtype=np.int64), np.diff(self.bounds))
            return
        self.offset = np.floor_divide(stamps, _NS_PER_DAY)
        undated = stamps == _UNDATED
        if undated.any():
            self.dated = ~undated
            if undated.all():
                self.offset[:] = -1
                return
        self.first = int(self.offset.min() if self.dated is None else self.offset[self.dated].min())
        self.offset -= self.first
        if self.dated is not None:
            self.offset[undated] = -1
        self.count = int(self.offset.max()) + 1
        if self.dated is None and bool((self.offset[1:] >= self.offset[:-1]).all()):
            self.bounds = np.searchsorted(self.offset, np.arange(self.count + 1))

    def dates(self, offsets: np.ndarray) -> np.ndarray:
        """Midnight timestamps of day offsets."""
        return (np.asarray(offsets, dtype=np.int64) + self.first).astype("datetime64[D]").astype("datetime64[ns]")

    def on(self, days: pd.DatetimeIndex, per_day: np.ndarray, fill: float) -> np.ndarray:
        """`per_day` (one value per day offset) on each day of `days`, `fill` outside the lines' days."""
        wanted = pd.DatetimeIndex(days).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").view("int64")
        wanted = wanted - self.first
        present = (wanted >= 0) & (wanted < self.count)
        values = np.full(len(wanted), fill, dtype=np.result_type(per_day, type(fill)))
        values[present] = per_day[wanted[present]]
        return values

    def groups(self, include: np.ndarray, key: np.ndarray | None = None, keys: int = 1) -> _Groups:
        """Rows numbered by group day x key (`key` codes in [0, keys), -1 = none).

        Takes over the day offsets (one array fewer at 10 M lines): call it once.
        """
        number, self.offset = self.offset, None
        if keys != 1:
            number *= keys
        if key is not None:
            number += key
            include = include & (key >= 0)
        if self.dated is not None:
            include = include & self.dated
        return _Groups(self, number, include, keys)


class _Groups:
    """Rows numbered by group (day x key); rows left out carry the spare number `size`."""

    def __init__(self, days: _Days, number: np.ndarray, include: np.ndarray, keys: int):
        self.days, self.include, self.keys = days, include, keys
        self.size = days.count * keys
        np.putmask(number, ~include, self.size)
        self.number = number
        self._dense_numbers = None
        if self.size > MAX_DENSE_GROUPS:  # too many slots: renumber the groups that occur, in order
            used, self.number = np.unique(number, return_inverse=True)
            self.size = len(used) - int(used[-1] == self.size)
            self._dense_numbers = used[: self.size]
        self.observed = np.flatnonzero(np.bincount(self.number, minlength=self.size + 1)[: self.size])

    def labels(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(day offset, key code) of group numbers."""
        dense = groups if self._dense_numbers is None else self._dense_numbers[groups]
        return dense // self.keys, dense % self.keys

    def by_day(self, per_group: np.ndarray) -> np.ndarray:
        """Per-group values as a (day, key) table, zero for groups without rows."""
        if self._dense_numbers is None:
            return per_group.reshape(-1, self.keys)
        table = np.zeros(self.days.count * self.keys, dtype=per_group.dtype)
        table[self._dense_numbers] = per_group
        return table.reshape(-1, self.keys)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per group sum of `values` over the included rows (exact for whole numbers such as units)."""
        return self._sums(lambda rows: (values[rows],))[0]

    def money_sum(self, amounts: np.ndarray) -> np.ndarray:
        """Per group sum of money `amounts` over the included rows: exact, whatever the order of the rows.

        A plain running sum drifts by ~1e-9 over a million lines, enough to flip the rounding of
        a sum that ends in half a cent (common: 0.95 x 12.34 has three decimals), so a day could
        differ by a cent between a daily run and a backfill. Amounts are split by `_money` into
        whole numbers, whose sums are exact, and fractions too small to drift (same as `math.fsum`).
        """
        whole, fraction = self._sums(lambda rows: _money(amounts[rows]))
        return (whole + fraction) * (1.0 / _MONEY_SCALE)

    def _sums(self, parts: Callable[[slice], tuple[np.ndarray, ...]]) -> list[np.ndarray]:
        """Per group sums of each array `parts(rows)` makes of a block of rows, over every block.

        Blocks run on threads (see `parallel`): `np.bincount` lets go of the GIL, and over rows in
        group order it is one long chain of dependent additions, which blocks side by side shorten.
        """

        def block_sums(rows: slice) -> list[np.ndarray]:
            number = self.number[rows]
            return [np.bincount(number, weights=part, minlength=self.size + 1)[: self.size] for part in parts(rows)]

        per_block = parallel.over_blocks(block_sums, self.days.size)
        # float64 also when there are no rows, for which numpy answers int64.
        return [np.sum(sums, axis=0, dtype=np.float64) for sums in zip(*per_block, strict=True)]

    def first_row(self) -> np.ndarray:
        """Per group the position of its first row (`len(lines)` for an empty group)."""
        first = np.full(self.size + 1, self.days.size, dtype=np.int64)
        np.minimum.at(first, self.number, np.arange(self.days.size, dtype=np.int64))
        return first[: self.size]

    def distinct(self, values: pd.Series) -> np.ndarray:
        """Per group the number of distinct non-null integer `values` among the included rows."""
        if not values.hasnans:
            counts = self._ascending_distinct(values.to_numpy(dtype="int64"))
            if counts is not None:
                return counts
        return np.bincount(self.distinct_pairs(values)[1], minlength=self.size)

    def _ascending_distinct(self, ids: np.ndarray) -> np.ndarray | None:
        """`distinct` without hashing when ids come in ascending order, as sale ids do; else None.

        The lines of one sale come together. When each sale's lines sit in one group (a day, a
        region), a group's distinct sales are its runs of equal ids. When they spread over
        several (a sale's products), (sale rank, group) keys packed into one integer are nearly
        in order already, which a stable sort puts in order in linear time.
        """
        if len(ids) < 2 or not bool((ids[1:] >= ids[:-1]).all()):
            return None
        number = self.number
        new_id = np.empty(len(ids), dtype=bool)
        new_id[0] = True
        np.not_equal(ids[1:], ids[:-1], out=new_id[1:])
        if bool((new_id[1:] | (number[1:] == number[:-1])).all()):
            counts = np.bincount(number, weights=new_id, minlength=self.size + 1)[: self.size]
            return counts.astype(np.int64)
        shift = int(self.size).bit_length()  # the spare number fits in `shift` bits too
        pairs = np.cumsum(new_id, dtype=np.int64)
        if int(pairs[-1]) >= 2 ** (62 - shift):
            return None
        pairs <<= shift
        pairs |= number
        pairs.sort(kind="stable")
        first = np.empty(len(pairs), dtype=bool)
        first[0] = True
        np.not_equal(pairs[1:], pairs[:-1], out=first[1:])
        pairs &= (1 << shift) - 1
        return np.bincount(pairs, weights=first, minlength=self.size + 1)[: self.size].astype(np.int64)

    def distinct_pairs(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Each distinct (value, group) among the included rows with a non-null value, once, day by day.

        Hashed one day at a time: a day's keys fit in cache, where one table over millions of
        lines would not (5x faster at 10 M lines). Rows repeating the row before (the other
        lines of a sale) are dropped first, which is cheaper than hashing them.
        """
        values = values.array
        bounds, rows = self.days.bounds, None
        if bounds is None:  # not day by day: visit the rows in day order (rows left out last)
            day = np.full(len(self.number), self.days.count, dtype=np.int64)
            included = np.flatnonzero(self.include)
            day[included] = self.labels(self.number[included])[0]
            rows = np.argsort(day, kind="stable")
            bounds = np.searchsorted(day[rows], np.arange(self.days.count + 1))
        pair_ids, pair_groups = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for day in range(self.days.count):
            chosen = slice(bounds[day], bounds[day + 1]) if rows is None else rows[bounds[day] : bounds[day + 1]]
            day_values = values[chosen]
            keep = self.include[chosen] & ~np.asarray(day_values.isna())
            day_ids = day_values.to_numpy(dtype="int64", na_value=0)
            day_groups = self.number[chosen]
            keep[1:] &= (day_ids[1:] != day_ids[:-1]) | (day_groups[1:] != day_groups[:-1])
            keep = np.flatnonzero(keep)
            if not len(keep):
                continue
            day_ids, day_groups = day_ids.take(keep), day_groups.take(keep)
            low, id_low = day * self.keys, int(day_ids.min())
            if self._dense_numbers is None and (int(day_ids.max()) - id_low + 1) * self.keys < 2**62:
                packed = pd.unique((day_ids - id_low) * self.keys + (day_groups - low))
                pair_ids.append(packed // self.keys + id_low)
                pair_groups.append(packed % self.keys + low)
            else:  # ids too spread out to pack with the group
                present = pd.DataFrame({"id": day_ids, "group": day_groups}).drop_duplicates()
                pair_ids.append(present["id"].to_numpy())
                pair_groups.append(present["group"].to_numpy())
        return np.concatenate(pair_ids), np.concatenate(pair_groups)


_UNDATED = np.iinfo(np.int64).min  # NaT
_NS_PER_DAY = 86_400 * 10**9
_MONEY_SCALE = 1024.0


def _money(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Amounts x 1024 split into whole numbers and fractions, for exact group sums.

    Sums of the whole parts are exact below 2**53 / 1024 (8.8e12); the fractions are too small
    to drift. The split is exact: x 1024 is a power of two, and so is `trunc` and its remainder.
    """
    fraction = values * _MONEY_SCALE
    whole = np.trunc(fraction)
    fraction -= whole
    return whole, fraction


def _label_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of `values` numbered in sorted label order (-1 = missing), and the sorted labels."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = np.asarray(values.cat.categories, dtype=object)
        order = np.argsort(labels, kind="stable")
        rank = np.empty(len(labels) + 1, dtype=np.int64)
        rank[order] = np.arange(len(labels))
        rank[-1] = -1
        return rank[values.cat.codes.to_numpy()], labels[order]
    codes, labels = pd.factorize(values, sort=True, use_na_sentinel=True)
    return codes, np.asarray(labels, dtype=object)


def _id_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of integer ids numbered in ascending id order (-1 = missing), and the ids."""
    known = values.notna().to_numpy() if values.hasnans else None
    ids = values.to_numpy(dtype="int64", na_value=0)
    present_ids = ids if known is None else ids[known]
    if not len(present_ids):
        return np.full(len(ids), -1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, high = int(present_ids.min()), int(present_ids.max())
    if high - low >= 4 * len(ids) + 1024:  # sparse ids: hash them
        codes, uniques = pd.factorize(np.where(known, ids, low) if known is not None else ids, sort=True)
        return (codes if known is None else np.where(known, codes, -1)), np.asarray(uniques, dtype=np.int64)
    codes = ids - low  # offsets in the id range, renumbered below when some ids are unused
    if known is not None:
        codes[~known] = 0
    seen = np.zeros(high - low + 1, dtype=bool)
    seen[codes if known is None else codes[known]] = True
    if not seen.all():
        np.take(np.cumsum(seen) - 1, codes, out=codes)
    if known is not None:
        codes[~known] = -1
    return codes, np.flatnonzero(seen) + low


class _UnitCosts:
    """Unit costs by (day offset, product code) for lines numbered by `_Days` and `_id_codes`."""

    def __init__(self, first_day: int, day_count: int, product_ids: np.ndarray, unit_costs: pd.DataFrame | None):
        self.keys = max(len(product_ids), 1)
        self.size = day_count * self.keys
        if unit_costs is None or unit_costs.empty or not len(product_ids):
            self.table, self.numbers, self.costs = None, np.zeros(0, dtype=np.int64), np.zeros(0)
            return
        day = unit_costs["sale_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").view("int64")
        day = day - first_day
        ids = unit_costs["product_id"].to_numpy(dtype="int64")
        code = np.minimum(np.searchsorted(product_ids, ids), len(product_ids) - 1)
        known = (product_ids[code] == ids) & (day >= 0) & (day < day_count)
        numbers = day[known] * self.keys + code[known]
        costs = unit_costs["unit_cost"].to_numpy(dtype="float64")[known]
        if self.size <= MAX_DENSE_COSTS:
            self.table = np.full(self.size + 1, np.nan)  # the last slot: no day or no product
            self.table[numbers] = costs
        else:  # too many (day, product) slots for a table: look the known ones up
            order = np.argsort(numbers, kind="stable")
            self.table, self.numbers, self.costs = None, numbers[order], costs[order]

    def of(self, day: np.ndarray, code: np.ndarray) -> np.ndarray:
        """The unit cost of each (day offset, product code), NaN when unknown (or either is -1)."""
        number = np.where((day >= 0) & (code >= 0), day * self.keys + code, self.size)
        if self.table is not None:
            return self.table[number]
        if not len(self.numbers):
            return np.full(len(number), np.nan)
        found = np.minimum(np.searchsorted(self.numbers, number), len(self.numbers) - 1)
        return np.where(self.numbers[found] == number, self.costs[found], np.nan)


def _line_costs(lines: pd.DataFrame, by_day: _Days, unit_costs: pd.DataFrame | None) -> np.ndarray:
    """Per line quantity x its product's unit cost on its day, NaN when that cost is unknown.

    Call before `by_day.groups`, which takes the day offsets over.
    """
    quantity = _values(lines, "quantity")
    if unit_costs is None or unit_costs.empty:
        return np.full(len(quantity), np.nan)
    product, product_ids = _id_codes(lines["product_id"])
    costs = _UnitCosts(by_day.first, by_day.count, product_ids, unit_costs)
    return quantity * costs.of(by_day.offset, product)


def _with_margin(table: pd.DataFrame, cost_of_goods: np.ndarray) -> pd.DataFrame:
    """`table` (with its `revenue` rounded) plus cost_of_goods, gross_margin and margin_pct."""
    revenue = table["revenue"].to_numpy(dtype="float64")
    cost = round_money(np.asarray(cost_of_goods, dtype="float64"))
    margin = round_money(revenue - cost)  # two cent figures: their difference is exact once snapped
    with np.errstate(invalid="ignore", divide="ignore"):
        margin_pct = np.round(margin / np.where(revenue == 0, np.nan, revenue) * 100, 2)
    return table.assign(cost_of_goods=cost, gross_margin=margin, margin_pct=margin_pct)


def _values(lines: pd.DataFrame, column: str) -> np.ndarray:
    return lines[column].to_numpy(dtype="float64", na_value=np.nan)


def _text(lines: pd.DataFrame, column: str, rows: np.ndarray) -> pd.arrays.StringArray:
    return pd.array(np.asarray(lines[column].array.take(rows), dtype=object), dtype="string")


def daily_sales(lines: pd.DataFrame, days: pd.DatetimeIndex, unit_costs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per day of `days`, zeros for a day without sales.

    `revenue_growth_pct` compares with the same weekday one week earlier and is null when that
    day is outside `days` or had no revenue. Pass `days` including the week before the days you
    keep, so that the first kept day has its comparison. `unit_costs` (`stock.unit_costs`) give
    cost_of_goods; a day whose completed lines miss a cost (or all days, without them) has none.
    """
    by_day = _Days(lines)
    line_costs = _line_costs(lines, by_day, unit_costs)
    status = _status_class(lines, (COMPLETED, REFUNDED))
    groups = by_day.groups(status >= 0, status, 2)  # day x (completed, refunded)
    revenue = groups.by_day(groups.money_sum(_values(lines, "revenue")))
    cost_of_goods = groups.by_day(groups.money_sum(line_costs))[:, 0]
    units = groups.by_day(groups.sum(_values(lines, "quantity")))[:, 0]
    orders = groups.by_day(groups.distinct(lines["sale_id"]))[:, 0]
    customers = groups.by_day(groups.distinct(lines["customer_id"]))[:, 0]
    days = pd.DatetimeIndex(days)
    daily = pd.DataFrame(index=pd.DatetimeIndex(days, name="sale_date"))
    daily["revenue"] = by_day.on(days, revenue[:, 0], 0.0)
    daily["orders"] = by_day.on(days, orders, 0)
    daily["units"] = by_day.on(days, units, 0.0)
    daily["avg_order_value"] = round_money(daily["revenue"] / daily["orders"].replace(0, np.nan))
    daily["unique_customers"] = by_day.on(days, customers, 0)
    daily["refunded_amount"] = round_money(by_day.on(days, revenue[:, 1], 0.0))
    week_before = daily["revenue"].reindex(days - pd.Timedelta(days=GROWTH_LAG_DAYS)).to_numpy()
    growth = (daily["revenue"].to_numpy() / np.where(week_before > 0, week_before, np.nan) - 1) * 100
    daily["revenue_growth_pct"] = np.round(growth, 2)
    daily["revenue"] = round_money(daily["revenue"])
    return _with_margin(daily, by_day.on(days, cost_of_goods, 0.0)).reset_index()


def product_daily(lines: pd.DataFrame, unit_costs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per product per day; names are those of the product's first line that day.

    cost_of_goods is units x the product's unit cost that day (`unit_costs`, `stock.unit_costs`):
    null for a product without a known cost that day, and everywhere without `unit_costs`.
    """
    product, product_ids = _id_codes(lines["product_id"])
    groups = _Days(lines).groups(status_is(lines, COMPLETED), product, len(product_ids))
    observed = groups.observed
    day, key = groups.labels(observed)
    first = groups.first_row()[observed]
    units = groups.sum(_values(lines, "quantity"))[observed]
    unit_cost = _UnitCosts(groups.days.first, groups.days.count, product_ids, unit_costs).of(day, key)
    table = pd.DataFrame(
        {
            "sale_date": groups.days.dates(day),
            "product_id": product_ids[key],
            "sku": _text(lines, "sku", first),
            "product_name": _text(lines, "product_name", first),
            "category": _text(lines, "category", first),
            "revenue": round_money(groups.money_sum(_values(lines, "revenue"))[observed]),
            "units": units,
            "orders": groups.distinct(lines["sale_id"])[observed],
        }
    )
    return _with_margin(table, units * unit_cost)


def region_daily(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per region per day."""
    region, regions = _label_codes(lines["region"])
    groups = _Days(lines).groups(status_is(lines, COMPLETED), region, len(regions))
    observed = groups.observed
    day, key = groups.labels(observed)
    return pd.DataFrame(
        {
            "sale_date": groups.days.dates(day),
            "region": pd.array(regions[key], dtype="string"),
            "revenue": round_money(groups.money_sum(_values(lines, "revenue"))[observed]),
            "orders": groups.distinct(lines["sale_id"])[observed],
            "units": groups.sum(_values(lines, "quantity"))[observed],
            "unique_customers": groups.distinct(lines["customer_id"])[observed],
        }
    )


def category_daily(lines: pd.DataFrame, unit_costs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per category per day; `discount_rate` = sum(q*p*d) / sum(q*p).

    cost_of_goods sums quantity x unit cost (`unit_costs`, `stock.unit_costs`) over the lines:
    null for a category with a line whose product has no known cost that day.
    """
    category, categories = _label_codes(lines["category"])
    by_day = _Days(lines)
    line_costs = _line_costs(lines, by_day, unit_costs)
    groups = by_day.groups(status_is(lines, COMPLETED), category, len(categories))
    observed = groups.observed
    day, key = groups.labels(observed)
    gross_amount = _values(lines, "gross_amount")
    gross = groups.money_sum(gross_amount)[observed]
    discounted = groups.money_sum(gross_amount * _values(lines, "discount"))[observed]
    table = pd.DataFrame(
        {
            "sale_date": groups.days.dates(day),
            "category": pd.array(categories[key], dtype="string"),
            "revenue": round_money(groups.money_sum(_values(lines, "revenue"))[observed]),
            "units": groups.sum(_values(lines, "quantity"))[observed],
            "discount_rate": np.round(discounted / np.where(gross == 0, np.nan, gross), 4),
        }
    )
    return _with_margin(table, groups.money_sum(line_costs)[observed])


def customer_daily(lines: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per day of `days`: identified customers new vs returning.

    A customer is returning on a day when they completed a sale on one of the
    `RETURNING_LOOKBACK_DAYS` days before it (pass the days plus that much history): each day
    looks back its own 90 days, whichever days share the run. `repeat_rate` is the returning
    share of the day's identified customers, null on a day without any.
    """
    by_day = _Days(lines)
    groups = by_day.groups(status_is(lines, COMPLETED))
    visitors, visit_group = groups.distinct_pairs(lines["customer_id"])
    visit_day = groups.labels(visit_group)[0]
    # Visits by customer, then day: a visit returns when the customer's previous one is recent.
    order = np.lexsort((visit_day, visitors))
    visitors, visit_day = visitors[order], visit_day[order]
    returning = np.zeros(len(visitors), dtype=bool)
    returning[1:] = (visitors[1:] == visitors[:-1]) & (visit_day[1:] - visit_day[:-1] <= RETURNING_LOOKBACK_DAYS)
    customers = np.bincount(visit_day, minlength=by_day.count)
    returners = np.bincount(visit_day, weights=returning, minlength=by_day.count).astype(np.int64)
    days = pd.DatetimeIndex(days)
    table = pd.DataFrame(
        {
            "sale_date": days,
            "new_customers": by_day.on(days, customers - returners, 0),
            "returning_customers": by_day.on(days, returners, 0),
        }
    )
    customers = table["new_customers"] + table["returning_customers"]
    table["repeat_rate"] = (table["returning_customers"] / customers.replace(0, np.nan)).round(4)
    return table


def product_units_by_day(lines: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Completed units per day (rows, every day of `days`) and product (columns, those sold)."""
    product, product_ids = _id_codes(lines["product_id"])
    by_day = _Days(lines)
    groups = by_day.groups(status_is(lines, COMPLETED), product, len(product_ids))
    day, key = groups.labels(groups.observed)
    sold, column = np.unique(key, return_inverse=True)
    units = np.zeros((by_day.count, len(sold)))
    units[day, column] = groups.sum(_values(lines, "quantity"))[groups.observed]
    table = pd.DataFrame(
        units,
        index=pd.DatetimeIndex(by_day.dates(np.arange(by_day.count)), name="sale_day"),
        columns=pd.Index(product_ids[sold], name="product_id"),
    )
    return table.reindex(pd.DatetimeIndex(days), fill_value=0.0)
