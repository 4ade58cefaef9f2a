#!/usr/bin/env bash
# Create (or reuse) the project venv and install vidgen-dagster with its dev extra.
# The venv lives outside the clone, keyed by a hash of pyproject.toml, so a repeat run installs nothing.
# Prints the venv path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
key=$(sha256sum pyproject.toml | cut -c1-16)
cache=${VIDGEN_VENV_CACHE:-$HOME/.cache/vidgen-dagster}
venv="$cache/venv-$key"
if [ ! -f "$venv/.complete" ]; then
  echo "setting up $venv (first run: torch and friends, a few minutes)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$PY" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  # torch first and alone: pip then takes the local 2.14.1 wheels instead of resolving the world.
  "$venv/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1" >&2
  "$venv/bin/pip" install -q -e ".[dev]" >&2
  touch "$venv/.complete"
else
  # Same pyproject: only (re)link this checkout into the venv, no downloads.
  "$venv/bin/pip" install -q --no-deps --no-build-isolation -e . >&2
fi
echo "$venv"
