#!/usr/bin/env bash
# Installs everything the project needs into the checkout: a Python virtualenv (.venv) with the
# package and its dev tools, and the npm packages (Hardhat, solc, OpenZeppelin, Anvil, and a
# Node 22 binary, since the machine's Node 20 is too old for Hardhat 3). Idempotent.
# --with-ipfs-daemon also installs js-ipfs (tools/ipfs-daemon), the IPFS daemon the tests run;
# --with-browser installs Debian's chromium (apt, as root), the browser the page tests drive.
# --with-prometheus installs Debian's prometheus (apt, as root): the server and promtool the metrics tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# A clean clone (CI) has no .venv or node_modules, but this machine has most likely built the same ones
# before: each is kept once per lock file under TWINMARK_CACHE (default ~/.cache/twinmark; empty: no
# cache) and hard-linked into the checkout, a second or two instead of a minute or more of installing.
# Nothing writes into an installed file in place (pip and npm replace files, Python writes bytecode
# beside them), so a checkout cannot change the cache through the links.
CACHE=${TWINMARK_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/twinmark}
# A cache that cannot be made (a read-only home, no flock) is no cache: install as without one.
if [ -n "$CACHE" ] && ! { command -v flock >/dev/null && mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ]; }; then
  CACHE=""
fi

# link_tree FROM TO: TO becomes a hard-linked copy of FROM (a plain copy across file systems).
link_tree() {
  cp -al "$1" "$2" 2>/dev/null || { rm -rf "$2" && cp -a "$1" "$2"; }
}

# The locked packages in a virtualenv of the cache (built once per lock and interpreter), linked in as
# .venv; its scripts then name this checkout's interpreter.
venv_from_cache() {
  local key cached
  key=$({ command -v "$PYTHON"; "$PYTHON" -VV; cat requirements.lock; } | sha1sum | cut -c1-12)
  cached=$CACHE/venv-$key
  (
    flock 9
    if [ ! -f "$cached/.complete" ]; then
      rm -rf "$cached"
      "$PYTHON" -m venv "$cached"
      "$cached/bin/python" -m pip install --quiet --upgrade pip
      "$cached/bin/python" -m pip install --quiet -r requirements.lock
      touch "$cached/.complete"
    fi
  ) 9>"$CACHE/venv.lock"
  link_tree "$cached" .venv
  rm -f .venv/.complete
  { grep -lI -- "$cached" .venv/bin/* .venv/pyvenv.cfg || true; } | xargs -r sed -i "s|$cached|$PWD/.venv|g"
}

stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  if [ -n "$CACHE" ] && [ ! -e .venv ]; then
    venv_from_cache
  else
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    # Locked versions first, then the project itself (editable) without resolving anything again.
    .venv/bin/python -m pip install --quiet -r requirements.lock
  fi
  .venv/bin/python -m pip install --quiet --no-deps -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

# npm_tree DIR: DIR/node_modules as DIR/package-lock.json pins it, from the cache when it has that lock's
# tree (npm ci otherwise, and the result kept there).
npm_tree() {
  local dir=$1 key cached
  key=$(sha1sum "$dir/package-lock.json" | cut -c1-12)
  [ ! -f "$dir/node_modules/.installed-$key" ] || return 0
  cached=$CACHE/npm-$key
  if [ -n "$CACHE" ] && [ -f "$cached/.installed-$key" ] && [ ! -e "$dir/node_modules" ]; then
    link_tree "$cached" "$dir/node_modules"
    return 0
  fi
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  touch "$dir/node_modules/.installed-$key"
  if [ -n "$CACHE" ] && [ ! -e "$cached" ]; then
    # Under a temporary name first: a tree in the cache is always whole.
    if ! { link_tree "$dir/node_modules" "$cached.$$" && mv -T "$cached.$$" "$cached" 2>/dev/null; }; then
      rm -rf "$cached.$$"
    fi
  fi
}

npm_tree .

with_ipfs=false
with_browser=false
with_prometheus=false
for arg in "$@"; do
  case "$arg" in
    --with-ipfs-daemon) with_ipfs=true ;;
    --with-browser) with_browser=true ;;
    --with-prometheus) with_prometheus=true ;;
  esac
done

if $with_ipfs; then
  npm_tree tools/ipfs-daemon
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

# The tests run the binaries themselves (a config in a temp dir); the package's service is not used.
if $with_prometheus && ! { command -v prometheus >/dev/null && command -v promtool >/dev/null; }; then
  if [ "$(id -u)" != 0 ]; then
    echo "prometheus is missing: run 'apt-get install prometheus' as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
