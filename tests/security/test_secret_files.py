"""Secrets generated once into the data directory, by processes starting together (`uvicorn --workers
4` on a fresh data directory): every starter gets the same whole value (never an empty file a first
writer has just created, never a crash because the file appeared meanwhile), the file is owner-only,
and no draft is left behind. Threads stand for the processes: each writes its own draft."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from registry.auth.vault import server_key
from registry.privileges.receipts import receipt_account
from registry.runtime.keys import operator_token
from registry.secret_files import read_or_create
from registry.settings import Settings

STARTERS = 8


def _at_once(work: Callable[[], str]) -> list[str]:
    start = threading.Barrier(STARTERS)

    def one(_: int) -> str:
        start.wait()
        return work()

    with ThreadPoolExecutor(STARTERS) as pool:
        return list(pool.map(one, range(STARTERS)))  # re-raises the first failure


def _value(made: Iterator[int]) -> str:
    return f"value-{next(made)}-" + "x" * 4096  # a distinct value per writer, long enough to be caught half-written


def test_starters_racing_read_one_whole_value(tmp_path: Path) -> None:
    for attempt in range(5):  # the race is a matter of timing
        path = tmp_path / f"run-{attempt}" / "token"
        seen = _at_once(partial(read_or_create, path, partial(_value, iter(range(10_000)))))
        assert len(set(seen)) == 1 and seen[0].startswith("value-") and seen[0].endswith("x" * 4096)
        assert path.stat().st_mode & 0o777 == 0o600
        assert os.listdir(path.parent) == ["token"]  # no drafts left
        assert read_or_create(path, lambda: "another") == seen[0]  # made once, then only read


def test_without_hard_links_starters_still_read_one_whole_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(_source: object, _target: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as some network and FUSE mounts answer

    monkeypatch.setattr(os, "link", no_links)
    for attempt in range(5):
        path = tmp_path / f"run-{attempt}" / "token"
        seen = _at_once(partial(read_or_create, path, partial(_value, iter(range(10_000)))))
        assert len(set(seen)) == 1 and seen[0].startswith("value-") and seen[0].endswith("x" * 4096)
        assert path.stat().st_mode & 0o777 == 0o600
        assert os.listdir(path.parent) == ["token"]


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("operator-token", operator_token),
        ("server-key", server_key),
        ("receipt-key", lambda settings: receipt_account(settings).key.hex()),
    ],
)
def test_the_services_own_secrets_are_made_once_by_starters_racing(
    tmp_path: Path, name: str, read: Callable[[Settings], str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    seen = _at_once(lambda: read(settings))
    assert len(set(seen)) == 1 and seen[0]
    assert (settings.data_dir / name).stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(settings.data_dir)) == [name]
