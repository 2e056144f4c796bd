#!/usr/bin/env bash
# Installs the project with its dev extras and runs the whole test suite; arguments go to pytest.
# PostgreSQL at 127.0.0.1:5432 (database `test`) is required: this fails, never skips, without it.
#
#   bash scripts/test.sh [-q ...]           the versions of requirements.lock, in .venv (what CI runs)
#   bash scripts/test.sh --newest [-q ...]  the newest versions pyproject.toml allows, in .venv-newest:
#                                           finds dependency drift before a fresh install does
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--newest" ]; then
  shift
  export SALESFLOW_DEPS=newest
fi
case "${SALESFLOW_DEPS:-locked}" in
  newest) venv=.venv-newest ;;
  *) venv=.venv ;;
esac
bash scripts/setup.sh dev
if [ "$venv" = .venv-newest ]; then
  echo "Testing with the newest versions pyproject.toml allows (not requirements.lock); they differ from the lock in:"
  "$venv/bin/python" - <<'PY'
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import Requirement

for line in open("requirements.lock"):
    if line.strip() and not line.startswith((" ", "#")):
        pin = Requirement(line.strip())
        if pin.marker is None or pin.marker.evaluate():
            try:
                installed = version(pin.name)
            except PackageNotFoundError:
                installed = "not installed"
            if not pin.specifier.contains(installed, prereleases=True):
                print(f"  {pin.name} {str(pin.specifier).lstrip('=')} -> {installed}")
PY
fi
pg_url="${SALESFLOW_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}"
if ! "$venv/bin/python" -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=5).close()" "$pg_url"; then
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
"$venv/bin/dagster" definitions validate -m salesflow_pipelines.definitions
"$venv/bin/ruff" check salesflow_pipelines salesflow_pipelines_tests benchmarks
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
