"""twins by owner: a player's listing is one range of (owner, collection, token_id), in page order

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_twins_owner_collection_token", "twins", ["owner", "collection", "token_id"])


def downgrade() -> None:
    op.drop_index("ix_twins_owner_collection_token", table_name="twins")
