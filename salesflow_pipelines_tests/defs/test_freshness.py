"""Freshness checks and the no-gap check: a day that never ran shows in the UI."""

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


def test_every_daily_table_the_forecast_and_the_reports_have_a_freshness_check_and_a_sensor():
    repository = defs.get_repository_def()
    checked = {key.asset_key.to_user_string() for key in repository.asset_graph.asset_check_keys}
    for asset in ("daily_sales_kpis", "stock_alerts", "sales_forecast", "weekly_sales_report_pdf"):
        assert asset in checked, asset
    assert repository.get_sensor_def("freshness_checks_sensor").default_status == dg.DefaultSensorStatus.RUNNING
