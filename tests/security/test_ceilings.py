"""The ceiling beside a per-key limit (registry.db.ratelimit): all keys together stop at it, with a
Retry-After that ends with its window; `check` does not count; each database has its own."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from registry.db import ratelimit
from registry.db.engine import make_engine, migrate
from registry.db.ratelimit import Limit
from registry.errors import TooManyRequests

LIMIT = Limit("test-ceiling:client", 2, timedelta(seconds=1), "tests from this client", ceiling=3)


def test_keys_together_stop_at_the_ceiling_until_the_window_ends(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(db)
    with Session(db) as s:
        ratelimit.check(s, [(LIMIT, "client-1")])  # checking counts nothing
        for key in ("client-1", "client-2", "client-3"):
            ratelimit.hit(s, [(LIMIT, key)])
        with pytest.raises(TooManyRequests) as refused:
            ratelimit.hit(s, [(LIMIT, "client-4")])  # its own first use, but the ceiling is reached
        assert "from all clients together" in refused.value.detail and refused.value.retry_after in (1, 2)
        with pytest.raises(TooManyRequests):
            ratelimit.check(s, [(LIMIT, "client-5")])
        s.commit()
    # Another database (another service in this process) counts apart.
    other = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    migrate(other)
    with Session(other) as s:
        ratelimit.hit(s, [(LIMIT, "client-4")])
    time.sleep(1.1)  # the window ends
    with Session(db) as s:
        assert ratelimit.hit(s, [(LIMIT, "client-4")]) == [1]
