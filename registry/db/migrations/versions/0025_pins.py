"""pins: the contents minted twins need (batch directories, assets), which job needs which, and how
each remote pinning service (IPFS Pinning Service API) holds each content

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pin_contents",
        sa.Column("cid", sa.String(), primary_key=True),
        sa.Column("created_at", _AT, nullable=False),
    )
    op.create_index("ix_pin_contents_created_at", "pin_contents", ["created_at"])
    op.create_table(
        "pin_job_contents",
        sa.Column("job_id", sa.String(), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("cid", sa.String(), primary_key=True),
    )
    op.create_table(
        "pins",
        sa.Column("cid", sa.String(), primary_key=True),
        sa.Column("provider", sa.String(), primary_key=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("next_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
    )
    op.create_index("ix_pins_next_at", "pins", ["next_at"])


def downgrade() -> None:
    op.drop_index("ix_pins_next_at", "pins")
    op.drop_table("pins")
    op.drop_table("pin_job_contents")
    op.drop_index("ix_pin_contents_created_at", "pin_contents")
    op.drop_table("pin_contents")
