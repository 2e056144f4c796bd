"""The cleaning rules of docs/design.md section 3: the source of truth for every KPI number.

Vectorized throughout and shaped for tens of millions of lines:

- text columns travel as categoricals: a rule runs once per distinct spelling (a few hundred),
  and the lines only carry small integer codes that are re-mapped with one gather;
- a rejected line carries one reason code, the first rule it breaks in the order of `RULES`;
  reasons and readable details are worked out for the rejected lines only;
- duplicate deliveries are found by a stable sort of the sale ids, which costs a few tens of
  milliseconds on ids that arrive nearly in order (they do: the backend numbers sales as it
  records them), where a hash table over millions of ids costs a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from salesflow_pipelines.lib import parallel
from salesflow_pipelines.lib.schemas import (
    REJECT_RULES,
    SALE_STATUSES,
    SalesLine,
    SalesReject,
    column_names,
    text_categorical,
)

UNASSIGNED_REGION = "Unassigned"
UNCATEGORIZED = "Uncategorized"
UNNAMED_PRODUCT = "Unnamed product"
UNKNOWN_SKU = "UNKNOWN"
DEFAULT_STATUS = "COMPLETED"
SKU_CASE = "upper"

_NAT = np.iinfo(np.int64).min
_NS_PER_DAY = 86_400 * 10**9

SALES_LINE_COLUMNS = column_names(SalesLine)
REJECT_COLUMNS = column_names(SalesReject)

# (reason code, detail, column whose value the detail quotes), in the order rules are applied:
# a line breaking several carries the first. Written down with the sales_rejects contract, whose
# reason codes and detail texts they are.
RULES = REJECT_RULES


NO_CATEGORIES = pd.Series(
    dtype="string", index=pd.MultiIndex.from_arrays([np.zeros(0, np.int64), np.zeros(0, object)], names=["day", "sku"])
)


@dataclass(frozen=True)
class CleanedSales:
    lines: pd.DataFrame
    rejects: pd.DataFrame


def text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 = missing) and the distinct values they point to.

    Free for a categorical (its own codes); one hash pass for any other column.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, pd.Index(uniques, dtype=object)


def normalize_text(
    values: pd.Series, case: Literal["title", "upper"] | None = None, default: str | None = None
) -> pd.Series:
    """Trim, collapse inner white space and optionally re-case; empty text counts as missing.

    Answers a categorical with one category per distinct normalized value. Works on the
    distinct values only, so a column of millions of rows with a few hundred distinct
    spellings costs a few hundred string operations and one gather of integer codes.
    """
    codes, labels = text_codes(values)
    new_codes, new_labels = _recoded(codes, _normalized_labels(labels, case), default)
    return pd.Series(text_categorical(new_codes, new_labels), index=values.index, name=values.name)


def clean_label(label: Any, case: Literal["title", "upper"] | None = None) -> str | None:
    """One text value trimmed, inner white space collapsed and optionally re-cased; None when it is not
    text or nothing is left. The text rule of every normalized column."""
    if not isinstance(label, str):
        return None
    cleaned = " ".join(label.split())
    if case == "title":
        cleaned = cleaned.title()
    elif case == "upper":
        cleaned = cleaned.upper()
    return cleaned or None


def _normalized_labels(labels: pd.Index, case: Literal["title", "upper"] | None) -> np.ndarray:
    """Each label trimmed, spaces collapsed and re-cased; None where nothing is left."""
    cleaned = np.empty(len(labels), dtype=object)
    cleaned[:] = [clean_label(label, case) for label in labels]
    return cleaned


def normalize_sku(values: pd.Series, default: str | None = UNKNOWN_SKU) -> pd.Series:
    """SKUs as every table spells them (`normalize_text` upper-cased); missing ones become `default`."""
    return normalize_text(values, case=SKU_CASE, default=default)


def sku_key(sku: Any) -> str | None:
    """One SKU as `normalize_sku` spells it, to match payload items on: None when missing, "" when blank."""
    if sku is None or (isinstance(sku, float) and np.isnan(sku)):
        return None
    return clean_label(str(sku), SKU_CASE) or ""


def _recoded(codes: np.ndarray, targets: np.ndarray, default: str | None) -> tuple[np.ndarray, list[str]]:
    """Codes into the distinct non-null `targets` (old code i becomes `targets[i]`).

    Missing values (code -1 or a None target) become `default`, or stay missing without one.
    """
    target_codes, labels = pd.factorize(targets, use_na_sentinel=True)
    labels = list(labels)
    missing = -1
    if default is not None:
        missing = labels.index(default) if default in labels else len(labels)
        if missing == len(labels):
            labels.append(default)
    code_type = np.int8 if len(labels) < 127 else np.int16 if len(labels) < 32_767 else np.int32
    # The lookup's last slot answers code -1, so the gather needs no special case for missing.
    lookup = np.append(np.where(target_codes < 0, missing, target_codes), missing).astype(code_type)
    return lookup[codes], labels


def duplicate_deliveries(raw: pd.DataFrame) -> np.ndarray:
    """Mask of lines that belong to a second or later delivery of a sale id already seen that day.

    The frame is in delivery order (see `_in_delivery_order`: day by day) and every delivered
    sale starts at line 1, so a running count of line-1 rows numbers the deliveries; a line is a
    duplicate when the first line carrying its sale id on its day belongs to an earlier delivery.
    Judged within a day, so a day's lines never depend on which other days share the run.
    """
    line_no = raw["line_no"].to_numpy()
    known = raw["sale_id"].notna().to_numpy()
    sale_ids = raw["sale_id"].to_numpy(dtype="int64", na_value=0)
    days = sale_days(raw["sale_date"])
    if not len(line_no):
        return np.zeros(0, dtype=bool)
    starts = line_no == 1
    # Usually each delivery's lines carry its first line's sale id: then deciding per
    # delivery (half the lines) is enough. Otherwise decide line by line.
    continues = (sale_ids[1:] == sale_ids[:-1]) & (known[1:] == known[:-1])
    if starts[0] and bool((starts[1:] | continues).all()):
        first_lines = np.flatnonzero(starts)
        repeated = np.zeros(len(first_lines), dtype=bool)
        identified = first_lines[known[first_lines]]
        repeated[known[first_lines]] = later_occurrence(sale_ids[identified], days[identified])
        return np.repeat(repeated, np.diff(first_lines, append=len(line_no)))
    delivery = np.cumsum(starts)
    duplicate = np.zeros(len(line_no), dtype=bool)
    identified = np.flatnonzero(known)
    own = delivery[identified]
    duplicate[identified] = own != own[first_position(sale_ids[identified], days[identified])]
    return duplicate


def sale_days(dates: pd.Series) -> np.ndarray:
    """Day numbers (days since 1970-01-01) of naive timestamps; missing dates get the smallest int64."""
    nanoseconds = dates.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return np.where(nanoseconds == _NAT, _NAT, nanoseconds // _NS_PER_DAY)


def _equal_runs(values: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stable sort of `values`, and for each sorted position whether it starts a new (value, day) run.

    Callers pass lines in day order, so equal values come out of the stable sort day by day:
    a (value, day) pair is one run of the sorted order.
    """
    order = np.argsort(values, kind="stable")
    ordered, ordered_days = values[order], days[order]
    run_start = np.empty(len(values), dtype=bool)
    if len(values):
        run_start[0] = True
        run_start[1:] = (ordered[1:] != ordered[:-1]) | (ordered_days[1:] != ordered_days[:-1])
    return order, run_start


def later_occurrence(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Mask of elements equal to an earlier element of the same day (`duplicated(keep="first")`
    per day), by a stable sort: nearly sorted input (sale ids) sorts in linear time, where hashing
    millions of ids would not fit in cache."""
    order, run_start = _equal_runs(values, days)
    repeated = np.empty(len(values), dtype=bool)
    repeated[order] = ~run_start
    return repeated


def first_position(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """For each element, the position of the first element equal to it on the same day."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    order, run_start = _equal_runs(values, days)
    heads = order[run_start]
    first = np.empty(len(values), dtype=np.int64)
    first[order] = heads[np.cumsum(run_start) - 1]
    return first


def category_lookup(products: pd.DataFrame) -> pd.Series:
    """Inventory category by (snapshot day, normalized SKU): a line takes its own day's category,
    so a day's lines never depend on which other days' snapshots share the run."""
    if products.empty:
        return NO_CATEGORIES
    named = pd.DataFrame(
        {
            "day": sale_days(products["snapshot_date"]),
            "sku": normalize_sku(products["sku"], default=None).astype("string"),
            "category": normalize_text(products["category"], case="title").astype("string"),
        }
    )
    named = named.dropna(subset=["sku", "category"]).drop_duplicates(["day", "sku"], keep="last")
    return named.set_index(["day", "sku"])["category"]


def clean_sales(raw: pd.DataFrame, categories: pd.Series, *, overwrite_raw: bool = False) -> CleanedSales:
    """Split raw sale lines into valid, normalized lines with revenue and rejected lines.

    `categories` maps (day, normalized SKU) to category (see `category_lookup`); a line's own
    `category` extension wins over its day's, and a SKU in neither is `Uncategorized`. Text columns of
    the valid lines are categoricals; both frames keep delivery order.

    With `overwrite_raw`, for a caller that drops `raw` afterwards (the asset: the frame was
    loaded for this step alone), valid lines are moved down within raw's own writable arrays
    instead of being copied out, and the amounts computed into raw's `subtotal` and
    `total_amount`: `raw` is garbage afterwards, and at 11.5 M lines about 0.65 GB of fresh
    memory, and the system time its first touch costs on a VM, is saved.
    """
    raw = _in_delivery_order(raw)
    text = _normalized_text(raw, categories)
    rejected, reason = _rejections(raw, text["status"])
    rejects = _rejects(raw, text["status"], rejected, reason)  # before raw may be overwritten
    columns = _valid_columns(raw, text, _complement(rejected, len(raw)), overwrite_raw)
    # copy=False: the arrays are fresh (or raw's own, given up), so the frame adopts them instead
    # of copying them into consolidated blocks (a second copy of every column at 10 M lines).
    lines = pd.DataFrame(columns, columns=SALES_LINE_COLUMNS, copy=False)
    return CleanedSales(lines=lines, rejects=rejects)


def _rejections(raw: pd.DataFrame, status: tuple[np.ndarray, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the rejected lines, and for each the index in `RULES` of the first rule it breaks."""
    broken = _broken_rules(raw, status)
    rejected = np.flatnonzero(np.logical_or.reduce(broken))
    return rejected, _first_broken(broken, rejected)


def _valid_columns(
    raw: pd.DataFrame, text: dict[str, tuple[np.ndarray, list[str]]], keep: np.ndarray | None, overwrite_raw: bool
) -> dict[str, Any]:
    """The columns of the lines at positions `keep` (all lines when None), with the amounts.

    A gather writes about 90 bytes a line into fresh memory: threads take the columns in
    parallel (see `parallel`). Arrays made here are compacted in place instead (see `_kept`),
    and with `overwrite_raw` so are raw's own writable arrays. An id column with missing ids
    comes as a filled copy of our own; without any, as the masked array's own buffer, which
    pandas hands out writable even when copy-on-write shares it: that one is never written.
    """

    def kept(values: np.ndarray) -> np.ndarray:
        return _kept(values, keep, in_place=overwrite_raw)

    # Columns are looked up here, in one thread: a frame's column cache is not for sharing.
    def floats(name: str) -> Callable[[], np.ndarray]:
        column = raw[name]
        return lambda: kept(column.to_numpy(dtype="float64", na_value=np.nan))

    def ids(name: str) -> Callable[[], np.ndarray]:
        # Missing ids become 0 before the gather: valid lines have none, so none stays.
        column = raw[name]
        return lambda: _kept(column.to_numpy(dtype="int64", na_value=0), keep, in_place=column.hasnans)

    def text_column(name: str) -> Callable[[], pd.Categorical]:
        codes, labels = text[name]
        return lambda: text_categorical(_kept(codes, keep, in_place=True), labels)  # codes are fresh

    sale_date, line_no, customer_id = raw["sale_date"], raw["line_no"], raw["customer_id"]
    columns = parallel.run_all(
        {
            "sale_id": ids("sale_id"),
            "sale_date": lambda: kept(sale_date.to_numpy(dtype="datetime64[ns]")),
            "line_no": lambda: kept(line_no.to_numpy(dtype="int64")),
            "customer_id": lambda: pd.arrays.IntegerArray(
                _kept(customer_id.to_numpy(dtype="int64", na_value=0), keep, in_place=customer_id.hasnans),
                _kept(customer_id.isna().to_numpy(), keep, in_place=True),
            ),
            "product_id": ids("product_id"),
            **{name: text_column(name) for name in text},
            "quantity": floats("quantity"),
            "unit_price": floats("unit_price"),
            "discount": floats("discount"),
        }
    )
    quantity, unit_price, discount = columns["quantity"], columns["unit_price"], columns["discount"]
    discount[np.isnan(discount)] = 0.0  # a missing discount is none

    def space(name: str) -> np.ndarray:
        """Room for a computed column: raw's column `name`, of no use after cleaning, when it may be overwritten."""
        values = raw[name].to_numpy(dtype="float64", na_value=np.nan)
        return values[: len(quantity)] if overwrite_raw and values.flags.writeable else np.empty(len(quantity))

    gross_amount, revenue = space("subtotal"), space("total_amount")
    parallel.run_all(
        {
            "gross_amount": lambda: np.multiply(quantity, unit_price, out=gross_amount),
            "revenue": lambda: _revenue(quantity, unit_price, discount, out=revenue),
        }
    )
    return columns | {"gross_amount": gross_amount, "revenue": revenue}


def _kept(values: np.ndarray, keep: np.ndarray | None, in_place: bool) -> np.ndarray:
    """`values` at the ascending positions `keep` (all when None).

    In place when allowed and the array is writable: kept values move down over the array's own
    first slots, a block at a time, and the answer is a view of them. Safe because positions
    ascend: a block reads only slots at or after its own, which no earlier block wrote.
    """
    if keep is None:
        return values if in_place else values.copy()
    if not (in_place and values.flags.writeable):
        return values.take(keep)
    for start in range(0, len(keep), parallel.BLOCK_ROWS):
        block = keep[start : start + parallel.BLOCK_ROWS]
        values[start : start + len(block)] = values[block]
    return values[: len(keep)]


def _revenue(quantity: np.ndarray, unit_price: np.ndarray, discount: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(1 - discount) x (quantity x unit_price) per line into `out`, block by block: no full-size temporary."""
    np.subtract(1.0, discount, out=out)
    for start in range(0, len(out), parallel.BLOCK_ROWS):
        block = slice(start, start + parallel.BLOCK_ROWS)
        out[block] *= quantity[block] * unit_price[block]
    return out


def _complement(rejected: np.ndarray, size: int) -> np.ndarray | None:
    """Positions not in `rejected` (sorted); None when nothing is rejected."""
    if not len(rejected):
        return None
    kept = np.ones(size, dtype=bool)
    kept[rejected] = False
    return np.flatnonzero(kept)


def _in_delivery_order(raw: pd.DataFrame) -> pd.DataFrame:
    """Lines day by day, each day in the order its pull delivered them.

    `delivery_order` numbers a pull's lines from 0, and days pulled by different runs are stored
    side by side: only within a day does it say which delivery came first.
    """
    days = sale_days(raw["sale_date"])
    order = raw["delivery_order"].to_numpy()
    if len(order) < 2:
        return raw
    later_day = days[1:] > days[:-1]
    if bool((later_day | ((days[1:] == days[:-1]) & (order[1:] >= order[:-1]))).all()):
        return raw  # the usual case: day files in day order, each in delivery order
    return raw.take(np.lexsort((order, days)))


def _normalized_text(raw: pd.DataFrame, categories: pd.Series) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Codes and labels of each normalized text column, with the defaults of the contract."""
    text = {}
    for name, case, default in (
        ("region", "title", UNASSIGNED_REGION),
        ("status", "upper", DEFAULT_STATUS),
        ("product_name", None, UNNAMED_PRODUCT),
    ):
        codes, labels = text_codes(raw[name])
        text[name] = _recoded(codes, _normalized_labels(labels, case), default)
    sku_codes, sku_labels = text_codes(raw["sku"])
    sku_clean = _normalized_labels(sku_labels, SKU_CASE)
    text["sku"] = _recoded(sku_codes, sku_clean, UNKNOWN_SKU)
    text["category"] = _category_codes(raw["category"], sku_codes, sku_clean, sale_days(raw["sale_date"]), categories)
    return text


def _category_codes(
    own: pd.Series, sku_codes: np.ndarray, sku_clean: np.ndarray, days: np.ndarray, categories: pd.Series
) -> tuple[np.ndarray, list[str]]:
    """A line's own category, else its SKU's inventory category that day, else `Uncategorized`.

    Decided per distinct own category and per distinct (day, SKU); the lines only gather codes.
    """
    own_codes, own_labels = text_codes(own)
    own_clean = _normalized_labels(own_labels, "title")
    labels = list(pd.unique(np.concatenate([own_clean, categories.to_numpy(dtype=object), [UNCATEGORIZED]])))
    labels = [label for label in labels if label is not None and not pd.isna(label)]
    position = {label: code for code, label in enumerate(labels)}
    code_type = np.int8 if len(labels) < 127 else np.int16 if len(labels) < 32_767 else np.int32
    chosen = np.array([position.get(label, -1) if label is not None else -1 for label in own_clean] + [-1])
    chosen = chosen.astype(code_type)[own_codes]
    fallback = _inventory_codes(sku_codes, sku_clean, days, categories, position).astype(code_type)
    return np.where(chosen >= 0, chosen, fallback), labels


def _inventory_codes(
    sku_codes: np.ndarray, sku_clean: np.ndarray, days: np.ndarray, categories: pd.Series, position: dict[str, int]
) -> np.ndarray:
    """Each line's inventory category code from a (day, SKU code) table; `Uncategorized` where none.

    The table has a row per day from the first to the last dated line and a spare row for
    undated lines; its last column answers lines without a SKU (code -1).
    """
    dated = days != _NAT
    first = int(days[dated].min()) if dated.any() else 0
    span = int(days[dated].max()) - first + 1 if dated.any() else 0
    clean_ids, clean_skus = pd.factorize(pd.Series(sku_clean, dtype=object), use_na_sentinel=True)
    table = np.full((span + 1, len(clean_skus) + 1), position[UNCATEGORIZED], dtype=np.int32)
    if len(categories):
        day = categories.index.get_level_values("day").to_numpy(dtype=np.int64) - first
        sku = pd.Index(clean_skus, dtype=object).get_indexer(categories.index.get_level_values("sku").astype(object))
        known = (sku >= 0) & (day >= 0) & (day < span)
        table[day[known], sku[known]] = [position[label] for label in categories.to_numpy(dtype=object)[known]]
    row = np.where(dated, days - first, span)
    return table[row, np.append(clean_ids, -1)[sku_codes]]


def _broken_rules(raw: pd.DataFrame, status: tuple[np.ndarray, list[str]]) -> list[np.ndarray]:
    """One mask per rule of `RULES`, in order: the lines breaking it."""
    quantity = raw["quantity"].to_numpy(dtype="float64", na_value=np.nan)
    price = raw["unit_price"].to_numpy(dtype="float64", na_value=np.nan)
    discount = raw["discount"].to_numpy(dtype="float64", na_value=np.nan)
    status_codes, status_labels = status
    unknown_status = np.append(~np.isin(np.array(status_labels, dtype=object), SALE_STATUSES), True)
    broken = {
        "MISSING_SALE_ID": lambda: raw["sale_id"].isna().to_numpy(),
        "DUPLICATE_SALE": lambda: duplicate_deliveries(raw),
        "MISSING_PRODUCT": lambda: raw["product_id"].isna().to_numpy(),
        "BAD_QUANTITY": lambda: ~(np.isfinite(quantity) & (quantity > 0)),
        "BAD_PRICE": lambda: ~(np.isfinite(price) & (price >= 0)),
        # A missing discount is 0: valid.
        "BAD_DISCOUNT": lambda: ~(np.isnan(discount) | ((discount >= 0) & (discount <= 1))),
        "BAD_STATUS": lambda: unknown_status[status_codes],
    }
    return [broken[code]() for code, _, _ in RULES]


def _first_broken(broken: list[np.ndarray], rejected: np.ndarray) -> np.ndarray:
    """For each rejected line, the index in `RULES` of the first rule it breaks."""
    if not len(rejected):
        return np.zeros(0, dtype=np.int8)
    return np.argmax(np.stack([mask[rejected] for mask in broken]), axis=0).astype(np.int8)


def _rejects(
    raw: pd.DataFrame, status: tuple[np.ndarray, list[str]], rejected: np.ndarray, rule: np.ndarray
) -> pd.DataFrame:
    """One row per rejected line with its reason code and a detail quoting the bad value."""
    detail = np.empty(len(rejected), dtype=object)
    for number, (_, message, quoted) in enumerate(RULES):
        hit = rule == number
        if not hit.any():
            continue
        if quoted is None:
            detail[hit] = message
            continue
        rows = rejected[hit]
        if quoted == "status":
            values = pd.Series(text_categorical(status[0][rows], status[1]))
        else:
            values = raw[quoted].iloc[rows].reset_index(drop=True)
        detail[hit] = (message + values.astype(str)).to_numpy(dtype=object)
    codes = np.array([code for code, _, _ in RULES], dtype=object)
    return pd.DataFrame(
        {
            "sale_date": raw["sale_date"].iloc[rejected].dt.normalize().to_numpy(),
            "sale_id": raw["sale_id"].array[rejected],
            "line_no": raw["line_no"].to_numpy(dtype="int64")[rejected],
            "reason": pd.array(codes[rule], dtype="string"),
            "detail": pd.array(detail, dtype="string"),
        },
        columns=REJECT_COLUMNS,
    )


def reject_rates_by_day(cleaned: CleanedSales) -> pd.DataFrame:
    """One row per sale day: `lines` delivered (valid + rejected), `rejected`, and `reject_rate`."""
    valid = cleaned.lines["sale_date"].dt.normalize().value_counts()
    rejected = cleaned.rejects["sale_date"].value_counts()
    table = pd.DataFrame({"valid": valid, "rejected": rejected}).fillna(0).astype("int64")
    table["lines"] = table["valid"] + table["rejected"]
    table["reject_rate"] = table["rejected"] / table["lines"]
    table.index.name = "sale_date"
    return table[["lines", "rejected", "reject_rate"]].reset_index()


def unreconciled_sales(raw: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Sales (first delivery) whose `totalAmount` differs from the sum of q x p x (1 - d).

    One row per such sale with `total_amount`, `lines_total` and `gap`.
    """
    ordered = _in_delivery_order(raw)
    first = ~duplicate_deliveries(ordered)
    discount = ordered["discount"].to_numpy(dtype="float64", na_value=np.nan)
    amounts = (
        ordered["quantity"].to_numpy(dtype="float64", na_value=np.nan)
        * ordered["unit_price"].to_numpy(dtype="float64", na_value=np.nan)
        * (1.0 - np.where(np.isnan(discount), 0.0, discount))
    )
    sales = pd.DataFrame(
        {
            "sale_id": ordered["sale_id"].array[first],
            "total_amount": ordered["total_amount"].to_numpy(dtype="float64", na_value=np.nan)[first],
            "line_amount": amounts[first],
        }
    )
    per_sale = sales.groupby("sale_id").agg(total_amount=("total_amount", "first"), lines_total=("line_amount", "sum"))
    per_sale["gap"] = (per_sale["total_amount"] - per_sale["lines_total"]).round(2)
    return per_sale[per_sale["gap"].abs() > tolerance].reset_index()
