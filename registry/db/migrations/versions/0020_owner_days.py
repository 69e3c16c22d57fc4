"""owner_days: claims and resales per collection and UTC day, kept by the indexer; staff_audit by brand and id

Revision ID: 0020
Revises: 0019

The rollup is filled here from the indexed events, as `registry.events.owner_days.recount_all` would
(restated: migrations do not import the code they outlive). The audit page reads a brand's entries by
id (newest first): (brand_id, id) serves it; (brand_id, at) stays for the time filters.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

DAY = 86_400

events = sa.table(
    "chain_events",
    sa.column("id", sa.Integer()),
    sa.column("block_hash", sa.String()),
    sa.column("tx_hash", sa.String()),
    sa.column("address", sa.String()),
    sa.column("name", sa.String()),
    sa.column("token_id", sa.BigInteger()),
    sa.column("block_time", sa.BigInteger()),
    sa.column("sender", sa.String()),
    sa.column("recipient", sa.String()),
)
collections = sa.table("collections", sa.column("address", sa.String()), sa.column("brand_id", sa.String()))


def _counts(address: str, family: list[str]) -> Any:
    """One collection's claims and resales per day since the epoch (`owner_days.counted`)."""
    e = events.alias("e")
    claim = events.alias("claim")
    minted = events.alias("minted")
    claim_of_tx = (
        sa.select(claim.c.id)
        .where(
            claim.c.name == "Claimed",
            claim.c.block_hash == e.c.block_hash,
            claim.c.tx_hash == e.c.tx_hash,
            claim.c.token_id == e.c.token_id,
        )
        .exists()
    )
    custodians = sa.select(minted.c.recipient).where(
        minted.c.name == "BatchMinted", minted.c.address.in_(family), minted.c.recipient.is_not(None)
    )
    resale = (
        (e.c.name == "Transfer")
        & e.c.sender.is_not(None)
        & e.c.recipient.is_not(None)
        & ~claim_of_tx
        & e.c.sender.not_in(custodians)
    )
    days = e.c.block_time // DAY
    return (
        sa.select(
            days,
            sa.func.sum(sa.case((e.c.name == "Claimed", 1), else_=0)),
            sa.func.sum(sa.case((resale, 1), else_=0)),
        )
        .where(e.c.address == address, e.c.name.in_(("Claimed", "Transfer")), e.c.block_time.is_not(None))
        .group_by(days)
    )


def upgrade() -> None:
    table = op.create_table(
        "owner_days",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("claims", sa.BigInteger(), nullable=False),
        sa.Column("resales", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("collection", "day"),
    )
    op.create_index("ix_staff_audit_brand_id", "staff_audit", ["brand_id", "id"])
    conn = op.get_bind()
    brands: dict[str, list[str]] = {}
    brand_of: dict[str, str] = {}
    for address, brand in conn.execute(sa.select(collections.c.address, collections.c.brand_id)):
        brands.setdefault(brand, []).append(address)
        brand_of[address] = brand
    addresses = sa.select(events.c.address).where(events.c.name.in_(("Claimed", "Transfer"))).distinct()
    epoch = date(1970, 1, 1)
    for (address,) in conn.execute(addresses).all():
        family = brands[brand_of[address]] if address in brand_of else [address]
        rows = [
            {"collection": address, "day": epoch + timedelta(days=int(n)), "claims": int(c), "resales": int(r)}
            for n, c, r in conn.execute(_counts(address, family))
            if c or r
        ]
        if rows:
            op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_staff_audit_brand_id", table_name="staff_audit")
    op.drop_table("owner_days")
