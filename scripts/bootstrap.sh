#!/usr/bin/env bash
# Installs everything the project needs into the checkout: a Python virtualenv (.venv) with the
# package and its dev tools, and the npm packages (Hardhat, solc, OpenZeppelin, Anvil, and a
# Node 22 binary, since the machine's Node 20 is too old for Hardhat 3). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

lock=node_modules/.installed-$(sha1sum package-lock.json | cut -c1-12)
if [ ! -f "$lock" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$lock"
fi
