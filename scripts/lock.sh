#!/usr/bin/env bash
# Re-resolves requirements.lock, the exact versions scripts/setup.sh installs (as pip constraints) and
# CI tests with, from pyproject.toml's ranges with the dev extras, for Python 3.11 on every platform.
#
#   bash scripts/lock.sh                                   after editing pyproject.toml: pins what changed, keeps the rest
#   bash scripts/lock.sh --upgrade                         every package to the newest version the ranges allow
#   bash scripts/lock.sh --upgrade-package scikit-learn    just that one (repeatable)
#
# Then run `bash scripts/test.sh` (it installs the new pins into .venv) and commit requirements.lock
# with the change. `bash scripts/test.sh --newest` tries the newest versions without touching the lock.
# The resolver is uv (pip install uv, pinned below), kept in .venv-lock; the lock itself needs only pip.
set -euo pipefail
cd "$(dirname "$0")/.."
uv_version=0.13.9
tools=.venv-lock
if [ ! -x "$tools/bin/uv" ] || [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" != "$uv_version" ]; then
  "${PYTHON:-python3}" -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet --quiet --disable-pip-version-check "uv==$uv_version"
fi
exec "$tools/bin/uv" pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
  --output-file requirements.lock --custom-compile-command "bash scripts/lock.sh" --quiet "$@"
