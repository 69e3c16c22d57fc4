"""The brand's export of its owners' consented details (API and console): only current consents
(`registry.consent.current`), each with exactly the fields it names, every export logged with who
asked. Expired consents lose their sealed details as the brand next exports, and within the hour
anyway (`registry.consent.retention`)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.auth.vault import unseal
from registry.consent.current import CURRENT, recipient, states
from registry.consent.models import Consent, ConsentExport, ConsentProfile
from registry.consent.notice import FIELDS
from registry.consent.schemas import ExportRow
from registry.scans.export import csv_cell

CSV_HEAD = ("consent_id", "address", "purpose", "granted_at", "expires_at", "cross_border", *FIELDS)


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def rows(s: Session, server_key: str, brand_id: str, now: float) -> list[ExportRow]:
    """The brand's current consents with their details cut to the consented fields, oldest first."""
    at = int(now)
    s.execute(  # expired details are not kept for anyone
        update(Consent)
        .where(
            col(Consent.brand_id) == brand_id, col(Consent.expires_at) <= at, col(Consent.sealed_contact).is_not(None)
        )
        .values(sealed_contact=None)
    )
    shares = s.exec(
        select(Consent)
        .where(
            col(Consent.brand_id) == brand_id,
            col(Consent.kind) == "share",
            col(Consent.revoked_at).is_(None),
            col(Consent.expires_at) > at,
        )
        .order_by(col(Consent.granted_at), col(Consent.id))
    ).all()
    state = states(s, brand_id, shares, at)
    profile = s.get(ConsentProfile, brand_id)
    abroad = profile is not None and recipient(profile).abroad
    out: list[ExportRow] = []
    for c in shares:
        if state[c.id] != CURRENT or c.sealed_contact is None:
            continue
        fields: list[str] = json.loads(c.fields)
        details: dict[str, Any] = json.loads(unseal(server_key, f"consent:{c.id}", c.sealed_contact))
        out.append(
            ExportRow(
                consent_id=c.id,
                address=c.address,
                purpose=c.purpose,
                granted_at=_at(c.granted_at),
                expires_at=_at(c.expires_at),
                cross_border=c.residence_cn and abroad,
                fields=fields,
                contact={f: details[f] for f in fields if f in details},  # never a field not consented to
            )
        )
    return out


def log(s: Session, brand_id: str, actor: str, fmt: str, count: int) -> None:
    s.add(ConsentExport(brand_id=brand_id, actor=actor, format=fmt, rows=count))


def to_csv(found: list[ExportRow]) -> str:
    """One row per consent; a field not consented to is an empty cell; formula-like text defused."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEAD)
    for r in found:
        values: list[Any] = [
            r.consent_id,
            r.address,
            r.purpose,
            r.granted_at.isoformat(),
            r.expires_at.isoformat(),
            "yes" if r.cross_border else "no",
        ]
        for f in FIELDS:
            value = r.contact.get(f, "")
            values.append("; ".join(value) if isinstance(value, list) else value)
        writer.writerow([csv_cell(v) for v in values])
    return out.getvalue()
