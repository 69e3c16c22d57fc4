#!/usr/bin/env bash
# Runs the service on embedded defaults (local Anvil keeping its state in data/, local block store,
# SQLite), installing what it needs first. Extra arguments go to `twinmark serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/twinmark serve "$@"
