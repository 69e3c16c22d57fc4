"""loop heartbeats: each lease renewal records when and by which process, so readiness sees every
background loop of every process

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.add_column(sa.Column("beat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("process", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("process")
        batch.drop_column("beat_at")
