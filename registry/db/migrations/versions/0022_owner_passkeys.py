"""owner passkeys: owners' WebAuthn credentials and single-use ceremony challenges

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "owner_passkeys",
        sa.Column("credential_id", sa.String(), primary_key=True),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("user_handle", sa.String(), nullable=False),
        sa.Column("qx", sa.String(), nullable=False),
        sa.Column("qy", sa.String(), nullable=False),
        sa.Column("cose_key", sa.String(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("aaguid", sa.String(), nullable=True),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backup_state", sa.Boolean(), nullable=False),
        sa.Column("transports", sa.String(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("last_used_at", _AT, nullable=True),
    )
    op.create_index("ix_owner_passkeys_account", "owner_passkeys", ["account"])
    op.create_table(
        "owner_challenges",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("challenge", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("user_handle", sa.String(), nullable=True),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("used_at", _AT, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("owner_challenges")
    op.drop_index("ix_owner_passkeys_account", "owner_passkeys")
    op.drop_table("owner_passkeys")
