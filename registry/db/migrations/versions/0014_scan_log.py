"""scan log: every resolver hit, page view, NFC tap and public verification, coarse and keyed

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=True),
        sa.Column("collection", sa.String(), nullable=True),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("arrival", sa.String(), nullable=True),
        sa.Column("tag_kind", sa.String(), nullable=True),
        sa.Column("tag_id", sa.String(), nullable=True),
        sa.Column("counter", sa.BigInteger(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("network", sa.String(), nullable=True),
        sa.Column("session", sa.String(), nullable=True),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
    )
    op.create_index("ix_scans_twin_at", "scans", ["collection", "token_id", "at"])
    op.create_index("ix_scans_brand_at", "scans", ["brand_id", "at"])
    op.create_index("ix_scans_session", "scans", ["session"])
    op.create_table(
        "scan_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brand_id", sa.String(), nullable=True),
        sa.Column("collection", sa.String(), nullable=True),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("taps", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_scan_daily_brand_day", "scan_daily", ["brand_id", "day"])
    op.create_table(
        "scan_daily_totals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brand_id", sa.String(), nullable=True),
        sa.Column("collection", sa.String(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("taps", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_scan_daily_totals_brand_day", "scan_daily_totals", ["brand_id", "day"])
    op.create_table(
        "scan_rollups",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scan_rollups")
    op.drop_table("scan_daily_totals")
    op.drop_table("scan_daily")
    op.drop_table("scans")
