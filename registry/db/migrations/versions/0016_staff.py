"""staff: brand staff, invites, passkeys, WebAuthn challenges, console sessions, audit log

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("disabled_at", _AT, nullable=True),
    )
    op.create_index("ix_staff_brand_id", "staff", ["brand_id"])
    op.create_table(
        "staff_invites",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("used_at", _AT, nullable=True),
        sa.Column("staff_id", sa.String(), nullable=True),
    )
    op.create_index("ix_staff_invites_brand_id", "staff_invites", ["brand_id"])
    op.create_table(
        "staff_passkeys",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("staff_id", sa.String(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("public_key", sa.String(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(), nullable=True),
        sa.Column("aaguid", sa.String(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("last_used_at", _AT, nullable=True),
    )
    op.create_index("ix_staff_passkeys_staff_id", "staff_passkeys", ["staff_id"])
    op.create_table(
        "staff_challenges",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("challenge", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("invite_id", sa.String(), nullable=True),
        sa.Column("staff_id", sa.String(), nullable=True),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("used_at", _AT, nullable=True),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("staff_id", sa.String(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("last_seen_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.Column("network", sa.String(), nullable=True),
        sa.Column("agent", sa.String(), nullable=True),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "staff_audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", _AT, nullable=False),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("staff_id", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("network", sa.String(), nullable=True),
    )
    op.create_index("ix_staff_audit_brand_at", "staff_audit", ["brand_id", "at"])


def downgrade() -> None:
    for table in ("staff_audit", "staff_sessions", "staff_challenges", "staff_passkeys", "staff_invites", "staff"):
        op.drop_table(table)
