"""The chaos soak (issue 19): the service as separate processes (API, mint worker, indexer and webhook
sender) on PostgreSQL, the chain behind the chain-conditions proxy, mixed load for N minutes while a
schedule SIGKILLs the processes, stops PostgreSQL hard and opens RPC fault windows; then the
invariants are checked and the figures printed. Exits 1 if an invariant fails.

    PYTHONPATH=$PWD .venv/bin/python scripts/soak.py --minutes 10 [--seed 1] [--trace-memory]

Parts in tests/support/soak/; the CI variant is tests/faults/test_soak.py (90 seconds)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.soak.run import soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of load under faults")
    parser.add_argument("--seed", type=int, default=1, help="seeds the load, the schedule and the proxy's faults")
    parser.add_argument(
        "--trace-memory", action="store_true", help="tracemalloc in the API: top growing allocation sites"
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the services' logs here (the run's data is removed)")
    args = parser.parse_args()
    result = soak(args.minutes, args.seed, trace_memory=args.trace_memory, keep_logs=args.keep_logs)
    print(result.table)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
