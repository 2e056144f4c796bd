"""Data-quality checks that a schema cannot express, emitted by the cleaning assets."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from salesflow_pipelines.lib.cleaning import unreconciled_sales

EXAMPLES = 5


def reject_rate_check(valid_lines: int, rejects_by_reason: dict[str, int], max_rate: float) -> dg.AssetCheckResult:
    """Fails (as a warning) when the share of rejected lines exceeds `max_rate`."""
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
