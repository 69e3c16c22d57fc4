"""What the verification page's scripts weigh, gzip -9, against the 60 KB budget of a re-check in
WeChat's in-app browser (issue 26): every script page.html loads, plus the SHA-256 fallback
ipfs-check.js inserts where `crypto.subtle` is missing (the heaviest case).

    .venv/bin/python scripts/recheck_size.py          # one line per script, the total; exit 1 over budget

tests/pages/test_wechat.py measures the same from what Chromium really fetched."""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "api" / "static"
BUDGET = 60 * 1024
FALLBACK = "vendor/noble-sha256-1.8.0.min.js"


def scripts() -> list[str]:
    """The page's scripts (paths under /static/), in load order, then the fallback."""
    template = (ROOT / "api" / "templates" / "page.html").read_text()
    return [*re.findall(r'<script defer src="/static/([^"]+)"', template), FALLBACK]


def main() -> int:
    total = 0
    for name in scripts():
        size = len(gzip.compress((STATIC / name).read_bytes(), compresslevel=9))
        total += size
        print(f"{size:>7} B  {name}")
    print(f"{total:>7} B  total, gzip -9 (budget {BUDGET} B)")
    return 0 if total <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
