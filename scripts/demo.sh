#!/usr/bin/env bash
# Set up (cached) and run the embedded default: render sample footage, curate it, export the kept clips
# to <home>/export and write <home>/report/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(./scripts/setup.sh | tail -n 1)
exec "$venv/bin/vidgen" demo "$@"
