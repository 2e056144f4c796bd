"""`salesflow api --host --port`: uvicorn in its own process, configured from the environment;
refuses to start without the JWT secret, and refuses dev mode on a non-loopback address."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from salesflow_pipelines_tests.api.conftest import SECRET, bearer

COMMAND = [sys.executable, "-m", "salesflow_pipelines.cli", "api"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**changes: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SALESFLOW_", "JAVA_"))}
    return env | changes


def test_the_command_serves_the_api_on_the_given_port(filled_warehouse, tmp_path):
    port = free_port()
    env = clean_env(
        JAVA_JWT_SECRET=SECRET,
        SALESFLOW_API_WAREHOUSE_URL=filled_warehouse.reader_url,
        SALESFLOW_REPORTS_DIR=str(filled_warehouse.reports_dir),
        SALESFLOW_IMPORT_INBOX=str(tmp_path / "inbox"),
        SALESFLOW_DATA_DIR=str(tmp_path / "data"),
    )
    process = subprocess.Popen(
        [*COMMAND, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "salesflow api did not answer within 90 s"
            time.sleep(0.3)
        sales = httpx.get(f"http://127.0.0.1:{port}/api/v1/analytics/sales", headers=bearer(), timeout=30)
        assert sales.status_code == 200 and sales.json()["end_date"] == "2026-10-18"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).headers["content-security-policy"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down cleanly, then ends with the signal it was sent (as a shell expects).
    assert process.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in output, output
    assert f"SalesFlow API reading {filled_warehouse.reader_url}" in output  # the API's own log lines show


def test_without_the_jwt_secret_it_does_not_start(tmp_path):
    done = subprocess.run(
        [*COMMAND, "--port", str(free_port())],
        env=clean_env(SALESFLOW_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "JAVA_JWT_SECRET is not set" in done.stderr


def test_dev_mode_is_refused_on_a_public_address(tmp_path):
    done = subprocess.run(
        [*COMMAND, "--host", "0.0.0.0", "--port", str(free_port())],
        env=clean_env(SALESFLOW_API_DEV_MODE="true", SALESFLOW_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "SALESFLOW_API_DEV_MODE" in done.stderr
