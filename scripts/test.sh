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
export DAGSTER_HOME="${DAGSTER_HOME:-$(mktemp -d)}"
.venv/bin/dagster definitions validate -m salesflow_pipelines.definitions
.venv/bin/ruff check salesflow_pipelines salesflow_pipelines_tests benchmarks
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
