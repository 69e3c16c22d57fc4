"""Secrets the service generates once and keeps in its data directory (the operator token, the server
key, the receipt key), made safe for processes starting together: the value is written whole under a
draft name of its own, owner-only (0600), and then linked into place. The first link wins; every other
process or thread reads the winner's value, never an empty file a first writer has just created, and
never fails because the file appeared meanwhile."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The stripped text of `path`, which is created with `make()` if it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
            os.link(draft, path)
        except FileExistsError:  # another thread or process made it first: theirs is the value
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
