"""owners' privileges: privileges, sealed codes, redemptions with receipts and their uses; twins'
owner_since and last_serviced_at (filled from the indexed events), and wearables' tags by index

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tags(document: str) -> list[str]:
    """As `registry.twins.projection.tags_of` (a migration imports no domain): wearable tags, lower case."""
    try:
        doc = json.loads(document)
        tags = doc["twinmark"]["wearable"]["tags"]
    except (ValueError, TypeError, KeyError):
        return []
    if not isinstance(tags, list):
        return []
    return list(dict.fromkeys(t.strip().lower() for t in tags if isinstance(t, str) and 0 < len(t.strip()) <= 50))


def upgrade() -> None:
    op.add_column("twins", sa.Column("owner_since", sa.BigInteger(), nullable=True))
    op.add_column("twins", sa.Column("last_serviced_at", sa.BigInteger(), nullable=True))
    # From the index itself: the time of the last transfer to the current owner (not the mint's), and
    # of the last service record.
    op.execute(
        """UPDATE twins SET
             owner_since = (SELECT MAX(e.block_time) FROM chain_events e
                            WHERE e.address = twins.collection AND e.token_id = twins.token_id
                              AND e.name = 'Transfer' AND e.recipient = twins.owner AND e.sender IS NOT NULL
                              AND e.sender <> '0x0000000000000000000000000000000000000000'),
             last_serviced_at = (SELECT MAX(e.block_time) FROM chain_events e
                                 WHERE e.address = twins.collection AND e.token_id = twins.token_id
                                   AND e.name = 'ServiceRecorded')"""
    )
    op.create_table(
        "twin_tags",
        sa.Column("collection", sa.String(), primary_key=True),
        sa.Column("token_id", sa.BigInteger(), primary_key=True),
        sa.Column("tag", sa.String(length=50), primary_key=True),
    )
    op.create_index("ix_twin_tags_tag", "twin_tags", ["tag", "collection", "token_id"])
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT collection, token_id, metadata_json FROM twins WHERE kind = 'virtual'"))
    tags = [{"c": c, "t": t, "g": g} for c, t, doc in rows for g in _tags(doc)]
    if tags:
        conn.execute(sa.text("INSERT INTO twin_tags (collection, token_id, tag) VALUES (:c, :t, :g)"), tags)
    op.create_table(
        "privileges",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name_en", sa.String(), nullable=False),
        sa.Column("name_zh", sa.String(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("description_zh", sa.Text(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.BigInteger(), nullable=True),
        sa.Column("ends_at", sa.BigInteger(), nullable=True),
        sa.Column("capacity", sa.BigInteger(), nullable=True),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_privileges_brand_retired", "privileges", ["brand_id", "retired_at"])
    op.create_table(
        "privilege_codes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("privilege_id", sa.Integer(), sa.ForeignKey("privileges.id"), nullable=False),
        sa.Column("code_hash", sa.String(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("redemption_id", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("privilege_id", "code_hash"),
    )
    op.create_index("ix_privilege_codes_free", "privilege_codes", ["privilege_id", "redemption_id"])
    op.create_table(
        "privilege_redemptions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("privilege_id", sa.Integer(), sa.ForeignKey("privileges.id"), nullable=False),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False, unique=True),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("code_id", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.Column("used_venue", sa.String(), nullable=True),
        sa.Column("double_uses", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_reason", sa.String(), nullable=True),
        sa.UniqueConstraint("privilege_id", "collection", "token_id"),
    )
    op.create_index("ix_privilege_redemptions_brand_id", "privilege_redemptions", ["brand_id", "id"])
    op.create_index("ix_privilege_redemptions_twin", "privilege_redemptions", ["collection", "token_id"])
    op.create_table(
        "privilege_receipt_uses",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("redemption_id", sa.Integer(), sa.ForeignKey("privilege_redemptions.id"), nullable=False),
        sa.Column("venue", sa.String(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", sa.BigInteger(), nullable=False),
        sa.Column("first", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("redemption_id", "venue", "used_at"),
    )
    op.create_index(
        "ix_privilege_receipt_uses_redemption_id", "privilege_receipt_uses", ["redemption_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("privilege_receipt_uses")
    op.drop_table("privilege_redemptions")
    op.drop_table("privilege_codes")
    op.drop_table("privileges")
    op.drop_table("twin_tags")
    op.drop_column("twins", "last_serviced_at")
    op.drop_column("twins", "owner_since")
