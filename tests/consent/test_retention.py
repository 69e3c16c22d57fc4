"""Expired consents lose their contact details within the hour, whether or not the brand exports
again (SQLite and PostgreSQL): the hourly pass deletes the sealed details of every expired consent of
every brand, and nothing of a consent still running; the signed message stays as proof."""

from __future__ import annotations

import time

from eth_account import Account
from sqlalchemy import Engine

from registry.consent.retention import purge_expired
from tests.consent.conftest import SETTINGS, Owners

DAY = 86_400


def test_expired_details_are_deleted_for_every_brand_and_running_ones_kept(db: Engine) -> None:
    a, b, c = Account.create(), Account.create(), Account.create()
    then = Owners(db, time.time() - (SETTINGS.consent_days + 1) * DAY)  # granted a term ago, and a day
    now = Owners(db, time.time())
    then.hold("brand-a", 101, a.address)
    then.hold("brand-b", 101, b.address)
    now.hold("brand-a", 102, c.address)
    expired = [then.share(a, "brand-a", ["email"]), then.share(b, "brand-b", ["phone", "name"])]
    running = now.share(c, "brand-a", ["email"])
    assert all(now.consent(i).sealed_contact is not None for i in [*expired, running])

    assert purge_expired(db, batch=1) >= 2  # a transaction a row: every batch is followed by the next
    for consent_id in expired:
        row = now.consent(consent_id)
        assert row.sealed_contact is None and row.message and row.signature  # the proof stays
    assert now.consent(running).sealed_contact is not None
    assert purge_expired(db) == 0  # nothing twice
    assert purge_expired(db, now=time.time() + (SETTINGS.consent_days + 1) * DAY) >= 1
    assert now.consent(running).sealed_contact is None
