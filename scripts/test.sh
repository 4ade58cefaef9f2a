#!/usr/bin/env bash
# Set up (cached) and run the whole test suite. Exit status is pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(./scripts/setup.sh | tail -n 1)
export VIDGEN_MEDIA=${VIDGEN_MEDIA:-$(cd .. && pwd)/shared/media}
"$venv/bin/ruff" check vidgen_dagster tests benchmarks
exec "$venv/bin/python" -m pytest -q "$@"
