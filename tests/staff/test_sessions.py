"""Console sessions on SQLite and PostgreSQL: only a hash of the cookie is stored, timeouts end them,
signing out everywhere ends every one of a member's sessions (and only theirs), a disabled member's
session grants nothing, and the CSRF token is bound to the session."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text, update
from sqlmodel import col

from registry.brands.models import Brand
from registry.db.columns import utcnow
from registry.db.engine import make_engine, migrate, session_scope
from registry.staff.models import StaffMember, StaffRole, StaffSession
from registry.staff.service import create_staff
from registry.staff.sessions import (
    close_all_sessions,
    close_session,
    csrf_for,
    csrf_valid,
    open_session,
    resolve_session,
)
from tests.conftest import postgres_server  # noqa: F401 - the one PostgreSQL server of the session


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'staff.db'}"
    else:
        import psycopg

        server = request.getfixturevalue("postgres_server")
        name = f"staff_{tmp_path.name.replace('-', '_').lower()}"
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as s:
        for brand_id, chain_id in (("brand-a", 1), ("brand-b", 2)):
            s.add(Brand(id=brand_id, name=brand_id, chain_brand_id=chain_id, admin_address="0x" + "01" * 20))
    yield engine
    engine.dispose()


def member(engine: Engine, brand_id: str = "brand-a", role: StaffRole = StaffRole.operator) -> str:
    with session_scope(engine) as s:
        return create_staff(s, brand_id, f"{role.value} of {brand_id}", role).id


def age(engine: Engine, cookie: str, **fields: timedelta) -> None:
    """Moves a session's timestamps into the past, as time passing would."""
    now = utcnow()
    with session_scope(engine) as s:
        s.execute(
            update(StaffSession)
            .where(col(StaffSession.id) == hashlib.sha256(cookie.encode()).hexdigest())
            .values(**{name: now - delta for name, delta in fields.items()})
        )


def test_a_session_is_found_by_its_cookie_and_only_its_hash_is_stored(db: Engine) -> None:
    staff = member(db)
    opened = open_session(db, staff, hours=12, network="203.0.113.0/24", agent="desktop")
    principal = resolve_session(db, opened.cookie, idle_minutes=30)
    assert principal is not None
    assert (principal.staff_id, principal.brand_id, principal.role) == (staff, "brand-a", StaffRole.operator)
    assert principal.csrf == opened.csrf == csrf_for(opened.cookie)
    with db.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM staff_sessions")) for v in row)
    assert opened.cookie not in stored and opened.csrf not in stored
    assert resolve_session(db, opened.cookie + "x", idle_minutes=30) is None
    assert resolve_session(db, None, idle_minutes=30) is None
    assert resolve_session(db, "a" * 5000, idle_minutes=30) is None  # no hashing of megabyte cookies


def test_each_sign_in_gets_a_new_secret(db: Engine) -> None:
    staff = member(db)
    first, second = open_session(db, staff, hours=12), open_session(db, staff, hours=12)
    assert first.cookie != second.cookie and first.csrf != second.csrf


def test_idle_and_absolute_timeouts_end_a_session(db: Engine) -> None:
    staff = member(db)
    idle = open_session(db, staff, hours=12)
    age(db, idle.cookie, last_seen_at=timedelta(minutes=31))
    assert resolve_session(db, idle.cookie, idle_minutes=30) is None
    fresh = open_session(db, staff, hours=12)
    age(db, fresh.cookie, last_seen_at=timedelta(minutes=29))
    assert resolve_session(db, fresh.cookie, idle_minutes=30) is not None
    # Active all along, but past its absolute end.
    busy = open_session(db, staff, hours=12)
    age(db, busy.cookie, expires_at=timedelta(seconds=1))
    assert resolve_session(db, busy.cookie, idle_minutes=30) is None


def test_activity_keeps_a_session_alive(db: Engine) -> None:
    staff = member(db)
    opened = open_session(db, staff, hours=12)
    age(db, opened.cookie, last_seen_at=timedelta(minutes=25))
    assert resolve_session(db, opened.cookie, idle_minutes=30) is not None  # touches last_seen_at
    with session_scope(db) as s:
        row = s.get(StaffSession, hashlib.sha256(opened.cookie.encode()).hexdigest())
        assert row is not None
        seen = row.last_seen_at if row.last_seen_at.tzinfo else row.last_seen_at.replace(tzinfo=utcnow().tzinfo)
    assert utcnow() - seen < timedelta(minutes=1)


def test_sign_out_and_sign_out_everywhere(db: Engine) -> None:
    staff, colleague = member(db), member(db)
    one, two = open_session(db, staff, hours=12), open_session(db, staff, hours=12)
    theirs = open_session(db, colleague, hours=12)
    close_session(db, one.cookie)
    assert resolve_session(db, one.cookie, idle_minutes=30) is None
    assert resolve_session(db, two.cookie, idle_minutes=30) is not None
    with session_scope(db) as s:
        assert close_all_sessions(s, staff) == 1
    assert resolve_session(db, two.cookie, idle_minutes=30) is None
    assert resolve_session(db, theirs.cookie, idle_minutes=30) is not None


def test_a_disabled_member_is_signed_out(db: Engine) -> None:
    staff = member(db, role=StaffRole.admin)
    opened = open_session(db, staff, hours=12)
    with session_scope(db) as s:
        s.execute(update(StaffMember).where(col(StaffMember.id) == staff).values(disabled_at=utcnow()))
    assert resolve_session(db, opened.cookie, idle_minutes=30) is None


def test_roles_and_csrf(db: Engine) -> None:
    analyst = resolve_session(db, open_session(db, member(db, role=StaffRole.analyst), hours=1).cookie, idle_minutes=5)
    admin = resolve_session(db, open_session(db, member(db, role=StaffRole.admin), hours=1).cookie, idle_minutes=5)
    assert analyst is not None and admin is not None
    assert analyst.may(StaffRole.analyst) and not analyst.may(StaffRole.operator)
    assert admin.may(StaffRole.operator) and admin.may(StaffRole.admin)
    # A token is good for its own session only.
    assert csrf_valid(admin, admin.csrf)
    assert not csrf_valid(admin, analyst.csrf) and not csrf_valid(admin, None) and not csrf_valid(admin, "")
