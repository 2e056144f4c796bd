#!/usr/bin/env bash
# Creates the virtualenv (Python 3.11 or 3.12) and installs the project into it, editable; extras as
# arguments, e.g. `dev`.
#
# By default every dependency gets the version pinned in requirements.lock (pip constraints: the lock
# decides versions, pyproject.toml's ranges stay as they are for library users), into .venv; an
# existing .venv is brought to the lock, downgrades included. SALESFLOW_DEPS=newest installs the newest
# versions pyproject.toml's ranges allow instead, into .venv-newest (`bash scripts/test.sh --newest`).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${SALESFLOW_DEPS:-locked}" in
  locked) venv=.venv pins=(--constraint requirements.lock) ;;
  newest) venv=.venv-newest pins=(--upgrade --upgrade-strategy eager) ;;
  *) echo "ERROR: SALESFLOW_DEPS is '$SALESFLOW_DEPS'; use locked (the default) or newest." >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
target=.
if [ -n "${1:-}" ]; then
  target=".[$1]"
fi
# Quiet: pip prints errors and warnings only, minus "WARNING: Location '…' is ignored" (a configured
# extra index that does not carry a package), which says nothing about this install.
{ "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" --editable "$target" 2>&1 1>&3 3>&- \
  | { grep -v "^WARNING: Location '.*' is ignored" || true; } >&2; } 3>&1
