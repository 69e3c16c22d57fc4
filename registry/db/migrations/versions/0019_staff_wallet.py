"""staff.wallet: the brand's admin wallet an admin linked, to sign in to the console with Ethereum

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff", sa.Column("wallet", sa.String(), nullable=True))
    op.create_index("ix_staff_wallet", "staff", ["wallet"])


def downgrade() -> None:
    op.drop_index("ix_staff_wallet", table_name="staff")
    op.drop_column("staff", "wallet")
