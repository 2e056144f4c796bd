#!/usr/bin/env bash
# The main job on the embedded default: installs, then materializes the last 30 days of demo data
# into ./.salesflow (SQLite warehouse, Parquet frames, a local Dagster instance).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/salesflow demo "$@"
