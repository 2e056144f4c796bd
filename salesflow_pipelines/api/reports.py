"""Report files: the scheduled ones (list, newest, download) and one rendered on demand.

Scheduled files are those the weekly and monthly report assets wrote under SALESFLOW_REPORTS_DIR
(`weekly/sales-report_2026-W41.pdf`, `monthly/sales-report_2026-09.xlsx`; `format=excel` is the
`.xlsx`). `POST /reports/generate` renders any period from the warehouse with the same model and
renderers as the assets (`lib.reports`), so its numbers are the scheduled reports' numbers.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse

from salesflow_pipelines.api import periods
from salesflow_pipelines.api.auth import authenticated
from salesflow_pipelines.api.common import ApiState, anchor_day, state_of
from salesflow_pipelines.api.periods import DateRange
from salesflow_pipelines.api.schemas import ReportBody, ReportFile, ReportRequest
from salesflow_pipelines.api.store import ReadStore
from salesflow_pipelines.lib.reports.periods import FILE_STEM, PERIOD_KINDS, ReportPeriod
from salesflow_pipelines.lib.warehouse.tables import TABLES

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Depends(authenticated)])

EXTENSIONS = {"pdf": "pdf", "excel": "xlsx", "xlsx": "xlsx"}
FORMATS = {"pdf": "pdf", "xlsx": "excel"}
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FILE_NAME = re.compile(rf"^{FILE_STEM}_(?P<label>\d{{4}}-(?:W\d{{2}}|\d{{2}}))\.(?P<extension>pdf|xlsx)$")
REPORT_TYPES = ("sales", "stock", "combined")
# Rendering is CPU work: a few at once, the rest wait, so reads stay fast meanwhile.
RENDERS = threading.BoundedSemaphore(2)


@dataclass(frozen=True)
class ScheduledReport:
    kind: str
    period: ReportPeriod
    path: Path

    @property
    def extension(self) -> str:
        return self.path.suffix.lstrip(".")

    def describe(self) -> dict:
        stat = self.path.stat()
        return {
            "kind": self.kind,
            "period": self.period.label,
            "title": self.period.title,
            "start_date": self.period.start,
            "end_date": self.period.last_day,
            "format": FORMATS[self.extension],
            "name": self.path.name,
            "size_bytes": stat.st_size,
            "modified_at": datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds"),
            "url": f"/api/v1/reports/files/{self.kind}/{self.path.name}",
        }


def scheduled_reports(reports_dir: Path) -> list[ScheduledReport]:
    """Every weekly and monthly report file, newest period first (monthly before weekly on a tie)."""
    found = []
    for kind in PERIOD_KINDS:
        folder = reports_dir / kind
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = FILE_NAME.match(path.name)
            if match and path.is_file():
                found.append(ScheduledReport(kind, period_of(kind, match["label"]), path))
    return sorted(
        found, key=lambda report: (report.period.end, report.kind == "monthly", report.path.name), reverse=True
    )


def period_of(kind: str, label: str) -> ReportPeriod:
    if kind == "weekly":
        year, week = label.split("-W")
        return ReportPeriod.containing("weekly", date.fromisocalendar(int(year), int(week), 1))
    year, month = label.split("-")
    return ReportPeriod.containing("monthly", date(int(year), int(month), 1))


def _extension(format_: str) -> str:
    extension = EXTENSIONS.get((format_ or "pdf").strip().lower())
    if extension is None:
        raise HTTPException(400, f"Unknown format '{format_}': expected pdf or excel")
    return extension


@router.get("/files", response_model=list[ReportFile], summary="Every scheduled report file")
def report_files(request: Request, format: str | None = Query(None, description="pdf or excel")) -> list[dict]:
    """Weekly and monthly report files, newest period first, each with its download URL."""
    reports = scheduled_reports(state_of(request).settings.reports_dir)
    if format:
        extension = _extension(format)
        reports = [report for report in reports if report.extension == extension]
    return [report.describe() for report in reports]


@router.get("/scheduled/latest", summary="The newest scheduled report file")
def latest_report(
    request: Request,
    report_type: str | None = Query(None, description="sales, stock or combined (all are the one report)"),
    format: str = Query("pdf", description="pdf or excel (.xlsx)"),
    kind: str | None = Query(None, description="weekly or monthly; default: the newest period of either"),
) -> FileResponse:
    if report_type and report_type.strip().lower() not in REPORT_TYPES:
        raise HTTPException(400, f"Unknown report_type '{report_type}': expected one of {', '.join(REPORT_TYPES)}")
    if kind and kind not in PERIOD_KINDS:
        raise HTTPException(400, f"Unknown kind '{kind}': expected weekly or monthly")
    extension = _extension(format)
    reports = [
        report
        for report in scheduled_reports(state_of(request).settings.reports_dir)
        if report.extension == extension and (kind is None or report.kind == kind)
    ]
    if not reports:
        raise HTTPException(404, "No scheduled report available yet")
    return _file(reports[0].path)


@router.get("/files/{kind}/{name}", summary="Download one scheduled report file")
def report_file(request: Request, kind: str, name: str) -> FileResponse:
    if kind not in PERIOD_KINDS or not FILE_NAME.match(name):
        raise HTTPException(404, f"No report file {kind}/{name}")
    path = state_of(request).settings.reports_dir / kind / name
    if not path.is_file():
        raise HTTPException(404, f"No report file {kind}/{name}")
    return _file(path)


def _file(path: Path) -> FileResponse:
    extension = path.suffix.lstrip(".")
    return FileResponse(path, media_type=MEDIA_TYPES[extension], filename=path.name)


# -- on demand -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangePeriod(ReportPeriod):
    """A report period of any days (the lib's periods are weeks and months): its previous period
    is the API's (`DateRange.previous`), its name the range's."""

    name: str = periods.CUSTOM

    @classmethod
    def of(cls, span: DateRange) -> RangePeriod:
        return cls("custom", span.start, span.end_exclusive, span.period)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        if self.day_count == 1:
            return self.start.isoformat()
        return f"{self.start.isoformat()}_to_{self.last_day.isoformat()}"

    @property
    def title(self) -> str:
        names = {
            "weekly": "Last 7 days",
            "monthly": "Month to date",
            "quarterly": "Last 90 days",
            "yearly": "Last 365 days",
        }
        if self.day_count == 1:
            return periods.long_day(self.start)
        if self.name in names:
            return f"{names[self.name]} to {periods.long_day(self.last_day)}"
        return f"{periods.long_day(self.start)} – {periods.long_day(self.last_day)}"

    @property
    def noun(self) -> str:
        return "day" if self.day_count == 1 else "period"

    def previous(self) -> RangePeriod:
        return RangePeriod.of(DateRange(self.name, self.start, self.last_day).previous())

    def next(self) -> RangePeriod:
        return RangePeriod("custom", self.end, self.end + timedelta(days=self.day_count), self.name)  # type: ignore[arg-type]


@router.post(
    "/generate",
    summary="Render a report of any period now",
    responses={200: {"content": {MEDIA_TYPES["pdf"]: {}, MEDIA_TYPES["xlsx"]: {}}, "description": "the file"}},
)
def generate_report(request: Request, body: ReportBody) -> Response:  # type: ignore[valid-type]
    """The report (KPIs with the previous period, daily revenue with the forecast, products, regions,
    categories, anomalies, stock alerts, rejects) of the period, as PDF or Excel, from the warehouse."""
    ask: ReportRequest = body.payload
    api = state_of(request)
    span = periods.resolve(
        ask.period,
        ask.start_date.isoformat() if ask.start_date else None,
        ask.end_date.isoformat() if ask.end_date else None,
        anchor_day(api.store),
        api.settings.max_range_days,
    )
    content, extension = render(api, RangePeriod.of(span), ask.format)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    name = f"analytics_{ask.report_type}_{span.period}_{stamp}.{extension}"
    return Response(
        content,
        media_type=MEDIA_TYPES[extension],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def render(api: ApiState, period: RangePeriod, format_: str) -> tuple[bytes, str]:
    from salesflow_pipelines.lib.reports.excel import render_xlsx
    from salesflow_pipelines.lib.reports.model import build_report
    from salesflow_pipelines.lib.reports.pdf import render_pdf

    tables = report_tables(api.store, period)
    with RENDERS:
        report = build_report(
            period,
            **tables,
            days_checked=days_checked(api.store, period),
            currency=api.settings.currency,
        )
        if format_ == "excel":
            return render_xlsx(report).content, "xlsx"
        return render_pdf(report).content, "pdf"


def report_tables(store: ReadStore, period: RangePeriod) -> dict:
    """The tables `build_report` takes, read as the report assets read them (`defs.reports.assets.
    PERIOD_INPUTS`): the period's days; the daily and customer KPIs from the previous period on; the
    forecasts made as of the period's days or the next period's, of which `build_report` shows the one
    `model.newest_forecast` picks; and the scores of the period's forecasts (`forecast_accuracy`,
    which only a monthly report shows)."""
    start, end = period.start, period.end
    window = "WHERE {column} >= %s AND {column} < %s"
    spans = {
        "product_daily_sales": (start, end),
        "region_daily_sales": (start, end),
        "category_daily_sales": (start, end),
        "stock_kpis": (start, end),
        "product_inventory_kpis": (start, end),
        "sales_rejects": (start, end),
        "sales_anomalies": (start, end),
        "stock_alerts": (start, end),
        "forecast_accuracy": (start, end),
        "daily_sales_kpis": (period.previous().start, end),
        "customer_daily_kpis": (period.previous().start, end),
        "sales_forecast": (start, period.next().end),
        "sales_forecast_summary": (start, period.next().end),
    }
    frames = {}
    for name, span in spans.items():
        table = TABLES[name]
        frames[name] = store.frame(table, window.format(column=table.date_column), span)
    return frames


def days_checked(store: ReadStore, period: RangePeriod) -> dict[str, int]:
    """How many of the period's days the anomaly and stock checks ran for. The API does not read
    Dagster's instance, so this counts the days their inputs hold: anomaly detection follows every
    day of `daily_sales_kpis`, the stock alerts every day of `stock_snapshot`."""
    counted = {}
    for table, source, column in (
        ("sales_anomalies", "daily_sales_kpis", "sale_date"),
        ("stock_alerts", "stock_snapshot", "snapshot_date"),
    ):
        counted[table] = int(
            store.value(
                f"SELECT COUNT(DISTINCT {column}) FROM {{{source}}} WHERE {column} >= %s AND {column} < %s",
                (period.start, period.end),
            )
            or 0
        )
    return counted
