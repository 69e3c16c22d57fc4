"""alerts: rules' findings with copied evidence, brands' thresholds, countries seen per collection

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("collection", sa.String(), nullable=True),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
    )
    op.create_index("ix_alerts_brand_id", "alerts", ["brand_id", "id"])
    op.create_index("ix_alerts_twin_state", "alerts", ["collection", "token_id", "state"])
    op.create_index(
        "uq_alerts_open_subject_rule",
        "alerts",
        ["brand_id", "subject", "rule"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )
    op.create_table(
        "alert_scans",
        sa.Column("alert_id", sa.BigInteger(), sa.ForeignKey("alerts.id"), primary_key=True),
        sa.Column("scan_id", sa.BigInteger(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scan", sa.Text(), nullable=False),
    )
    op.create_table(
        "alert_policies",
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), primary_key=True),
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alert_countries",
        sa.Column("collection", sa.String(), primary_key=True),
        sa.Column("country", sa.String(), primary_key=True),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_alert_countries_brand_id", "alert_countries", ["brand_id"])


def downgrade() -> None:
    op.drop_table("alert_countries")
    op.drop_table("alert_policies")
    op.drop_table("alert_scans")
    op.drop_table("alerts")
