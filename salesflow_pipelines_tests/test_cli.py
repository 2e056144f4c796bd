"""The README's main command runs end to end on the embedded default."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def test_salesflow_demo_fills_the_kpi_tables(tmp_path):
    salesflow = Path(sys.executable).with_name("salesflow")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SALESFLOW_", "DAGSTER_", "JAVA_"))}
    completed = subprocess.run(
        [str(salesflow), "demo", "--days", "3", "--end", "2026-11-02"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "daily_sales_kpis" in completed.stdout and "dagster dev" in completed.stdout
    with sqlite3.connect(tmp_path / ".salesflow" / "warehouse.db") as connection:
        days = connection.execute("SELECT sale_date, orders FROM daily_sales_kpis ORDER BY sale_date").fetchall()
    assert [day for day, _ in days] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    assert all(orders > 0 for _, orders in days)
    assert (tmp_path / ".salesflow" / "dagster_home").is_dir()
