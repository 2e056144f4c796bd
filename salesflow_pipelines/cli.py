"""`salesflow`: the command line around the code location.

salesflow demo [--days 30]     materialize the last N days on the embedded demo data
salesflow standin [--port N]   serve the demo data over the Java API contract
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
    args, rest = parser.parse_known_args(argv)
    if args.command == "standin":
        from salesflow_pipelines.lib.standin_server import main as standin_main

        return standin_main(rest) or 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return run_demo(args.days, args.end or date.today() - timedelta(days=1))


def run_demo(days: int, end: date) -> int:
    """Materialize `days` days ending `end` into the local store and print what was made."""
    data_dir = Path(os.environ.setdefault("SALESFLOW_DATA_DIR", ".salesflow")).resolve()
    os.environ["SALESFLOW_DATA_DIR"] = str(data_dir)
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_dir / "dagster_home")))
    dagster_home.mkdir(parents=True, exist_ok=True)

    import dagster as dg

    from salesflow_pipelines.definitions import defs

    start = end - timedelta(days=days - 1)
    print(f"SalesFlow demo: materializing {start}..{end} from the {os.environ.get('SALESFLOW_SOURCE', 'demo')} source")
    with dg.DagsterInstance.get() as instance:
        for job_name in DEMO_JOBS:
            result = defs.get_job_def(job_name).execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": start.isoformat(),
                    "dagster/asset_partition_range_end": end.isoformat(),
                },
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                raise_on_error=False,
            )
            if not result.success:
                print(f"{job_name} failed; open the run in the UI for the failing step's error.", file=sys.stderr)
                return 1
    print(demo_summary(data_dir, dagster_home))
    return 0


DEMO_JOBS = ("daily_sales_job",)


def demo_summary(data_dir: Path, dagster_home: Path) -> str:
    """Rows per warehouse table, rejects by reason, and where to look next."""
    from salesflow_pipelines.definitions import default_warehouse_url
    from salesflow_pipelines.lib import warehouse
    from salesflow_pipelines.lib.tables import TABLES

    url = os.environ.get("SALESFLOW_WAREHOUSE_URL") or default_warehouse_url()
    store = warehouse.connect(url)
    tables = {name: store.read(table) for name, table in TABLES.items()}
    lines = ["", f"Warehouse {warehouse.without_password(url)}:"]
    lines += [f"  {name:<24} {len(frame):>8,} rows" for name, frame in tables.items()]
    rejects = tables["sales_rejects"]["reason"].value_counts()
    lines += ["", "Rejected sale lines by reason:"]
    lines += [f"  {reason:<24} {count:>8,}" for reason, count in rejects.items()] or ["  none"]
    lines += [
        "",
        f"Parquet frames: {data_dir / 'frames'}",
        "Open the UI on these runs with:",
        f"  DAGSTER_HOME={dagster_home} SALESFLOW_DATA_DIR={data_dir} dagster dev -m salesflow_pipelines.definitions",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
