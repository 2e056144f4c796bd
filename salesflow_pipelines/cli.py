"""`salesflow`: the command line around the code location.

salesflow demo [--days 30]     materialize the last N days on the embedded demo data (KPIs,
                               anomalies, stock alerts), forecast the next days, then render
                               the weekly and monthly reports of those days
salesflow standin [--port N]   serve the demo data over the Java API contract
salesflow api [--host H] [--port N]  serve the read API (/api/v1, for the React frontend) and the
                               dashboard (/) over the warehouse; needs JAVA_JWT_SECRET
salesflow reports latest [--open]  print (and open) the newest report of each kind
salesflow warehouse grant-reader   create or correct the read-only role `salesflow_reader`
                                   (SELECT on schema analytics only; password from
                                   SALESFLOW_READER_PASSWORD); takes TEMPORARY and CONNECT on the
                                   warehouse database from PUBLIC (roles using it keep CONNECT);
                                   prints what the role can still do and why
  [--lock-cluster]                 also take CONNECT on the cluster's other databases from PUBLIC
                                   (only on a cluster the deployment owns)
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

DEMO_DAYS = 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="salesflow", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="materialize the last N days of the whole graph on demo data")
    demo.add_argument("--days", type=int, default=DEMO_DAYS, help="how many days, ending yesterday (default 30)")
    demo.add_argument("--end", type=date.fromisoformat, help="last day (ISO date; default yesterday)")
    commands.add_parser("standin", help="run the stand-in Java API server", add_help=False)
    api = commands.add_parser("api", help="serve the read API and the dashboard over the warehouse")
    api.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=8081, help="port (default 8081, the legacy service's)")
    api.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    api.add_argument("--no-access-log", action="store_true", help="do not log every request")
    reports = commands.add_parser("reports", help="report files").add_subparsers(dest="reports_command", required=True)
    latest = reports.add_parser("latest", help="print the newest report of each kind (weekly/monthly, PDF/Excel)")
    latest.add_argument("--open", action="store_true", help="also open them with the desktop's default application")
    warehouse = commands.add_parser("warehouse", help="the PostgreSQL warehouse").add_subparsers(
        dest="warehouse_command", required=True
    )
    grant = warehouse.add_parser(
        "grant-reader", help="create or correct the read-only role for downstream readers (idempotent)"
    )
    grant.add_argument("--role", default="salesflow_reader", help="role name (default salesflow_reader)")
    grant.add_argument("--url", help="warehouse URL (default SALESFLOW_WAREHOUSE_URL); run as the warehouse writer")
    grant.add_argument(
        "--lock-cluster",
        action="store_true",
        help="also revoke PUBLIC's CONNECT on the cluster's other databases, so the role cannot connect there "
        "(off by default: on a shared cluster it locks out every role that connects there through PUBLIC)",
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "standin":
        from salesflow_pipelines.dev.standin_server import main as standin_main

        return standin_main(rest) or 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "api":
        from salesflow_pipelines.api.server import serve

        return serve(args.host, args.port, args.workers, access_log=not args.no_access_log)
    if args.command == "reports":
        return latest_reports(open_them=args.open)
    if args.command == "warehouse":
        return grant_reader(args.role, args.url or os.environ.get("SALESFLOW_WAREHOUSE_URL"), args.lock_cluster)
    return run_demo(args.days, args.end or date.today() - timedelta(days=1))


def run_demo(days: int, end: date) -> int:
    """Materialize `days` days ending `end` into the local store and print what was made."""
    data_dir = Path(os.environ.setdefault("SALESFLOW_DATA_DIR", ".salesflow")).resolve()
    os.environ["SALESFLOW_DATA_DIR"] = str(data_dir)
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_dir / "dagster_home")))
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home / "dagster.yaml"
    if not instance_config.exists():
        # The SQLite defaults, said out loud: without the file Dagster prints a notice and, on a
        # new home, its telemetry banner (the repo's own dagster.yaml has telemetry off too).
        instance_config.write_text(
            "# The demo's local instance: SQLite and files in this folder.\ntelemetry:\n  enabled: false\n"
        )

    import dagster as dg

    from salesflow_pipelines.definitions import defs

    start = end - timedelta(days=days - 1)
    print(f"SalesFlow demo: materializing {start}..{end} from the {os.environ.get('SALESFLOW_SOURCE', 'demo')} source")
    with dg.DagsterInstance.get() as instance:
        for job_name, tags in demo_runs(start, end):
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance,
                tags=tags,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},  # the summary says the rest
                raise_on_error=False,
            )
            if not result.success:
                print(f"{job_name} failed; open the run in the UI for the failing step's error.", file=sys.stderr)
                return 1
    print(demo_summary(data_dir, dagster_home))
    print(reports_summary())
    return 0


def demo_runs(start: date, end: date) -> list[tuple[str, dict[str, str]]]:
    """(job, tags) in launch order: the daily graph over the days, their anomalies and stock alerts,
    a forecast from them, then the reports of every week and month that ended within them."""
    from salesflow_pipelines.defs.jobs import daily_sales_job
    from salesflow_pipelines.defs.ml.automation import forecast_job, ml_daily_job
    from salesflow_pipelines.defs.reports.automation import report_runs

    days = partition_range(start.isoformat(), end.isoformat())
    last_day = partition_range(end.isoformat(), end.isoformat())  # the forecast as of the newest day
    runs = [(daily_sales_job.name, days), (ml_daily_job.name, days), (forecast_job.name, last_day)]
    return runs + [(job_name, partition_range(first, last)) for job_name, first, last in report_runs(start, end)]


def partition_range(first_key: str, last_key: str) -> dict[str, str]:
    """Run tags that make one run materialize the partitions first_key..last_key."""
    return {"dagster/asset_partition_range_start": first_key, "dagster/asset_partition_range_end": last_key}


def demo_summary(data_dir: Path, dagster_home: Path) -> str:
    """Rows per warehouse table, rejects by reason, the forecast, anomalies and stock alerts, and
    where to look next."""
    from salesflow_pipelines.definitions import default_warehouse_url
    from salesflow_pipelines.lib import warehouse
    from salesflow_pipelines.lib.warehouse.tables import TABLES

    url = os.environ.get("SALESFLOW_WAREHOUSE_URL") or default_warehouse_url()
    store = warehouse.connect(url)
    tables = {name: store.read(table) for name, table in TABLES.items()}
    lines = ["", f"Warehouse {warehouse.without_password(url)}:"]
    lines += [f"  {name:<24} {len(frame):>8,} rows" for name, frame in tables.items()]
    rejects = tables["sales_rejects"]["reason"].value_counts()
    lines += ["", "Rejected sale lines by reason:"]
    lines += [f"  {reason:<24} {count:>8,}" for reason, count in rejects.items()] or ["  none"]
    lines += ["", "Forecast, anomalies and stock alerts:", *ml_summary(tables)]
    lines += [
        "",
        f"Parquet frames: {data_dir / 'frames'}",
        "Open the UI on these runs with:",
        f"  {ui_command(data_dir, dagster_home)}",
    ]
    return "\n".join(lines)


def ui_command(data_dir: Path, dagster_home: Path) -> str:
    """`dagster dev` as it must be typed here: bare in a checkout's root on the default store (the
    root dagster.yaml is that instance), else with the store's locations; the venv's own binary."""
    dagster = Path(sys.executable).with_name("dagster")
    if data_dir == Path.cwd() / ".salesflow" and (Path.cwd() / "dagster.yaml").exists():
        return f"{dagster} dev"
    return f"DAGSTER_HOME={dagster_home} SALESFLOW_DATA_DIR={data_dir} {dagster} dev -m salesflow_pipelines.definitions"


def ml_summary(tables: dict) -> list[str]:
    """One line each: the forecast's headline, anomalies by severity, the last day's stock alerts."""
    severities = tables["sales_anomalies"]["severity"].value_counts()
    alerts = tables["stock_alerts"]
    last_day = alerts[alerts["snapshot_date"] == alerts["snapshot_date"].max()]
    stock = f"{_counts(last_day['status'].value_counts())} on {last_day['snapshot_date'].iloc[0]:%Y-%m-%d}"
    return [
        f"  forecast    {forecast_headline(tables['sales_forecast_summary'], tables['sales_forecast'])}",
        f"  anomalies   {_counts(severities)} (HIGH ones are emailed by high_anomaly_sensor)",
        f"  stock       {stock if len(last_day) else 'no product LOW or OUT'}",
    ]


def forecast_headline(summary, forecast) -> str:
    """`next 14 days from 2026-11-23: 329,724.81 in total, trend stable, model …, backtest MAPE 19.0%`."""
    import pandas as pd

    if summary.empty:
        return "not made yet (forecast_job has not run)"
    latest = summary.sort_values("as_of_date").iloc[-1]  # the newest as-of day's forecast
    first_day = forecast.loc[forecast["as_of_date"] == latest["as_of_date"], "forecast_date"].min()
    scored = "" if pd.isna(latest["backtest_mape"]) else f", backtest MAPE {latest['backtest_mape']:.1f}%"
    return (
        f"next {latest['horizon_days']} days from {first_day:%Y-%m-%d}: "
        f"{latest['total']:,.2f} in total, trend {latest['trend']}, model {latest['model']}{scored}"
    )


def _counts(counts) -> str:
    return ", ".join(f"{count:,} {name}" for name, count in counts.items()) or "none"


def grant_reader(role: str, url: str | None, lock_cluster: bool = False) -> int:
    """`salesflow warehouse grant-reader`: the read-only role on the PostgreSQL warehouse."""
    from salesflow_pipelines.lib.warehouse import WarehouseError, without_password
    from salesflow_pipelines.lib.warehouse.roles import grant_reader as grant

    if not url:
        print("Set SALESFLOW_WAREHOUSE_URL (postgresql://…) or pass --url.", file=sys.stderr)
        return 2
    try:
        # The password comes from the environment, never the command line (shell history, `ps`).
        granted = grant(
            url, role=role, password=os.environ.get("SALESFLOW_READER_PASSWORD") or None, lock_cluster=lock_cluster
        )
    except WarehouseError as error:
        print(f"grant-reader failed: {error}", file=sys.stderr)
        return 1
    print(
        f"Role {granted.role} {'created' if granted.created else 'checked'} on {without_password(url)}: "
        f"SELECT on schema analytics ({len(granted.tables)} tables now, later tables too), no write, "
        "no other schema."
    )
    if granted.password_set:
        print("Password set from SALESFLOW_READER_PASSWORD.")
    for database, roles in granted.connect_kept.items():
        kept = "CONNECT and TEMPORARY" if database == granted.database else "CONNECT"
        print(f"PUBLIC's {kept} on {database} revoked; the roles using it keep their own: {', '.join(roles)}.")
    if granted.create_kept:
        print(f"PUBLIC's CREATE on schema public revoked; kept for: {', '.join(granted.create_kept)}.")
    if granted.locked:
        print(f"PUBLIC's CONNECT revoked on the other databases {', '.join(granted.locked)}.")
    print(f"What {granted.role} can still do, and why:")
    for line in granted.remaining:
        print(f"  - {line}")
    return 0


def reports_dir() -> Path:
    from salesflow_pipelines.defs.resources import default_reports_dir

    return Path(os.environ.get("SALESFLOW_REPORTS_DIR") or default_reports_dir()).resolve()


def reports_summary() -> str:
    """The newest report file of each kind, one line each."""
    from salesflow_pipelines.lib.reports.files import newest_reports

    newest = newest_reports(reports_dir())
    if not newest:
        return f"No reports in {reports_dir()} yet (the weekly and monthly report jobs write them)."
    lines = [f"Newest reports in {reports_dir()}:"]
    for (kind, extension), path in newest.items():
        lines.append(f"  {kind:<8} {extension:<5} {path}  ({path.stat().st_size / 1024:,.0f} KiB)")
    return "\n".join(lines)


def latest_reports(open_them: bool) -> int:
    """`salesflow reports latest`: print the newest reports; with --open, open each of them."""
    from salesflow_pipelines.lib.reports.files import newest_reports

    print(reports_summary())
    newest = newest_reports(reports_dir())
    if open_them:
        for path in newest.values():
            open_with_default_application(path)
    return 0 if newest else 1


def open_with_default_application(path: Path) -> None:
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]
        return
    import subprocess

    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        print(f"cannot open {path}: `{opener}` is not installed", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
