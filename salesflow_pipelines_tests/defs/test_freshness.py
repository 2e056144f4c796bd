"""Freshness policies and the no-gap check: a day that never ran shows in the UI."""

import dagster as dg

from salesflow_pipelines.definitions import defs
from salesflow_pipelines.defs.freshness import no_gap_in_dates


def test_a_day_missing_between_materialized_days_fails_the_check():
    with dg.instance_for_test() as instance:
        for day in ("2026-11-01", "2026-11-02", "2026-11-05"):
            instance.report_runless_asset_event(dg.AssetMaterialization("daily_sales_kpis", partition=day))
        result = no_gap_in_dates(dg.build_asset_check_context(instance=instance))
        assert not result.passed
        assert result.metadata["missing_days"].value == 2
        assert "2026-11-03, 2026-11-04" in result.description
        instance.report_runless_asset_event(dg.AssetMaterialization("daily_sales_kpis", partition="2026-11-03"))
        instance.report_runless_asset_event(dg.AssetMaterialization("daily_sales_kpis", partition="2026-11-04"))
        assert no_gap_in_dates(dg.build_asset_check_context(instance=instance)).passed


def test_the_daily_tables_the_forecast_and_the_reports_carry_freshness_policies():
    graph = defs.get_repository_def().asset_graph
    for asset, policy_type in (
        ("daily_sales_kpis", "CronFreshnessPolicy"),
        ("sales_lines", "CronFreshnessPolicy"),
        ("stock_alerts", "CronFreshnessPolicy"),
        ("sales_forecast", "TimeWindowFreshnessPolicy"),
        ("weekly_sales_report_pdf", "CronFreshnessPolicy"),
        ("monthly_sales_report_xlsx", "CronFreshnessPolicy"),
    ):
        assert type(graph.get(dg.AssetKey(asset)).freshness_policy).__name__ == policy_type, asset
