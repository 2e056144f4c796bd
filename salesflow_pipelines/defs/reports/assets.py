"""Report files: a PDF and a workbook per week (Monday to Sunday) and per calendar month.

One multi-asset per period kind, keyed `weekly_sales_report_pdf`, `weekly_sales_report_xlsx`,
`monthly_sales_report_pdf`, `monthly_sales_report_xlsx`: an asset has one partitions definition,
so weekly and monthly files are different assets; within a kind the PDF and the workbook share
one step that gathers the period once, so both files always show the same numbers. They can
still be materialized apart (the multi-asset is subsettable).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from salesflow_pipelines.defs.automation import rerenders_after_corrections
from salesflow_pipelines.defs.partitions import DEFAULT_START_DATE, daily_partitions, single_run
from salesflow_pipelines.defs.resources import ReportStore
from salesflow_pipelines.lib.reports import files
from salesflow_pipelines.lib.reports.excel import render_xlsx
from salesflow_pipelines.lib.reports.model import CHECKED_TABLES, SalesReport, build_report
from salesflow_pipelines.lib.reports.pdf import render_pdf
from salesflow_pipelines.lib.reports.periods import PeriodKind, ReportPeriod

START_DATE = daily_partitions.start.strftime("%Y-%m-%d") if daily_partitions.start else DEFAULT_START_DATE
TIMEZONE = daily_partitions.timezone

weekly_partitions = dg.WeeklyPartitionsDefinition(start_date=START_DATE, day_offset=1, timezone=TIMEZONE)
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=START_DATE, timezone=TIMEZONE)
PARTITIONS: dict[PeriodKind, dg.TimeWindowPartitionsDefinition] = {
    "weekly": weekly_partitions,
    "monthly": monthly_partitions,
}

# A week or month reads its own days; the daily KPIs also the period before, for the change.
THE_PERIOD = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)
WITH_PREVIOUS_PERIOD = dg.TimeWindowPartitionMapping(start_offset=-1, allow_nonexistent_upstream_partitions=True)
# The forecasts made as of the period's days or the next period's: the report shows the one made as of
# its last day, else the first made after it (`model.newest_forecast`).
WITH_NEXT_PERIOD = dg.TimeWindowPartitionMapping(end_offset=1, allow_nonexistent_upstream_partitions=True)
# Warehouse tables the report reads, by the name `build_report` takes them under, with the mapping
# from a week or month to the upstream's partitions.
PERIOD_INPUTS: dict[str, dg.PartitionMapping | None] = {
    "daily_sales_kpis": WITH_PREVIOUS_PERIOD,
    "product_daily_sales": THE_PERIOD,
    "region_daily_sales": THE_PERIOD,
    "category_daily_sales": THE_PERIOD,
    "customer_daily_kpis": WITH_PREVIOUS_PERIOD,
    "stock_kpis": THE_PERIOD,
    "product_inventory_kpis": THE_PERIOD,
    "sales_rejects": THE_PERIOD,
    "sales_anomalies": THE_PERIOD,
    "stock_alerts": THE_PERIOD,
    "sales_forecast": WITH_NEXT_PERIOD,
    "sales_forecast_summary": WITH_NEXT_PERIOD,
}
# What only the monthly report reads: how good the forecasts of the month's days were.
MONTHLY_INPUTS: dict[str, dg.PartitionMapping | None] = {"forecast_accuracy": THE_PERIOD}


def period_inputs(kind: PeriodKind) -> dict[str, dg.PartitionMapping | None]:
    return PERIOD_INPUTS | (MONTHLY_INPUTS if kind == "monthly" else {})


FORMATS = {"pdf": "sales_report_pdf", "xlsx": "sales_report_xlsx"}


def report_key(kind: PeriodKind, extension: str) -> dg.AssetKey:
    """`weekly_sales_report_pdf`: the period kind is in the name, so the graph tells the files apart."""
    return dg.AssetKey(f"{kind}_{FORMATS[extension]}")


def report_specs(kind: PeriodKind) -> list[dg.AssetSpec]:
    deps = [dg.AssetDep(name, partition_mapping=mapping) for name, mapping in period_inputs(kind).items()]
    noun = "week (Monday to Sunday)" if kind == "weekly" else "calendar month"
    example = ReportPeriod.containing(kind, date(2026, 11, 16))
    descriptions = {
        "pdf": (
            f"The printable sales report of each {noun}: KPI summary with the change against the previous "
            "period, daily revenue with the latest forecast and its 80% interval, top products, regions, "
            "categories, margins by category and the highest and lowest product margins, new and returning "
            "customers, stock health (ABC split, turnover, slow movers, dead stock, lost sales), MEDIUM/HIGH "
            "anomalies with their explanation, LOW/OUT stock alerts and stockout risks with a suggested reorder, "
            f"{'how good the forecasts of its days were (by days ahead), ' if kind == 'monthly' else ''}"
            f"and rejected lines. One file per period, e.g. `{kind}/{example.file_name('pdf')}`."
        ),
        "xlsx": (
            f"The sales workbook of each {noun}: sheets Summary (with charts), Daily, Products, Regions, "
            "Categories, Margins, Product margins, Stock health, Customers, Forecast, "
            f"{'Forecast accuracy, ' if kind == 'monthly' else ''}Anomalies, Stock and "
            f"Rejects, with typed cells. One file per period, e.g. `{kind}/{example.file_name('xlsx')}`."
        ),
    }
    return [
        dg.AssetSpec(
            report_key(kind, extension),
            description=f"{descriptions[extension]} Files live under SALESFLOW_REPORTS_DIR.",
            group_name="reports",
            kinds={"pdf"} if extension == "pdf" else {"excel"},
            deps=deps,
            automation_condition=rerenders_after_corrections,
        )
        for extension in FORMATS
    ]


def build_report_assets(kind: PeriodKind) -> dg.AssetsDefinition:
    """The PDF and workbook assets of one period kind."""

    @dg.multi_asset(
        name=f"{kind}_sales_report",
        specs=report_specs(kind),
        ins={name: dg.AssetIn(name) for name in period_inputs(kind)},
        partitions_def=PARTITIONS[kind],
        backfill_policy=single_run,
        can_subset=True,
    )
    def sales_report(context: dg.AssetExecutionContext, report_store: ReportStore, **tables: pd.DataFrame):
        generated_at = datetime.now(ZoneInfo(TIMEZONE)).replace(tzinfo=None)
        for partition_key in context.partition_keys:
            period = ReportPeriod.from_partition_key(kind, partition_key)
            report = build_report(
                period,
                **tables,
                days_checked=days_checked(context.instance, period),
                generated_at=generated_at,
                currency=report_store.currency,
            )
            for extension in FORMATS:
                key = report_key(kind, extension)
                if key in context.selected_asset_keys:
                    metadata = write_report(report, extension, report_store)
                    context.log.info(f"{period.label}: wrote {metadata['path'].value} ({metadata['size_bytes']} bytes)")
                    context.add_asset_metadata(metadata, asset_key=key, partition_key=partition_key)
        for key in sorted(context.selected_asset_keys):
            yield dg.MaterializeResult(asset_key=key)

    return sales_report


def days_checked(instance: dg.DagsterInstance, period: ReportPeriod) -> dict[str, int]:
    """How many of the period's days each daily ML table (anomalies, stock alerts) was materialized
    for: an empty section then says "not run yet" rather than "none found"."""
    days = [day.isoformat() for day in period.days]
    counts = {}
    for table in CHECKED_TABLES:
        status = instance.get_status_by_partition(dg.AssetKey(table), days, daily_partitions) or {}
        counts[table] = sum(value == dg.AssetPartitionStatus.MATERIALIZED for value in status.values())
    return counts


def write_report(report: SalesReport, extension: str, report_store: ReportStore) -> dict:
    """Render one format, publish it atomically, and describe it for the UI."""
    if extension == "pdf":
        rendered = render_pdf(report)
        content, count = rendered.content, {"pages": rendered.pages}
    else:
        rendered = render_xlsx(report)
        content, count = rendered.content, {"sheets": rendered.sheets}
    published = files.publish(report_store.directory(), report.period, extension, content)
    metadata = {
        "path": dg.MetadataValue.path(str(published.path)),
        "link": dg.MetadataValue.url(published.path.as_uri()),
        "size_bytes": published.size_bytes,
        **count,
        "period": report.period.label,
        "revenue": report.revenue,
        "orders": report.orders,
        "days_with_data": report.days_with_data,
        "has_sales": report.has_sales,
    }
    if published.latest is not None:
        metadata["latest_copy"] = dg.MetadataValue.path(str(published.latest))
    return metadata


weekly_sales_report = build_report_assets("weekly")
monthly_sales_report = build_report_assets("monthly")
