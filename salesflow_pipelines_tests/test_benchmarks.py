"""Every benchmark runs in its quick mode and prints its figure (no timing is asserted).

The scripts are found by name, so a new `benchmarks/bench_*.py` is run here without a line of
this file; it fails until its figure line is listed in `FIGURES`.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
NUMBER = r"[\d,.]+"
FIGURES = {
    "bench_anomalies.py": [rf"anomaly pass: 30 days x {NUMBER} series in {NUMBER} s"],
    "bench_api.py": [rf"analytics routes: {NUMBER} clients, p50 {NUMBER} ms, p95 {NUMBER} ms, {NUMBER} requests/s"],
    "bench_backfill.py": [
        rf"SQLite warehouse: 7 days .* in one run: {NUMBER} s, peak RSS {NUMBER} MB",
        rf"events stored: {NUMBER} \({NUMBER} materializations\) in {NUMBER} s, {NUMBER} ms/event",
        r"every day of all \d+ assets shown materialized",
        rf"backfill / compute floor: {NUMBER} s / {NUMBER} s = {NUMBER}x",
    ],
    "bench_daily_run.py": [rf"daily run: (in-process|multiprocess) executor is fastest, {NUMBER} s"],
    "bench_forecast.py": [r"auto -> \w+", r"seasonal_naive"],
    "bench_import.py": [rf"import: 2,000 rows in {NUMBER}s \({NUMBER} rows/s\), peak RSS {NUMBER} MiB"],
    "bench_ingestion.py": [
        rf"/sales/range: {NUMBER} sales, {NUMBER} lines in {NUMBER} s .* JSON decoding {NUMBER}% of it",
        rf"/sales/history: {NUMBER} sales, {NUMBER} lines in {NUMBER} s .* JSON decoding {NUMBER}% of it",
    ],
    "bench_pipeline.py": [rf"cleaning \+ KPIs: {NUMBER} lines/s", rf"peak RSS: {NUMBER} MB"],
    "bench_ui_backfill.py": [
        rf"ui backfill: 3 days, {NUMBER} assets, {NUMBER} runs, {NUMBER} s",
        r"executors: in-process;",
    ],
    "bench_warehouse.py": [rf"warehouse writes: {NUMBER} rows/s"],
}


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("bench_*.py")), ids=lambda path: path.name)
def test_benchmark_runs_in_quick_mode_and_prints_its_figure(script: Path):
    assert script.name in FIGURES, f"list the figure line {script.name} prints in FIGURES"
    completed = subprocess.run(
        [sys.executable, str(script), "--quick"],
        cwd=BENCHMARKS.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    for figure in FIGURES[script.name]:
        assert re.search(figure, completed.stdout), f"{figure!r} not in:\n{completed.stdout[-3000:]}"
