"""Webhook signing secrets are not stored in clear: a copy of the database does not sign deliveries.
They are sealed under the server key (owner-only file), and rows from before are sealed at start."""

from __future__ import annotations

from sqlmodel import Session, select

from registry.auth.vault import server_key
from registry.webhooks.models import Subscription
from registry.webhooks.service import SEALED, open_secret, seal_stored_secrets
from tests.api.conftest import Stack


def test_webhook_secrets_are_sealed_at_rest(stack: Stack) -> None:
    headers, _ = stack.new_brand("Sealed Hooks", "SLD")
    r = stack.client.post(
        "/v1/webhooks", json={"url": "https://1.1.1.1/hook", "event_types": ["minted"]}, headers=headers
    )
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    with Session(stack.runtime.engine) as s:
        row = s.get(Subscription, r.json()["id"])
        assert row is not None
        assert secret not in row.secret and row.secret.startswith(SEALED)
        assert open_secret(stack.runtime.server_key, row) == secret  # the sender can still sign
    key_file = stack.runtime.settings.data_dir / "server-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert server_key(stack.runtime.settings) == stack.runtime.server_key


def test_secrets_stored_in_clear_before_are_sealed(stack: Stack) -> None:
    headers, _ = stack.new_brand("Old Hooks", "OLD")
    r = stack.client.post(
        "/v1/webhooks", json={"url": "https://1.1.1.1/old", "event_types": ["minted"]}, headers=headers
    )
    legacy = "whsec_" + "k" * 43
    with Session(stack.runtime.engine) as s:
        row = s.exec(select(Subscription).where(Subscription.id == r.json()["id"])).one()
        row.secret = legacy  # as a row made before this release
        s.add(row)
        s.commit()
        assert seal_stored_secrets(s, stack.runtime.server_key) == 1
        s.commit()
        s.refresh(row)
        assert legacy not in row.secret and open_secret(stack.runtime.server_key, row) == legacy
