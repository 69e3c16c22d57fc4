"""A brand's keys as the console lists and revokes them: its own keys only (never another brand's or
one of its providers'), revoked at once, and a revoked key no longer identifies anyone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from registry.auth import service as auth
from registry.auth.models import ApiKey
from registry.brands.models import Brand
from registry.db.engine import make_engine, migrate, session_scope
from registry.errors import NotFound, Unauthenticated
from registry.providers.models import Provider


def test_brand_keys_lists_and_revokes_only_the_brands_own(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    migrate(engine)
    with session_scope(engine) as s:
        for n, brand in enumerate(("mine", "theirs")):
            s.add(Brand(id=brand, name=brand, chain_brand_id=n + 1, admin_address="0x" + "11" * 20))
        s.flush()
        mine = auth.issue_key(s, "mine")
        theirs = auth.issue_key(s, "theirs")
        s.add(Provider(id="repairer", brand_id="mine", name="Repairer", address="0x" + "22" * 20, sealed_key="x"))
        s.flush()
        provider_key = auth.issue_key(s, "mine", provider_id="repairer")
    mine_id, theirs_id = mine.split("_")[1], theirs.split("_")[1]
    with Session(engine) as s:
        assert [k.id for k in auth.brand_keys(s, "mine")] == [mine_id]  # not the provider's key
        with pytest.raises(NotFound):
            auth.revoke_key(s, "mine", provider_key.split("_")[1])  # the provider's own business
        with pytest.raises(NotFound):
            auth.revoke_key(s, "mine", theirs_id)  # another brand's key does not exist for it
        with pytest.raises(NotFound):
            auth.revoke_key(s, "mine", "nosuchkey000")
    with session_scope(engine) as s:
        auth.revoke_key(s, "mine", mine_id)
    with Session(engine) as s:
        with pytest.raises(Unauthenticated):
            auth.identify(s, mine)
        assert auth.identify(s, theirs).brand_id == "theirs"
        revoked = s.get(ApiKey, mine_id)
        assert revoked is not None and revoked.revoked_at is not None
