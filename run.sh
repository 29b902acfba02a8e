#!/usr/bin/env bash
# ClassLab's two commands. Each one first runs the idempotent set-up
# (scripts/setup.sh: venv, pinned packages, mongod's libssl1.1, chromium).
#
#   ./run.sh main [--headless] [--mnist-dir DIR] [...]   the main job (see README)
#   ./run.sh test [pytest args]                           the test suite
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${CLASSLAB_VENV:-$ROOT/.venv}"
cmd="${1:-}"; shift || true

export FIFTYONE_DO_NOT_TRACK="${FIFTYONE_DO_NOT_TRACK:-true}"
export FIFTYONE_DATABASE_VALIDATION="${FIFTYONE_DATABASE_VALIDATION:-false}"
export NO_ALBUMENTATIONS_UPDATE=1
export PYTHONUNBUFFERED=1

case "$cmd" in
  test)
    bash "$ROOT/scripts/setup.sh"
    cd "$ROOT"
    exec "$VENV/bin/python" -m pytest -m "not slow and not gpu" "$@"
    ;;
  main)
    bash "$ROOT/scripts/setup.sh"
    cd "$ROOT"
    exec "$VENV/bin/python" -m classlab "$@"
    ;;
  setup)
    exec bash "$ROOT/scripts/setup.sh"
    ;;
  *)
    echo "usage: ./run.sh main [--headless] [--mnist-dir DIR] ... | ./run.sh test [pytest args] | ./run.sh setup" >&2
    exit 2
    ;;
esac
