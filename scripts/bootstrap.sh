#!/usr/bin/env bash
# Installs everything the project needs into the checkout: a Python virtualenv (.venv) with the
# package and its dev tools, and the npm packages (Hardhat, solc, OpenZeppelin, Anvil, and a
# Node 22 binary, since the machine's Node 20 is too old for Hardhat 3). Idempotent.
# --with-ipfs-daemon also installs js-ipfs (tools/ipfs-daemon), the IPFS daemon the tests run;
# --with-browser installs Debian's chromium (apt, as root), the browser the page tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # Locked versions first, then the project itself (editable) without resolving anything again.
  .venv/bin/python -m pip install --quiet -r requirements.lock
  .venv/bin/python -m pip install --quiet --no-deps -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

lock=node_modules/.installed-$(sha1sum package-lock.json | cut -c1-12)
if [ ! -f "$lock" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$lock"
fi

with_ipfs=false
with_browser=false
for arg in "$@"; do
  case "$arg" in
    --with-ipfs-daemon) with_ipfs=true ;;
    --with-browser) with_browser=true ;;
  esac
done

if $with_ipfs; then
  ipfs_lock=tools/ipfs-daemon/node_modules/.installed-$(sha1sum tools/ipfs-daemon/package-lock.json | cut -c1-12)
  if [ ! -f "$ipfs_lock" ]; then
    npm ci --prefix tools/ipfs-daemon --no-audit --no-fund --loglevel=error
    touch "$ipfs_lock"
  fi
fi

# A CJK font too: without one, the zh-CN page (and its screenshot) renders boxes instead of characters.
if $with_browser && { ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; }; then
  # Playwright's own browser download cannot reach its CDN here: the tests drive Debian's chromium.
  if [ "$(id -u)" != 0 ]; then
    echo "chromium or a CJK font is missing: run 'apt-get install chromium fonts-wqy-microhei' as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
fi
