"""The daily graph end to end: a month pulled from a contract-speaking server over a real
socket (503 bursts, expiring tokens), written to the real PostgreSQL warehouse, and checked
against totals computed independently from the source JSON."""

import math
from collections import defaultdict
from datetime import date

import pandas as pd
import pytest

from salesflow_pipelines.dev.demo import DemoData
from salesflow_pipelines.dev.standin_server import StandinServer
from salesflow_pipelines.lib.backend.payloads import sales_to_payload
from salesflow_pipelines_tests.defs.daily_graph import WAREHOUSE_TABLES, materialize, warehouse_table, warehouse_tables

START, END = date(2026, 10, 1), date(2026, 10, 30)
DEMO = DemoData(orders_per_day=40)


def independent_daily_totals(sales: list[dict]) -> pd.DataFrame:
    """DESIGN.md section 3 written out plainly over SaleResponse JSON, one sale at a time."""
    days: dict[str, dict] = defaultdict(
        lambda: {"revenue": 0.0, "orders": set(), "units": 0.0, "customers": set(), "refunded_amount": 0.0}
    )
    seen: set[int] = set()
    for sale in sales:
        if sale["id"] in seen:
            continue
        seen.add(sale["id"])
        day = days[sale["saleDate"][:10]]
        status = (sale.get("status") or "COMPLETED").strip().upper()
        for item in sale["items"]:
            quantity, price = item["quantity"], item["unitPrice"]
            discount = item.get("discount") or 0.0
            if not (quantity > 0 and math.isfinite(price) and price >= 0 and 0 <= discount <= 1):
                continue
            revenue = quantity * price * (1 - discount)
            if status == "COMPLETED":
                day["revenue"] += revenue
                day["units"] += quantity
                day["orders"].add(sale["id"])
                if sale.get("customerId") is not None:
                    day["customers"].add(sale["customerId"])
            elif status == "REFUNDED":
                day["refunded_amount"] += revenue
    return pd.DataFrame(
        [
            {
                "sale_date": pd.Timestamp(day),
                "revenue": totals["revenue"],
                "orders": len(totals["orders"]),
                "units": totals["units"],
                "unique_customers": len(totals["customers"]),
                "refunded_amount": totals["refunded_amount"],
            }
            for day, totals in sorted(days.items())
        ]
    )


@pytest.mark.parametrize("extensions", [True, False], ids=["with-extensions", "stock-backend-only"])
def test_month_from_flaky_server_matches_source_to_the_cent(extensions, fresh_schema, tmp_path):
    with StandinServer(DEMO, extensions=extensions, today=date(2026, 11, 5), token_ttl_seconds=2) as server:
        server.fail_next(2)
        result = materialize(server, fresh_schema, str(tmp_path / "frames"), START, END)
        assert result.success
        assert server.request_counts["POST /auth/login"] >= 1
        if extensions:
            assert server.request_counts["GET /sales/range"] >= 1
        else:
            assert server.request_counts["GET /sales/history"] >= 1

    expected = independent_daily_totals(sales_to_payload(DEMO.sales_lines(START, END), extensions=extensions))
    actual = warehouse_table(fresh_schema, "daily_sales_kpis").sort_values("sale_date").reset_index(drop=True)
    actual["sale_date"] = pd.to_datetime(actual["sale_date"])
    assert len(actual) == (END - START).days + 1
    merged = actual.merge(expected, on="sale_date", how="left", suffixes=("", "_expected")).fillna(0)
    for column in ("revenue", "units", "refunded_amount"):
        assert (merged[column] - merged[f"{column}_expected"]).abs().max() < 0.006, column
    for column in ("orders", "unique_customers"):
        assert (merged[column] == merged[f"{column}_expected"]).all(), column
    if not extensions:
        assert set(warehouse_table(fresh_schema, "region_daily_sales")["region"]) == {"Unassigned"}
        assert warehouse_table(fresh_schema, "daily_sales_kpis")["unique_customers"].eq(0).all()


def test_rerunning_a_day_changes_nothing(fresh_schema, tmp_path):
    with StandinServer(DEMO, today=date(2026, 11, 5)) as server:
        assert materialize(server, fresh_schema, str(tmp_path), date(2026, 10, 10), date(2026, 10, 16)).success
        before = warehouse_tables(fresh_schema)
        assert materialize(server, fresh_schema, str(tmp_path), date(2026, 10, 13), date(2026, 10, 13)).success
        after = warehouse_tables(fresh_schema)
    for table in WAREHOUSE_TABLES:
        assert len(before[table]) > 0, table
        pd.testing.assert_frame_equal(before[table], after[table], obj=table)
