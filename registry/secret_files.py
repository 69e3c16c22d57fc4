"""Secrets the service generates once and keeps in its data directory (the operator token, the server
key, the receipt key), made safe for processes starting together: the value is written whole under a
draft name of its own, owner-only (0600), and then linked into place. The first link wins; every other
process or thread reads the winner's value, never an empty file a first writer has just created, and
never fails because the file appeared meanwhile. On a file system without hard links (some network or
FUSE mounts) the file is created exclusively instead, and a reader waits for its writer to finish."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from registry.errors import ConfigurationError

_WAIT = 5.0  # seconds a reader waits for a racing writer's value (the no-hard-link path only)


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The stripped text of `path`, which is created with `make()` if it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        value = make()
        draft = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        _write_new(draft, value)
        try:
            os.link(draft, path)
        except FileExistsError:  # another thread or process made it first: theirs is the value
            pass
        except OSError:  # no hard links here: an exclusive create, read once whole (below)
            with contextlib.suppress(FileExistsError):
                _write_new(path, value)
        finally:
            draft.unlink()
    deadline = time.monotonic() + _WAIT
    while not (text := path.read_text().strip()):
        if time.monotonic() > deadline:
            raise ConfigurationError(f"{path} is empty: remove it and start again")
        time.sleep(0.02)
    return text


def _write_new(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
