"""ownership notices: chain events name who they move a twin from and to (indexed, for the event
stream's owner filter); webhook subscriptions may filter by owner address

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ZERO = "0x" + "00" * 20
_EVENTS = sa.table(
    "chain_events",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("args", sa.Text),
    sa.column("sender", sa.String),
    sa.column("recipient", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("chain_events") as batch:
        batch.add_column(sa.Column("sender", sa.String(), nullable=True))
        batch.add_column(sa.Column("recipient", sa.String(), nullable=True))
    op.create_index("ix_chain_events_sender_id", "chain_events", ["sender", "id"])
    op.create_index("ix_chain_events_recipient_id", "chain_events", ["recipient", "id"])
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(sa.Column("owner", sa.String(), nullable=True))
    _backfill()


def _backfill() -> None:
    """Events indexed before: the same parties `registry.events.public.parties` gives new ones."""
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(_EVENTS.c.id, _EVENTS.c.name, _EVENTS.c.args)
            .where(_EVENTS.c.id > last, _EVENTS.c.name.in_(("Transfer", "BatchMinted")))
            .order_by(_EVENTS.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        for row in rows:
            args = json.loads(row.args)
            if row.name == "BatchMinted":
                sender, recipient = None, args["custodian"]
            elif args["from"] != ZERO:
                sender, recipient = args["from"], None if args["to"] == ZERO else args["to"]
            else:
                continue  # a mint's own transfer: its batch tells it
            bind.execute(sa.update(_EVENTS).where(_EVENTS.c.id == row.id).values(sender=sender, recipient=recipient))
        last = rows[-1].id
    # A claim names no address: it takes the parties of its transaction's transfer of the same token.
    bind.execute(
        sa.text(
            "UPDATE chain_events SET "
            "sender = (SELECT t.sender FROM chain_events t WHERE t.tx_hash = chain_events.tx_hash"
            " AND t.token_id = chain_events.token_id AND t.name = 'Transfer' LIMIT 1), "
            "recipient = (SELECT t.recipient FROM chain_events t WHERE t.tx_hash = chain_events.tx_hash"
            " AND t.token_id = chain_events.token_id AND t.name = 'Transfer' LIMIT 1) "
            "WHERE name = 'Claimed'"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("owner")
    op.drop_index("ix_chain_events_recipient_id", table_name="chain_events")
    op.drop_index("ix_chain_events_sender_id", table_name="chain_events")
    with op.batch_alter_table("chain_events") as batch:
        batch.drop_column("recipient")
        batch.drop_column("sender")
