"""Embedded demo data: a deterministic small shop with the mess real backends deliver.

Every day is generated from its own seed, so any window of days gives the same rows whatever
range was asked for. The data carries the contract's optional extensions (customers, regions,
refunds, discounts, categories) and the contract's known mess: duplicate deliveries of a sale,
SKUs and names with stray case and spaces, a product missing from `/inventory`, and a few bad
lines. Weekly seasonality, a slow upward trend, spike days and zero days make the forecasts and
anomaly sets meaningful.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from salesflow_pipelines.lib.schemas import RAW_SALES_COLUMNS, empty_frame, text_categorical

EPOCH = date(2020, 1, 1)
TREND_ANCHOR = date(2026, 9, 1)
TREND_PER_DAY = 0.0005
SALE_IDS_PER_DAY = 1_000_000
LINES_PER_SALE_P = 0.55  # geometric, capped at MAX_LINES_PER_SALE
MAX_LINES_PER_SALE = 6
MEAN_LINES_PER_SALE = (1 - (1 - LINES_PER_SALE_P) ** MAX_LINES_PER_SALE) / LINES_PER_SALE_P  # 1.81
WEEKDAY_FACTOR = np.array([0.85, 0.9, 0.95, 1.0, 1.2, 1.45, 0.65])  # Monday first
SPIKE_EVERY_DAYS = 47
ZERO_EVERY_DAYS = 61
REGIONS = np.array(["North", "South", "East", "West", "Central"])
REGION_SPELLINGS = np.array([" north", "SOUTH ", "east", "West  ", "central"])
# (name, category) of the shop's product lines; a catalogue longer than this numbers the repeats.
PRODUCT_STEMS = [
    ("Espresso Beans 1kg", "Beverages"),
    ("Green Tea 50 bags", "Beverages"),
    ("Basmati Rice 5kg", "Grocery"),
    ("Olive Oil 1l", "Grocery"),
    ("Dish Soap 750ml", "Household"),
    ("Paper Towels 6 pack", "Household"),
    ("Shampoo 400ml", "Personal Care"),
    ("Toothpaste 100ml", "Personal Care"),
    ("Dark Chocolate 100g", "Snacks"),
    ("Salted Crisps 150g", "Snacks"),
    ("Orange Juice 1l", "Beverages"),
    ("Sparkling Water 6x1l", "Beverages"),
]
STATUS_CHOICES = np.array(["COMPLETED", "REFUNDED", "CANCELLED"])
STATUS_WEIGHTS = np.array([0.95, 0.03, 0.02])
DISCOUNT_CHOICES = np.array([0.0, 0.05, 0.1, 0.2])
DISCOUNT_WEIGHTS = np.array([0.8, 0.1, 0.07, 0.03])


def day_index(day: date) -> int:
    """Days since the demo epoch; the basis of sale ids and per-day seeds."""
    return (day - EPOCH).days


def is_spike_day(day: date) -> bool:
    return day_index(day) % SPIKE_EVERY_DAYS == 23


def is_zero_day(day: date) -> bool:
    return day_index(day) % ZERO_EVERY_DAYS == 37


@dataclass(frozen=True)
class DemoData:
    """A seeded demo shop. `orders_per_day` is the average volume before seasonality."""

    seed: int = 7
    orders_per_day: int = 200
    product_count: int = 40
    regular_customers: int = 800

    @cached_property
    def catalogue(self) -> pd.DataFrame:
        """The products as the shop defines them (clean names, before any mess)."""
        rng = np.random.default_rng(self.seed)
        ids = np.arange(1, self.product_count + 1)
        stems = [PRODUCT_STEMS[i % len(PRODUCT_STEMS)] for i in range(self.product_count)]
        names = [f"{stem} #{i}" if i > len(PRODUCT_STEMS) else stem for i, (stem, _) in zip(ids, stems, strict=False)]
        price = np.round(rng.uniform(1.5, 45.0, self.product_count), 2)
        return pd.DataFrame(
            {
                "product_id": ids,
                "name": names,
                "sku": [f"SKU-{i:04d}" for i in ids],
                "price": price,
                "cost": np.round(price * rng.uniform(0.45, 0.75, self.product_count), 2),
                "category": [category for _, category in stems],
                "popularity": self._popularity(rng),
                "base_stock": rng.integers(40, 400, self.product_count),
                "low_stock_threshold": np.full(self.product_count, 10),
            }
        )

    def _popularity(self, rng: np.random.Generator) -> np.ndarray:
        # Zipf-like demand; the last product never sells so stock reports show DEAD stock.
        weights = 1.0 / np.arange(1, self.product_count + 1) ** 0.8
        weights = rng.permutation(weights[:-1]).tolist() + [0.0]
        weights = np.asarray(weights)
        return weights / weights.sum()

    def sales_lines(self, start: date, end: date) -> pd.DataFrame:
        """One row per sale line for every sale dated in [start, end], in delivery order.

        Text columns are categoricals (see `RAW_SALES_COLUMNS`): each day's lines are drawn as
        integer codes into the fixed spellings of `text_spellings`, never as strings per line.
        """
        days = pd.date_range(start, end, freq="D").date
        # Each day is written straight into columns sized for the expected volume (grown in
        # place if a day overshoots), so memory stays at one copy of the lines even at tens of
        # millions of them, without per-day pieces left behind in the heap.
        capacity = int(sum(self.expected_orders(day) for day in days) * MEAN_LINES_PER_SALE * 1.05) + 1024
        columns: dict[str, np.ndarray] = {}
        filled = 0
        for day in days:
            day_columns = self._day_columns(day)
            if day_columns is None:
                continue
            count = len(day_columns["sale_id"])
            if not columns:
                columns = {name: np.empty(capacity, dtype=values.dtype) for name, values in day_columns.items()}
            if filled + count > capacity:
                capacity = max(2 * capacity, filled + count)
                for values in columns.values():
                    values.resize(capacity, refcheck=False)
            for name, values in day_columns.items():
                columns[name][filled : filled + count] = values
            filled += count
        if not filled:
            return empty_frame(RAW_SALES_COLUMNS)
        for values in columns.values():
            values.resize(filled, refcheck=False)
        spellings = self.text_spellings
        never_missing = np.zeros(len(columns["sale_id"]), dtype=bool)
        lines = {
            "sale_id": pd.arrays.IntegerArray(columns["sale_id"], never_missing),
            "sale_date": columns["sale_date"],
            "total_amount": columns["total_amount"],
            "customer_id": pd.arrays.IntegerArray(columns["customer_id"], columns.pop("walk_in")),
            "line_no": columns["line_no"],
            "product_id": pd.arrays.IntegerArray(columns["product_id"], never_missing.copy()),
            "quantity": columns["quantity"],
            "unit_price": columns["unit_price"],
            "subtotal": columns["subtotal"],
            "discount": columns["discount"],
            **{name: text_categorical(columns[name], spellings[name]) for name in spellings},
            "delivery_order": np.arange(len(columns["sale_id"]), dtype="int64"),
        }
        return pd.DataFrame(lines, columns=list(RAW_SALES_COLUMNS), copy=False)

    @cached_property
    def text_spellings(self) -> dict[str, list[str]]:
        """Every spelling the generator writes per text column, as the backend sends it (untrimmed)."""
        catalogue = self.catalogue
        names = catalogue["name"].tolist()
        skus = catalogue["sku"].tolist()
        return {
            "region": [*REGIONS, *REGION_SPELLINGS],
            "status": list(STATUS_CHOICES),
            # A messy line (5%) has a lower-cased, padded SKU and a doubled first space in its name.
            "product_name": names + [name.replace(" ", "  ", 1) for name in names],
            "sku": skus + [f" {sku.lower()} " for sku in skus],
            "category": [],  # the stock backend sends no category; /inventory has it
        }

    def expected_orders(self, day: date) -> float:
        """The mean number of orders the generator draws from for one day."""
        if is_zero_day(day):
            return 0.0
        trend = np.exp(TREND_PER_DAY * (day_index(day) - day_index(TREND_ANCHOR)))
        spike = 3.5 if is_spike_day(day) else 1.0
        return self.orders_per_day * WEEKDAY_FACTOR[day.weekday()] * trend * spike

    def _day_columns(self, day: date) -> dict[str, np.ndarray] | None:
        """One day's lines as arrays (text as codes into `text_spellings`); None without sales."""
        rng = np.random.default_rng([self.seed, day_index(day)])
        orders = int(rng.poisson(self.expected_orders(day)))
        if orders == 0:
            return None
        catalogue = self.catalogue
        product_count = len(catalogue)
        lines_per_sale = np.minimum(rng.geometric(LINES_PER_SALE_P, orders), MAX_LINES_PER_SALE)
        sale_of_line = np.repeat(np.arange(orders), lines_per_sale)
        line_count = len(sale_of_line)
        sale_ids = day_index(day) * SALE_IDS_PER_DAY + np.arange(1, orders + 1)
        seconds = np.sort(rng.integers(8 * 3600, 20 * 3600, orders))
        sale_dates = np.datetime64(day, "ns") + seconds.astype("timedelta64[s]")
        product_pos = rng.choice(product_count, line_count, p=catalogue["popularity"].to_numpy())
        quantity = rng.integers(1, 6, line_count).astype("float64")
        unit_price = catalogue["price"].to_numpy()[product_pos].copy()
        discount = rng.choice(DISCOUNT_CHOICES, line_count, p=DISCOUNT_WEIGHTS)
        self._inject_bad_lines(rng, quantity, unit_price, discount)

        customers = self._customers(rng, day, orders)
        region_pos = rng.choice(len(REGIONS), orders, p=[0.3, 0.25, 0.2, 0.15, 0.1])
        region = region_pos + len(REGIONS) * (rng.random(orders) < 0.08)
        status = rng.choice(len(STATUS_CHOICES), orders, p=STATUS_WEIGHTS)

        subtotal = np.round(quantity * unit_price * (1 - discount), 2)
        total_amount = np.round(np.bincount(sale_of_line, weights=np.nan_to_num(subtotal), minlength=orders), 2)
        line_no = np.arange(line_count) - np.repeat(np.cumsum(lines_per_sale) - lines_per_sale, lines_per_sale) + 1
        text = product_pos + product_count * (rng.random(line_count) < 0.05)  # messy spelling
        code_type = np.int8 if 2 * product_count < 127 else np.int16 if 2 * product_count < 32_767 else np.int32
        # Offline sync re-delivers about 1% of sales; the copy arrives after the original.
        redelivered = np.flatnonzero(rng.random(orders) < 0.01)
        delivered = np.concatenate([np.arange(line_count), np.flatnonzero(np.isin(sale_of_line, redelivered))])
        sale = sale_of_line[delivered]
        return {
            "sale_id": sale_ids[sale],
            "sale_date": sale_dates[sale],
            "total_amount": total_amount[sale],
            "customer_id": np.nan_to_num(customers[sale]).astype("int64"),
            "walk_in": np.isnan(customers[sale]),
            "line_no": line_no[delivered],
            "product_id": catalogue["product_id"].to_numpy()[product_pos[delivered]].astype("int64"),
            "quantity": quantity[delivered],
            "unit_price": unit_price[delivered],
            "subtotal": subtotal[delivered],
            "discount": discount[delivered],
            "region": region[sale].astype("int8"),
            "status": status[sale].astype("int8"),
            "product_name": text[delivered].astype(code_type),
            "sku": text[delivered].astype(code_type),
            "category": np.full(len(delivered), -1, dtype="int8"),
        }

    def _customers(self, rng: np.random.Generator, day: date, orders: int) -> np.ndarray:
        # Regulars come back; the rest are first-time customers with ids never used before.
        regulars = rng.integers(1, self.regular_customers + 1, orders).astype("float64")
        newcomers = day_index(day) * SALE_IDS_PER_DAY + np.arange(orders, dtype="float64")
        draw = rng.random(orders)
        customers = np.where(draw < 0.45, regulars, newcomers)
        customers[draw >= 0.7] = np.nan
        return customers

    @staticmethod
    def _inject_bad_lines(
        rng: np.random.Generator, quantity: np.ndarray, unit_price: np.ndarray, discount: np.ndarray
    ) -> None:
        draw = rng.random(len(quantity))
        quantity[draw < 0.002] = 0
        quantity[(draw >= 0.002) & (draw < 0.003)] = -1
        unit_price[(draw >= 0.003) & (draw < 0.004)] = -5.0
        discount[(draw >= 0.004) & (draw < 0.005)] = 1.5

    def products(self, snapshot_date: date) -> pd.DataFrame:
        """`GET /products` as of the end of `snapshot_date`: stock follows a 14-day restock cycle."""
        return self.products_on([snapshot_date]).drop(columns="snapshot_date")

    def products_on(self, days: Sequence[date]) -> pd.DataFrame:
        """`products` of each of `days`, one day's rows after the other, the day as `snapshot_date`."""
        catalogue = self.catalogue
        names = catalogue["name"].where(catalogue["product_id"] % 9 != 4, " " + catalogue["name"] + "  ")
        return _day_after_day(
            days,
            {
                "product_id": catalogue["product_id"],
                "name": names,
                "sku": catalogue["sku"],
                "price": catalogue["price"],
                "stock_quantity": self._stock(days),
                "low_stock_threshold": catalogue["low_stock_threshold"],
            },
        )

    def inventory(self, snapshot_date: date) -> pd.DataFrame:
        """`GET /inventory`: category and cost by SKU; the newest product is missing from it."""
        return self.inventory_on([snapshot_date]).drop(columns="snapshot_date")

    def inventory_on(self, days: Sequence[date]) -> pd.DataFrame:
        """`inventory` of each of `days`, one day's rows after the other, the day as `snapshot_date`."""
        catalogue = self.catalogue.iloc[:-1]
        category = catalogue["category"].where(
            catalogue["product_id"] % 7 != 3, catalogue["category"].str.lower() + " "
        )
        updated_at = _midnights(days).astype("datetime64[us]") + np.timedelta64(6, "h")
        return _day_after_day(
            days,
            {
                "inventory_id": catalogue["product_id"] + 1000,
                "sku": catalogue["sku"].where(catalogue["product_id"] % 5 != 2, catalogue["sku"].str.lower()),
                "name": catalogue["name"],
                "quantity": self._stock(days)[:, : len(catalogue)],
                "price": catalogue["price"],
                "cost": catalogue["cost"],
                "category": category,
                "created_at": np.full(len(catalogue), np.datetime64(EPOCH, "s")),
                "updated_at": np.repeat(updated_at[:, np.newaxis], len(catalogue), axis=1),
            },
        )

    def _stock(self, days: Sequence[date]) -> np.ndarray:
        """Units on hand at the end of each of `days` (rows) for each product (columns)."""
        catalogue = self.catalogue
        product_ids = catalogue["product_id"].to_numpy()
        base_stock = catalogue["base_stock"].to_numpy()
        day_indexes = np.array([day_index(day) for day in days], dtype=np.int64).reshape(-1, 1)
        cycle_day = (day_indexes + product_ids) % 14
        draw_down = np.rint(base_stock * cycle_day / 13).astype(int)
        stock = np.maximum(base_stock - draw_down, 0)
        stock[:, product_ids == 13] = 0
        return stock


def _midnights(days: Sequence[date]) -> np.ndarray:
    return np.array(days, dtype="datetime64[D]").astype("datetime64[s]")


def _day_after_day(days: Sequence[date], columns: dict[str, pd.Series | np.ndarray]) -> pd.DataFrame:
    """The rows of `days` one day after the other, the day as `snapshot_date`: a column of one value
    per product repeats on every day, a (day, product) array gives each day its own values."""
    frame = pd.DataFrame(
        {
            name: np.tile(np.asarray(values), len(days)) if np.ndim(values) == 1 else np.asarray(values).ravel()
            for name, values in columns.items()
        }
    )
    frame["snapshot_date"] = np.repeat(_midnights(days), len(frame) // max(len(days), 1))
    return frame
