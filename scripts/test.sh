#!/usr/bin/env bash
# Installs the project with its dev extras and runs the whole test suite.
# PostgreSQL at 127.0.0.1:5432 (database `test`) is required: this fails, never skips, without it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
pg_url="${SALESFLOW_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}"
if ! .venv/bin/python -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=5).close()" "$pg_url"; then
  echo "ERROR: PostgreSQL is unreachable at $pg_url; the tests need it (start it or set SALESFLOW_TEST_PG_URL)." >&2
  exit 1
fi
# The end-to-end deployment test screenshots the UI in headless Chromium (Debian's `chromium`).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing chromium for the end-to-end test (apt-get)..."
    apt-get update -qq </dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null >/dev/null
  else
    echo "ERROR: chromium is missing; the end-to-end test needs it (apt-get install chromium)." >&2
    exit 1
  fi
fi
export DAGSTER_HOME="${DAGSTER_HOME:-$(mktemp -d)}"
.venv/bin/dagster definitions validate -m salesflow_pipelines.definitions
.venv/bin/ruff check salesflow_pipelines salesflow_pipelines_tests benchmarks
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
