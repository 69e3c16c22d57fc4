"""Signing a member of staff in without a browser ceremony, for tests of console pages other than
sign-in itself (the passkey ceremony has its own tests in tests/console/)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from registry.db.engine import session_scope
from registry.settings import Settings
from registry.staff.models import StaffRole
from registry.staff.service import create_staff
from registry.staff.sessions import open_session


@dataclass(frozen=True)
class SignedIn:
    staff_id: str
    cookie_name: str
    cookie: str
    csrf: str

    def cookies(self) -> dict[str, str]:
        return {self.cookie_name: self.cookie}


def sign_in(engine: Engine, settings: Settings, brand_id: str, role: StaffRole, name: str = "Test Staff") -> SignedIn:
    """A new member of `brand_id` with `role`, and an open session for them."""
    from api.console.deps import session_cookie  # tests.support is imported by benchmarks too

    with session_scope(engine) as s:
        staff_id = create_staff(s, brand_id, name, role).id
    opened = open_session(engine, staff_id, hours=settings.console_session_hours)
    return SignedIn(staff_id, session_cookie(settings), opened.cookie, opened.csrf)
