"""chain events carry their block's time; a twin's history and a contract's stream are index ranges

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chain_events") as batch:
        batch.add_column(sa.Column("block_time", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_chain_events_address_token", "chain_events", ["address", "token_id", "block_number", "log_index"]
    )
    op.create_index("ix_chain_events_address_id", "chain_events", ["address", "id"])


def downgrade() -> None:
    op.drop_index("ix_chain_events_address_id", table_name="chain_events")
    op.drop_index("ix_chain_events_address_token", table_name="chain_events")
    with op.batch_alter_table("chain_events") as batch:
        batch.drop_column("block_time")
