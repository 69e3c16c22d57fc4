"""Sign-In with Ethereum: single-use nonces and player sessions (both stored as SHA-256 only)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "siwe_nonces",
        sa.Column("nonce_hash", sa.String(), nullable=False),
        sa.Column("partner_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.PrimaryKeyConstraint("nonce_hash"),
    )
    op.create_index("ix_siwe_nonces_expires_at", "siwe_nonces", ["expires_at"], unique=False)
    op.create_table(
        "siwe_sessions",
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.String(), nullable=True),
        sa.Column("signature_kind", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_siwe_sessions_address", "siwe_sessions", ["address"], unique=False)
    op.create_index("ix_siwe_sessions_partner_id", "siwe_sessions", ["partner_id"], unique=False)
    op.create_index("ix_siwe_sessions_expires_at", "siwe_sessions", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_siwe_sessions_expires_at", table_name="siwe_sessions")
    op.drop_index("ix_siwe_sessions_partner_id", table_name="siwe_sessions")
    op.drop_index("ix_siwe_sessions_address", table_name="siwe_sessions")
    op.drop_table("siwe_sessions")
    op.drop_index("ix_siwe_nonces_expires_at", table_name="siwe_nonces")
    op.drop_table("siwe_nonces")
