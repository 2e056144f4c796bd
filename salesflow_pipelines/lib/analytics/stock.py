"""Stock snapshot, inventory KPIs and stock KPIs from the product snapshot and recent sales.

Status follows the backend's own rule for LOW (`stock_quantity <= low_stock_threshold`):
`OUT` at or below zero, then `LOW`, then `DEAD` when the product sold nothing in the last
`DEAD_AFTER_DAYS` days, else `OK`. Days of cover divide stock on hand by the average daily
units of the last `COVER_WINDOW_DAYS` days.

The inventory KPIs (`inventory_kpis`, one row per product per day) look back over the trailing
`COVER_WINDOW_DAYS` and `INVENTORY_WINDOW_DAYS` days of the stock snapshot and the product sales
table: a day's row depends on those days only, never on which other days share the run. Their
formulas are written out in `schemas.ProductInventoryKpis`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.analytics.cleaning import UNCATEGORIZED, UNNAMED_PRODUCT, normalize_sku, normalize_text
from salesflow_pipelines.lib.analytics.kpis import product_units_by_day
from salesflow_pipelines.lib.money import round_money
from salesflow_pipelines.lib.schemas import (
    STOCK_STATUSES,
    ProductInventoryKpis,
    StockKpis,
    StockSnapshot,
    column_names,
    empty_frame,
    frame_dtypes,
)

DEAD_AFTER_DAYS = 90
COVER_WINDOW_DAYS = 28
LOOKBACK_DAYS = DEAD_AFTER_DAYS
INVENTORY_WINDOW_DAYS = 90  # the trailing window of turnover, ABC classes and the 90-day figures
SLOW_MOVER_COVER_DAYS = 90  # in stock, not dead, and more days of cover than this: a slow mover
ABC_CUMULATIVE_PCT = (80, 95)  # A below 80% of revenue before the product, B below 95%, else C
ABC_CLASSES = ("A", "B", "C")
DAYS_PER_YEAR = 365
# Window sums of quantities and amounts are snapped to this many decimals, so that sums of the same
# days are equal whichever day the cumulative sum started from (a range or a single day).
_SNAP_DECIMALS = 6

OK, LOW, OUT, DEAD = STOCK_STATUSES

SNAPSHOT_COLUMNS = column_names(StockSnapshot)
INVENTORY_COLUMNS = frame_dtypes(ProductInventoryKpis)
STOCK_KPI_COLUMNS = column_names(StockKpis)


def daily_units(lines: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Completed units per day (rows, every day of `days`) and product (columns)."""
    return product_units_by_day(lines, days)


def stock_snapshot(products: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """One row per product per snapshot day (`products` may hold several days).

    `lines` must cover `LOOKBACK_DAYS` before the first snapshot day for DEAD and cover to be
    judged on full history; with less, they are judged on what there is.
    """
    snapshot = normalized_products(products)
    if snapshot.empty:
        return snapshot.reindex(columns=SNAPSHOT_COLUMNS)
    first = snapshot["snapshot_date"].min() - pd.Timedelta(days=LOOKBACK_DAYS)
    days = pd.date_range(first, snapshot["snapshot_date"].max(), freq="D")
    units = daily_units(lines, days)
    recent = _rolling_by_product(units, COVER_WINDOW_DAYS, "recent_units")
    lifetime = _rolling_by_product(units, DEAD_AFTER_DAYS, "units_90d")
    snapshot = snapshot.merge(recent, on=["snapshot_date", "product_id"], how="left")
    snapshot = snapshot.merge(lifetime, on=["snapshot_date", "product_id"], how="left")
    average_units = snapshot["recent_units"].fillna(0.0) / COVER_WINDOW_DAYS
    on_hand = snapshot["stock_quantity"].clip(lower=0).astype("float64")
    snapshot["days_of_cover"] = (on_hand / average_units.replace(0, np.nan)).round(1)
    unit_value = snapshot["cost_price"].fillna(snapshot["unit_price"]).fillna(0.0)
    snapshot["stock_value"] = round_money(on_hand * unit_value)
    snapshot["status"] = _status(snapshot)
    return snapshot[SNAPSHOT_COLUMNS].reset_index(drop=True)


def _rolling_by_product(units: pd.DataFrame, window: int, name: str) -> pd.DataFrame:
    rolled = units.rolling(window, min_periods=1).sum()
    rolled.index.name = "snapshot_date"
    rolled.columns.name = "product_id"
    return rolled.stack().rename(name).reset_index()


def named_from_catalog(product_daily: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """`product_daily` rows with each product's SKU and name as that day's catalogue (`/products`)
    spells them, so sales and stock tables name a product alike; a product missing from the day's
    catalogue keeps its sale lines' spelling."""
    catalogue = normalized_products(products)[["snapshot_date", "product_id", "sku", "name"]]
    catalogue = catalogue.rename(columns={"snapshot_date": "sale_date", "sku": "catalogue_sku"})
    named = product_daily.merge(catalogue, on=["sale_date", "product_id"], how="left", validate="many_to_one")
    return product_daily.assign(
        sku=pd.array(named["catalogue_sku"].fillna(named["sku"]), dtype="string"),
        product_name=pd.array(named["name"].fillna(named["product_name"]), dtype="string"),
    )


def unit_costs(products: pd.DataFrame) -> pd.DataFrame:
    """Each product's known unit cost per day from that day's catalogue (`/inventory` cost by SKU,
    the stock snapshot's cost_price): `sale_date`, `product_id`, `unit_cost`. A cost that is
    missing, negative or not a number is unknown: the product has no row that day."""
    catalogue = normalized_products(products)
    cost = known_amount(catalogue["cost_price"])
    known = ~np.isnan(cost)
    return pd.DataFrame(
        {
            "sale_date": catalogue["snapshot_date"].to_numpy()[known],
            "product_id": catalogue["product_id"].to_numpy()[known],
            "unit_cost": cost[known],
        }
    )


def known_amount(values: pd.Series) -> np.ndarray:
    """Prices or costs as floats, NaN for those missing, negative or not a number (unknown)."""
    amounts = pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(amounts) & (amounts >= 0), amounts, np.nan)


def normalized_products(products: pd.DataFrame) -> pd.DataFrame:
    """The typed catalogue: one row per product per snapshot day, text normalized, defaults filled."""
    known = products.dropna(subset=["product_id"])
    known = known.drop_duplicates(["snapshot_date", "product_id"], keep="first")
    return pd.DataFrame(
        {
            "snapshot_date": known["snapshot_date"].dt.normalize(),
            "product_id": known["product_id"].astype("int64"),
            "sku": normalize_sku(known["sku"]).astype("string"),
            "name": normalize_text(known["name"], default=UNNAMED_PRODUCT).astype("string"),
            "category": normalize_text(known["category"], case="title", default=UNCATEGORIZED).astype("string"),
            "stock_quantity": known["stock_quantity"].fillna(0).astype("int64"),
            "low_stock_threshold": known["low_stock_threshold"].fillna(0).astype("int64"),
            "unit_price": known["price"].astype("float64"),
            "cost_price": known["cost"].astype("float64"),
        }
    ).reset_index(drop=True)


def _status(snapshot: pd.DataFrame) -> pd.Series:
    stock = snapshot["stock_quantity"]
    conditions = [
        stock <= 0,
        stock <= snapshot["low_stock_threshold"],
        snapshot["units_90d"].fillna(0.0) <= 0,
    ]
    return pd.Series(np.select(conditions, [OUT, LOW, DEAD], default=OK), index=snapshot.index, dtype="string")


def stock_kpis(snapshot: pd.DataFrame, inventory: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per snapshot day: product count, stock value, LOW/OUT/DEAD counts, reorders, and
    from the day's `inventory` rows (`inventory_kpis`) turnover, slow-moving stock, the revenue
    share of A products and lost sales (null turnover and share, zeros, without them).

    A reorder is suggested for every product that is LOW or OUT.
    """
    status = snapshot["status"]
    flags = snapshot.assign(
        low=status.eq(LOW),
        out=status.eq(OUT),
        dead=status.eq(DEAD),
        reorder=status.isin([LOW, OUT]),
    )
    table = flags.groupby("snapshot_date").agg(
        products=("product_id", "size"),
        total_stock_value=("stock_value", "sum"),
        low_stock_products=("low", "sum"),
        out_of_stock_products=("out", "sum"),
        dead_stock_products=("dead", "sum"),
        median_days_of_cover=("days_of_cover", "median"),
        reorder_suggestions=("reorder", "sum"),
    )
    table["total_stock_value"] = round_money(table["total_stock_value"])
    counts = ["products", "low_stock_products", "out_of_stock_products", "dead_stock_products", "reorder_suggestions"]
    table[counts] = table[counts].astype("int64")
    dead_value = _cents(snapshot["stock_value"].where(status.eq(DEAD), 0.0))
    table["_dead_cents"] = pd.Series(dead_value, index=snapshot.index).groupby(snapshot["snapshot_date"]).sum()
    table = table.join(_inventory_totals(inventory))
    table["slow_moving_products"] = table["slow_moving_products"].fillna(0).astype("int64")
    for column in ("slow_moving_stock_value", "lost_sales_estimate"):
        table[column] = table[column].fillna(0.0)
    table["dead_stock_value"] = table.pop("_dead_cents").to_numpy(dtype="float64") / 100
    return table.reset_index()[STOCK_KPI_COLUMNS]


def _cents(amounts: pd.Series | np.ndarray) -> np.ndarray:
    """Cent amounts as whole numbers of cents (NaN as 0), whose sums are exact in any order."""
    return np.rint(np.nan_to_num(np.asarray(amounts, dtype="float64")) * 100).astype("int64")


def _inventory_totals(inventory: pd.DataFrame | None) -> pd.DataFrame:
    """Per snapshot day, the shop totals `stock_kpis` takes from the inventory KPIs."""
    columns = [
        "inventory_turnover",
        "slow_moving_products",
        "slow_moving_stock_value",
        "a_class_revenue_share",
        "lost_sales_estimate",
    ]
    if inventory is None or inventory.empty:
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="snapshot_date"), dtype="float64")
    day = inventory["snapshot_date"]
    costed = inventory["cost_of_goods_90d"].notna() & inventory["average_stock_value_90d"].notna()
    slow = inventory["slow_mover"].astype("int64").eq(1)
    revenue = _cents(inventory["revenue_90d"])
    parts = pd.DataFrame(
        {
            "cogs": np.where(costed, _cents(inventory["cost_of_goods_90d"]), 0),
            "stock_value": np.where(costed, _cents(inventory["average_stock_value_90d"]), 0),
            "costed": costed.to_numpy(),
            "history_days": inventory["history_days"].to_numpy(dtype="int64"),
            "slow": slow.to_numpy(dtype="int64"),
            "slow_value": np.where(slow, _cents(inventory["stock_value"]), 0),
            "revenue": revenue,
            "a_revenue": np.where(inventory["abc_class"].astype("string").eq("A").to_numpy(), revenue, 0),
            "lost": _cents(inventory["lost_sales_estimate"]),
        },
        index=inventory.index,
    )
    sums = parts.groupby(day.to_numpy()).agg(
        {
            "cogs": "sum",
            "stock_value": "sum",
            "costed": "sum",
            "history_days": "max",
            "slow": "sum",
            "slow_value": "sum",
            "revenue": "sum",
            "a_revenue": "sum",
            "lost": "sum",
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        average_value = sums["stock_value"].where(sums["stock_value"] > 0)
        turnover = sums["cogs"] * DAYS_PER_YEAR / sums["history_days"] / average_value
        share = sums["a_revenue"] / sums["revenue"].where(sums["revenue"] > 0)
    totals = pd.DataFrame(
        {
            "inventory_turnover": turnover.where(sums["costed"] > 0).round(2),
            "slow_moving_products": sums["slow"],
            "slow_moving_stock_value": sums["slow_value"] / 100,
            "a_class_revenue_share": share.round(4),
            "lost_sales_estimate": sums["lost"] / 100,
        }
    )
    totals.index = pd.DatetimeIndex(totals.index, name="snapshot_date")
    return totals[columns]


def inventory_kpis(snapshots: pd.DataFrame, product_sales: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per product in the stock snapshot of each of `days` (`schemas.ProductInventoryKpis`).

    `snapshots` (stock_snapshot rows) and `product_sales` (product_daily_sales rows) are read over
    each day's trailing `INVENTORY_WINDOW_DAYS`; rows of other days are ignored, and days of a
    window without a snapshot count as days without history (`history_days`).
    """
    days = pd.DatetimeIndex(days).normalize()
    if not len(days):
        return empty_frame(INVENTORY_COLUMNS)
    first = days.min() - pd.Timedelta(days=INVENTORY_WINDOW_DAYS - 1)
    grid = _DayGrid(first, days.max(), snapshots, product_sales)
    todays, rows = grid.rows_on(days)
    if todays.empty:
        return empty_frame(INVENTORY_COLUMNS)
    snapshot, sales = grid.snapshot_cells, grid.sales_cells

    in_snapshot = snapshot(True, False)
    quantity = snapshot(grid.snapshots["stock_quantity"].to_numpy(dtype="float64", na_value=0.0), 0.0)
    on_hand = np.maximum(quantity, 0.0)
    unit_cost = snapshot(known_amount(grid.snapshots["cost_price"]), np.nan)
    value_at_cost = on_hand * np.where(on_hand > 0, unit_cost, 0.0)  # NaN: stock on hand, cost unknown
    in_stock, out_of_stock = in_snapshot & (quantity > 0), in_snapshot & (quantity <= 0)
    units = sales(grid.sales["units"].to_numpy(dtype="float64"), 0.0)
    revenue = sales(_cents(grid.sales["revenue"]), 0)
    sold_cost = grid.sales["cost_of_goods"].to_numpy(dtype="float64", na_value=np.nan)

    last_28, last_90 = grid.trailing(COVER_WINDOW_DAYS, rows), grid.trailing(INVENTORY_WINDOW_DAYS, rows)
    history_days = last_90(in_snapshot.any(axis=1, keepdims=True))
    units_28d, units_90d, revenue_90d = last_28(units, snap=True), last_90(units, snap=True), last_90(revenue)
    cost_unknown = last_90(sales(np.isnan(sold_cost), False)) > 0
    cogs_90d = np.where(cost_unknown, np.nan, last_90(sales(_cents(sold_cost), 0)) / 100)
    value_unknown = last_90(np.isnan(value_at_cost)) > 0
    value_sum = last_90(np.nan_to_num(value_at_cost), snap=True)
    average_value = np.where(value_unknown, np.nan, round_money(value_sum / history_days))
    on_hand_today = on_hand[rows.day, rows.product]
    days_of_cover = todays["days_of_cover"].to_numpy(dtype="float64", na_value=np.nan)
    out_days = last_28(out_of_stock)
    with np.errstate(invalid="ignore", divide="ignore"):
        available = units_28d + on_hand_today
        sell_through = np.round(units_28d / np.where(available > 0, available, np.nan), 4)
        turnover = cogs_90d * DAYS_PER_YEAR / history_days / np.where(average_value > 0, average_value, np.nan)
    slow = (on_hand_today > 0) & (units_90d > 0) & (np.isnan(days_of_cover) | (days_of_cover > SLOW_MOVER_COVER_DAYS))
    table = pd.DataFrame(
        {
            "snapshot_date": grid.dates(rows.day),
            "product_id": grid.products[rows.product],
            "sku": todays["sku"].astype("string").to_numpy(),
            "name": todays["name"].astype("string").to_numpy(),
            "category": todays["category"].astype("string").to_numpy(),
            "stock_quantity": todays["stock_quantity"].to_numpy(dtype="int64", na_value=0),
            "stock_value": todays["stock_value"].to_numpy(dtype="float64"),
            "units_28d": units_28d,
            "revenue_28d": last_28(revenue) / 100,
            "units_90d": units_90d,
            "revenue_90d": revenue_90d / 100,
            "cost_of_goods_90d": cogs_90d,
            "history_days": history_days,
            "average_stock_value_90d": average_value,
            "sell_through_rate": sell_through,
            "inventory_turnover": np.round(turnover, 2),
            "days_of_cover": days_of_cover,
            "days_since_last_sale": _days_since_last_sale(units, rows),
            "abc_class": _abc_classes(rows.day, grid.products[rows.product], revenue_90d),
            "slow_mover": slow.astype("int64"),
            "out_of_stock_days_28d": out_days,
            "lost_sales_estimate": _lost_sales(
                out_days, last_28(in_stock), last_28(units * in_stock, snap=True), known_amount(todays["unit_price"])
            ),
        }
    )
    return table.astype(INVENTORY_COLUMNS)


@dataclass(frozen=True)
class _Rows:
    """Output rows as cells of the grid: day position and product column."""

    day: np.ndarray
    product: np.ndarray


class _DayGrid:
    """Days [first, last] x the products of the snapshot and sales rows of those days: one cell per
    product and day, from which trailing windows are summed."""

    def __init__(self, first: pd.Timestamp, last: pd.Timestamp, snapshots: pd.DataFrame, sales: pd.DataFrame):
        self.first, self.count = np.datetime64(first.date(), "D"), (last - first).days + 1
        snapshot_day, sales_day = self._positions(snapshots["snapshot_date"]), self._positions(sales["sale_date"])
        keep_snapshots = (snapshot_day >= 0) & (snapshot_day < self.count)
        keep_sales = (sales_day >= 0) & (sales_day < self.count)
        self.snapshots, self.sales = snapshots[keep_snapshots], sales[keep_sales]
        snapshot_ids = self.snapshots["product_id"].to_numpy(dtype="int64")
        sales_ids = self.sales["product_id"].to_numpy(dtype="int64")
        self.products = np.unique(np.concatenate([snapshot_ids, sales_ids]))
        self._snapshot_cells = (snapshot_day[keep_snapshots], np.searchsorted(self.products, snapshot_ids))
        self._sales_cells = (sales_day[keep_sales], np.searchsorted(self.products, sales_ids))

    def _positions(self, dates: pd.Series) -> np.ndarray:
        stamps = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        return (stamps - self.first).astype("int64")

    def snapshot_cells(self, values, fill) -> np.ndarray:
        """A (day, product) grid of `fill` holding `values` (one per snapshot row, or one for all) at their cells."""
        return self._cells(self._snapshot_cells, values, fill)

    def sales_cells(self, values, fill) -> np.ndarray:
        """A (day, product) grid of `fill` holding `values` (one per sales row, or one for all) at their cells."""
        return self._cells(self._sales_cells, values, fill)

    def _cells(self, cells: tuple[np.ndarray, np.ndarray], values, fill) -> np.ndarray:
        values = np.asarray(values)
        grid = np.full((self.count, len(self.products)), fill, dtype=np.result_type(values, np.asarray(fill)))
        grid[cells] = values
        return grid

    def rows_on(self, days: pd.DatetimeIndex) -> tuple[pd.DataFrame, _Rows]:
        """The snapshot rows of `days`, in (day, product) order, and their cells."""
        day, product = self._snapshot_cells
        wanted = np.isin(day, self._positions(pd.Series(days)))
        order = np.flatnonzero(wanted)[np.lexsort((product[wanted], day[wanted]))]
        return self.snapshots.iloc[order], _Rows(day[order], product[order])

    def trailing(self, window: int, rows: _Rows):
        """A function: per output row, the sum of a grid over the `window` days up to and including its
        day (a one-column grid: the same for every product); `snap` rounds float sums (`_SNAP_DECIMALS`)."""

        def window_sum(grid: np.ndarray, snap: bool = False) -> np.ndarray:
            dtype = np.float64 if grid.dtype.kind == "f" else np.int64
            totals = np.zeros((self.count + 1, grid.shape[1]), dtype=dtype)
            np.cumsum(grid, axis=0, dtype=dtype, out=totals[1:])
            column = rows.product if grid.shape[1] == len(self.products) else np.zeros_like(rows.product)
            sums = totals[rows.day + 1, column] - totals[np.maximum(rows.day + 1 - window, 0), column]
            return np.round(sums, _SNAP_DECIMALS) if snap else sums

        return window_sum

    def dates(self, day: np.ndarray) -> np.ndarray:
        return (self.first + day).astype("datetime64[ns]")


def _days_since_last_sale(units: np.ndarray, rows: _Rows) -> pd.arrays.IntegerArray:
    """Days from each row's last day with units in the trailing window to its day; null without one."""
    position = np.arange(len(units))[:, None]
    last_sold = np.maximum.accumulate(np.where(units > 0, position, -len(units) - INVENTORY_WINDOW_DAYS), axis=0)
    since = rows.day - last_sold[rows.day, rows.product]
    return pd.array(np.where(since < INVENTORY_WINDOW_DAYS, since, None), dtype="Int64")


def _abc_classes(day: np.ndarray, product_id: np.ndarray, revenue_cents: np.ndarray) -> np.ndarray:
    """A, B or C per row by the day's cumulative revenue before it (`ABC_CUMULATIVE_PCT`), in whole cents."""
    order = np.lexsort((product_id, -revenue_cents, day))
    day_sorted, revenue_sorted = day[order], revenue_cents[order]
    running = np.cumsum(revenue_sorted)
    starts = np.searchsorted(day_sorted, day_sorted)  # each row's first row of its day
    before = running - revenue_sorted - (running[starts] - revenue_sorted[starts])
    ends = np.searchsorted(day_sorted, day_sorted, side="right") - 1
    total = running[ends] - (running[starts] - revenue_sorted[starts])
    a_until, b_until = ABC_CUMULATIVE_PCT
    shares = [before * 100 < a_until * total, before * 100 < b_until * total]
    classes = np.select(shares, ABC_CLASSES[:2], ABC_CLASSES[2])
    unsorted = np.empty(len(order), dtype=object)
    unsorted[order] = classes
    return unsorted


def _lost_sales(out_days: np.ndarray, in_days: np.ndarray, in_stock_units: np.ndarray, price: np.ndarray) -> np.ndarray:
    """out-of-stock days x units per in-stock day x price, to the cent; 0 without out-of-stock days."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lost = round_money(out_days * in_stock_units * price / np.where(in_days > 0, in_days, np.nan))
    return np.where(out_days == 0, 0.0, lost)
