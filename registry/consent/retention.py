"""Retention of consented details: once a consent expires, its sealed contact details are deleted,
by an hourly pass over every brand (before, only a brand's next export deleted them, so a brand
that never exported again kept expired details for ever). The signed message stays, as proof of
what was consented to and when."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, update
from sqlmodel import col, select

from registry.consent.models import Consent
from registry.db.periodic import in_batches, run_every


def purge_expired(engine: Engine, *, now: float | None = None, batch: int = 500) -> int:
    """Deletes the contact details of every expired consent, `batch` rows a transaction; how many."""
    at = int(time.time() if now is None else now)
    expired = select(Consent.id).where(col(Consent.expires_at) <= at, col(Consent.sealed_contact).is_not(None))
    return in_batches(
        engine,
        expired,
        lambda s, ids: s.execute(update(Consent).where(col(Consent.id).in_(ids)).values(sealed_contact=None)),
        batch,
    )


def run_retention(engine: Engine, stop: threading.Event, interval: float = 3600.0) -> None:
    """The consent retention loop (in every process: deleting twice is harmless)."""
    run_every(lambda: purge_expired(engine), "consent: contact details of %d expired consents deleted", stop, interval)
