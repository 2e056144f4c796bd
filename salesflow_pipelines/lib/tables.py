"""The warehouse table contract (DESIGN.md section 4): names, columns, types, keys.

Downstream readers (BI tools, the frontend) rely on these; change them only on purpose.
Column types are logical: `date`, `timestamp`, `int`, `float`, `text`.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = "analytics"


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str]
    primary_key: tuple[str, ...]
    date_column: str | None
    description: str

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)


def _table(
    table_name: str, date_column: str | None, primary_key: tuple[str, ...], description: str, **columns: str
) -> Table:
    return Table(table_name, columns, primary_key, date_column, description)


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        _table(
            "daily_sales_kpis",
            "sale_date",
            ("sale_date",),
            "One row per day: revenue, orders, units, average order value, customers, refunds.",
            sale_date="date",
            revenue="float",
            orders="int",
            units="float",
            avg_order_value="float",
            unique_customers="int",
            refunded_amount="float",
            revenue_growth_pct="float",
        ),
        _table(
            "product_daily_sales",
            "sale_date",
            ("sale_date", "product_id"),
            "One row per product per day with sales.",
            sale_date="date",
            product_id="int",
            sku="text",
            product_name="text",
            category="text",
            revenue="float",
            units="float",
            orders="int",
        ),
        _table(
            "region_daily_sales",
            "sale_date",
            ("sale_date", "region"),
            "One row per region per day with sales.",
            sale_date="date",
            region="text",
            revenue="float",
            orders="int",
            units="float",
            unique_customers="int",
        ),
        _table(
            "category_daily_sales",
            "sale_date",
            ("sale_date", "category"),
            "One row per category per day with sales.",
            sale_date="date",
            category="text",
            revenue="float",
            units="float",
            discount_rate="float",
        ),
        _table(
            "customer_daily_kpis",
            "sale_date",
            ("sale_date",),
            "One row per day: new and returning identified customers.",
            sale_date="date",
            new_customers="int",
            returning_customers="int",
            repeat_rate="float",
        ),
        _table(
            "stock_snapshot",
            "snapshot_date",
            ("snapshot_date", "product_id"),
            "One row per product per day: stock on hand, value, cover and status.",
            snapshot_date="date",
            product_id="int",
            sku="text",
            name="text",
            category="text",
            stock_quantity="int",
            low_stock_threshold="int",
            unit_price="float",
            cost_price="float",
            stock_value="float",
            days_of_cover="float",
            status="text",
        ),
        _table(
            "stock_kpis",
            "snapshot_date",
            ("snapshot_date",),
            "One row per day: the shop's stock position.",
            snapshot_date="date",
            products="int",
            total_stock_value="float",
            low_stock_products="int",
            out_of_stock_products="int",
            dead_stock_products="int",
            median_days_of_cover="float",
            reorder_suggestions="int",
        ),
        _table(
            "sales_rejects",
            "sale_date",
            (),
            "One row per rejected sale line, with its reason code.",
            sale_date="date",
            sale_id="int",
            line_no="int",
            reason="text",
            detail="text",
        ),
        _table(
            "sales_forecast",
            None,
            (),  # no primary key: product_id is NULL on the all-products rows
            "One row per forecast day, for all products together (product_id NULL) and per product.",
            forecast_date="date",
            product_id="int",
            predicted_revenue="float",
            lower="float",
            upper="float",
            model="text",
            generated_at="timestamp",
        ),
        _table(
            "sales_forecast_summary",
            None,
            (),
            "One row: the latest forecast's trend, total and peak, and every strategy's backtest scores.",
            generated_at="timestamp",
            horizon_days="int",
            trend="text",
            total="float",
            daily_average="float",
            peak_value="float",
            peak_day="date",
            model="text",
            backtest_mape="float",
            backtest_mase="float",
            strategy="text",
            mape_linear="float",
            mase_linear="float",
            mape_random_forest="float",
            mase_random_forest="float",
            mape_gradient_boosting="float",
            mase_gradient_boosting="float",
            mape_seasonal_naive="float",
            mase_seasonal_naive="float",
        ),
        _table(
            "sales_anomalies",
            "sale_date",
            ("anomaly_id",),
            "One row per MEDIUM or HIGH revenue anomaly of a day, with its explanation.",
            anomaly_id="text",
            sale_date="date",
            scope="text",
            scope_key="text",
            metric="text",
            value="float",
            expected="float",
            z_score="float",
            severity="text",
            label="text",
            explanation="text",
            detected_at="timestamp",
        ),
        _table(
            "stock_alerts",
            "snapshot_date",
            ("snapshot_date", "product_id"),
            "One row per product per day that is LOW or OUT: cover and suggested reorder.",
            snapshot_date="date",
            product_id="int",
            sku="text",
            name="text",
            category="text",
            status="text",
            stock_quantity="int",
            reorder_level="int",
            avg_daily_units="float",
            days_of_cover="float",
            suggested_reorder_qty="int",
            lead_time_days="int",
            safety_stock_days="int",
            stock_value="float",
        ),
    )
}
