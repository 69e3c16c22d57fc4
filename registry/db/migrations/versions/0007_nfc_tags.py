"""nfc tags: brand master keys (sealed), tags and chips bound to twins with their last counter, HaLo challenges

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nfc_master_keys",
        sa.Column("brand_id", sa.String(), nullable=False),
        sa.Column("sealed_key", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"]),
        sa.PrimaryKeyConstraint("brand_id"),
    )
    op.create_table(
        "nfc_tags",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("public_key", sa.String(), nullable=True),
        sa.Column("brand_id", sa.String(), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("last_counter", sa.BigInteger(), nullable=False),
        sa.Column("last_tap_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "kind", "identity", name="uq_nfc_tags_brand_kind_identity"),
    )
    with op.batch_alter_table("nfc_tags") as batch:
        batch.create_index("ix_nfc_tags_brand_id", ["brand_id"], unique=False)
        batch.create_index("ix_nfc_tags_twin", ["collection", "token_id"], unique=False)
    op.create_table(
        "nfc_challenges",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("nfc_challenges")
    with op.batch_alter_table("nfc_tags") as batch:
        batch.drop_index("ix_nfc_tags_twin")
        batch.drop_index("ix_nfc_tags_brand_id")
    op.drop_table("nfc_tags")
    op.drop_table("nfc_master_keys")
