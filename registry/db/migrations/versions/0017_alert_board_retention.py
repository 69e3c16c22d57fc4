"""alerts read incrementally (updated_at) and purged after retention (resolved_at); chain events by
collection, name and time for the brand's claims and resales

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_updated_at", "alerts", ["updated_at"])
    op.create_index("ix_alerts_resolved_at", "alerts", ["resolved_at"])
    op.create_index("ix_chain_events_address_name_time", "chain_events", ["address", "name", "block_time"])


def downgrade() -> None:
    op.drop_index("ix_chain_events_address_name_time", table_name="chain_events")
    op.drop_index("ix_alerts_resolved_at", table_name="alerts")
    op.drop_index("ix_alerts_updated_at", table_name="alerts")
