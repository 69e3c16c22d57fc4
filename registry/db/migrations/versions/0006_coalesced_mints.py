"""coalesced mints: several jobs' chunks share one on-chain batch (a leader and its riders, each at its offset)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_chunks") as batch:
        batch.add_column(sa.Column("leader_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("batch_offset", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key("fk_job_chunks_leader_id", "job_chunks", ["leader_id"], ["id"])
        batch.create_index("ix_job_chunks_leader_id", ["leader_id"], unique=False)
        batch.create_index("ix_job_chunks_collection_batch", ["collection", "batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_chunks") as batch:
        batch.drop_index("ix_job_chunks_collection_batch")
        batch.drop_index("ix_job_chunks_leader_id")
        batch.drop_constraint("fk_job_chunks_leader_id", type_="foreignkey")
        batch.drop_column("batch_offset")
        batch.drop_column("leader_id")
