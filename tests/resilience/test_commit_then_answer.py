"""A 2xx leaves only after its transaction committed: when the commit fails, the client gets a 503
problem (no secret for a row that does not exist) and nothing of the request remains.

The failure is injected where a real one cannot be made on demand here: the COMMIT of the request's
own transaction is refused (as a full disk or a dropped PostgreSQL connection refuses it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from registry.auth.models import Partner
from registry.webhooks.models import Subscription
from tests.api.conftest import Stack


class FailCommitOf:
    """Refuses the commit of the next transaction that stores a row of `table` (and only that one:
    the background loops keep committing meanwhile)."""

    def __init__(self, table: type[Any]) -> None:
        self.table = table
        self.armed = False

    def __call__(self, session: Any) -> None:
        pending = list(session.new) + list(session.identity_map.values())
        if self.armed and any(isinstance(row, self.table) for row in pending):
            self.armed = False
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    def __enter__(self) -> FailCommitOf:
        event.listen(OrmSession, "before_commit", self)
        self.armed = True
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(OrmSession, "before_commit", self)
        assert not self.armed, "the commit to refuse never came"


def test_a_webhook_secret_is_not_handed_out_when_its_row_was_not_stored(stack: Stack) -> None:
    headers, _ = stack.new_brand("Commit House", "CMT")
    body = {"url": "https://1.1.1.1/hook", "event_types": ["minted"]}
    with FailCommitOf(Subscription):
        r = stack.client.post("/v1/webhooks", json=body, headers=headers)
    assert r.status_code == 503, r.text
    assert r.json()["type"].endswith("/database-unavailable")
    assert "whsec_" not in r.text
    with Session(stack.runtime.engine) as s:
        assert s.exec(select(Subscription)).all() == []
    assert stack.client.post("/v1/webhooks", json=body, headers=headers).status_code == 201  # healed


def test_a_partner_key_is_not_handed_out_when_its_row_was_not_stored(stack: Stack) -> None:
    with FailCommitOf(Partner):
        r = stack.client.post("/v1/partners", json={"name": "Ghost Resale"}, headers=stack.operator)
    assert r.status_code == 503 and "tmp_" not in r.text
    with Session(stack.runtime.engine) as s:
        assert s.exec(select(Partner).where(Partner.name == "Ghost Resale")).all() == []
