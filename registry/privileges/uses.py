"""Receipts at the venue, on the server's side: a check (online: signature, known, not revoked, not
moved, not expired, not used) that records the first use, and the uploads of venues' offline journals,
where a second accepted use of one receipt (two venues offline both accepting it) is recorded as a
double use, counted on the redemption and shown to the brand.

The first use is set by one conditional UPDATE (`used_at IS NULL`), so two checks at once record one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.privileges.models import ReceiptUse, Redemption
from registry.privileges.receipts import ForgedReceipt, Receipt, verify
from registry.privileges.retention import FORGOTTEN
from registry.privileges.schemas import ReceiptVerdict, UseIn, UseOut
from registry.twins.models import Twin


def _verdict(ok: bool, reason: str, receipt: Receipt | None = None, used_at: int | None = None) -> ReceiptVerdict:
    return ReceiptVerdict(
        ok=ok,
        reason=reason,
        privilege_id=receipt.privilege_id if receipt else None,
        collection=receipt.collection if receipt else None,
        token_id=receipt.token_id if receipt else None,
        owner=receipt.owner if receipt else None,
        used_at=datetime.fromtimestamp(used_at, UTC) if used_at else None,
    )


def _known(s: Session, text: str, pinned: str, chain_id: int, brand_id: str) -> tuple[Receipt, Redemption] | str:
    try:
        receipt = verify(text, pinned)
    except ForgedReceipt:
        return "forged"
    if receipt.chain_id != chain_id:
        return "forged"
    row = s.exec(select(Redemption).where(Redemption.nonce == receipt.nonce)).first()
    if row is None or row.brand_id != brand_id:
        return "unknown"  # another brand's receipt is no receipt of this brand's
    return receipt, row


def check(
    s: Session, *, text: str, pinned: str, chain_id: int, brand_id: str, venue: str, now: int, use: bool
) -> ReceiptVerdict:
    """The verdict on a receipt shown at `venue`; `use`: record it as used when accepted."""
    found = _known(s, text, pinned, chain_id, brand_id)
    if isinstance(found, str):
        return _verdict(False, found)
    receipt, row = found
    if row.revoked_at is None and row.owner != FORGOTTEN:  # a forgotten owner cannot be compared
        twin = s.get(Twin, (row.collection, row.token_id))
        if row.used_at is None and (twin is None or twin.owner is None or twin.owner.lower() != row.owner.lower()):
            # The twin changed hands before the receipt was used: it is the old owner's no more.
            row.revoked_at, row.revoked_reason = now, "moved"
            s.add(row)
    if row.revoked_at is not None:
        return _verdict(False, "revoked", receipt)
    if row.used_at is not None:
        return _verdict(False, "used", receipt, row.used_at)
    if now > row.expires_at:
        return _verdict(False, "expired", receipt)
    if use:
        first = s.execute(
            update(Redemption)
            .where(col(Redemption.id) == row.id, col(Redemption.used_at).is_(None))
            .values(used_at=now, used_venue=venue or None)
        )
        if first.rowcount != 1:  # type: ignore[attr-defined]
            return _verdict(False, "used", receipt)
        assert row.id is not None
        s.add(ReceiptUse(redemption_id=row.id, venue=venue, used_at=now, reported_at=now, first=True))
    return _verdict(True, "accepted", receipt)


def record_uses(s: Session, *, uses: list[UseIn], pinned: str, chain_id: int, brand_id: str, now: int) -> list[UseOut]:
    """A venue's journal, uploaded when back online: each use is the first (recorded as the
    redemption's), a double use (flagged), one already uploaded, or not a receipt of this brand's."""
    out = []
    for use in uses:
        found = _known(s, use.receipt, pinned, chain_id, brand_id)
        if isinstance(found, str):
            out.append(UseOut(nonce=None, outcome="forged" if found == "forged" else "unknown"))
            continue
        receipt, row = found
        assert row.id is not None
        # The redemption's row written first: two venues syncing at once take turns (PostgreSQL's row
        # lock, SQLite's one writer), so each sees the other's use and neither trips the unique key.
        s.execute(
            update(Redemption).where(col(Redemption.id) == row.id).values(double_uses=col(Redemption.double_uses))
        )
        seen = s.exec(
            select(ReceiptUse.id).where(
                ReceiptUse.redemption_id == row.id, ReceiptUse.venue == use.venue, ReceiptUse.used_at == use.used_at
            )
        ).first()
        if seen is not None:
            out.append(UseOut(nonce=receipt.nonce, outcome="already-known"))
            continue
        first = s.execute(
            update(Redemption)
            .where(col(Redemption.id) == row.id, col(Redemption.used_at).is_(None))
            .values(used_at=use.used_at, used_venue=use.venue or None)
        )
        is_first = first.rowcount == 1  # type: ignore[attr-defined]
        if not is_first:
            s.execute(
                update(Redemption)
                .where(col(Redemption.id) == row.id)
                .values(double_uses=col(Redemption.double_uses) + 1)
            )
        s.add(ReceiptUse(redemption_id=row.id, venue=use.venue, used_at=use.used_at, reported_at=now, first=is_first))
        s.flush()
        out.append(UseOut(nonce=receipt.nonce, outcome="first" if is_first else "double"))
    return out
