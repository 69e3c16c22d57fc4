"""no_prices: a collection marked for a no-secondary-market deployment accepts no price fields;
owner_attestations: a brand's opaque reference to its own real-name check of an owner

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("no_prices", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "owner_attestations",
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), primary_key=True),
        sa.Column("owner", sa.String(), primary_key=True),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("owner_attestations")
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("no_prices")
