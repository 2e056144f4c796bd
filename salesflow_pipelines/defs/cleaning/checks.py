"""Data-quality checks that a schema cannot express, emitted by the cleaning assets."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from salesflow_pipelines.lib.analytics.cleaning import unreconciled_sales

EXAMPLES = 5
# Below this many lines a day's reject rate is too noisy to stop a run on (a shop's quiet day).
MIN_LINES_FOR_CEILING = 100


def stop_above_reject_ceiling(rates_by_day: pd.DataFrame, ceiling: float) -> None:
    """Fails the step, before any table is written, when a day of at least `MIN_LINES_FOR_CEILING`
    lines has more than `ceiling` of them rejected: far above normal is a bug, not bad data."""
    breached = rates_by_day[(rates_by_day["lines"] >= MIN_LINES_FOR_CEILING) & (rates_by_day["reject_rate"] > ceiling)]
    if breached.empty:
        return
    days = ", ".join(f"{row.sale_date:%Y-%m-%d} {row.reject_rate:.1%}" for row in breached.head(EXAMPLES).itertuples())
    raise dg.Failure(
        description=(
            f"{len(breached)} day(s) reject more than {ceiling:.0%} of their lines ({days}); nothing was written. "
            "Compare the raw_sales partitions with the backend; if the data really is that bad, raise "
            "SALESFLOW_REJECT_RATE_CEILING and re-run."
        ),
        metadata={"days_above_ceiling": len(breached), "ceiling": ceiling},
    )


def reject_rate_check(valid_lines: int, rejects_by_reason: dict[str, int], max_rate: float) -> dg.AssetCheckResult:
    """Warns when the share of rejected lines exceeds `max_rate` (the hard ceiling is `stop_above_reject_ceiling`)."""
    rejected = sum(rejects_by_reason.values())
    total = valid_lines + rejected
    rate = rejected / total if total else 0.0
    return dg.AssetCheckResult(
        check_name="reject_rate_below_threshold",
        asset_key="sales_lines",
        passed=rate <= max_rate,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{rejected} of {total} lines rejected ({rate:.2%}); threshold {max_rate:.2%} "
            "(SALESFLOW_MAX_REJECT_RATE). See the sales_rejects table for reasons."
        ),
        metadata={"reject_rate": rate, "rejected_lines": rejected, "lines": total, **rejects_by_reason},
    )


def reconciliation_check(raw_sales: pd.DataFrame, tolerance: float) -> dg.AssetCheckResult:
    """Warns when sales' totalAmount does not match their lines (a backend-side discount or a bad line)."""
    gaps = unreconciled_sales(raw_sales, tolerance)
    examples = gaps.head(EXAMPLES)
    return dg.AssetCheckResult(
        check_name="total_amount_reconciles",
        asset_key="raw_sales",
        passed=gaps.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(gaps)} sales whose totalAmount differs from their lines by more than {tolerance}",
        metadata={
            "unreconciled_sales": len(gaps),
            "examples": dg.MetadataValue.md(f"```\n{examples.to_string(index=False)}\n```"),
        },
    )


def unique_rows_check(frame: pd.DataFrame, key: list[str]) -> dg.AssetCheckResult:
    """Fails the asset's check when a key appears twice (e.g. two stock rows for one product-day)."""
    duplicated = frame[frame.duplicated(key, keep=False)]
    return dg.AssetCheckResult(
        check_name="one_row_per_product_per_day",
        passed=duplicated.empty,
        description=f"{len(duplicated)} rows share a {'/'.join(key)} with another row",
        metadata={"duplicate_rows": len(duplicated)},
    )
