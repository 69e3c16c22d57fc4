"""consent the owner signs: brands' recipients, consents (the signed message and sealed details), the
export log, and the purpose of a SIWE nonce (a consent's nonce never opens a session, nor a sign-in's
grants a consent)

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("siwe_nonces") as batch:
        batch.add_column(sa.Column("purpose", sa.String(), nullable=False, server_default="sign-in"))
    op.create_table(
        "consent_profiles",
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), primary_key=True),
        sa.Column("recipient_name", sa.String(), nullable=False),
        sa.Column("recipient_contact", sa.String(), nullable=False),
        sa.Column("recipient_country", sa.String(), nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String(), sa.ForeignKey("consents.id"), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("signature_kind", sa.String(), nullable=False),
        sa.Column("recap_json", sa.Text(), nullable=False),
        sa.Column("fields", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("notice_hash", sa.String(), nullable=False),
        sa.Column("residence_cn", sa.Boolean(), nullable=False),
        sa.Column("recipient_country", sa.String(), nullable=False),
        sa.Column("sealed_contact", sa.Text(), nullable=True),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_by", sa.String(), nullable=True),
    )
    op.create_index("ix_consents_address", "consents", ["address"])
    op.create_index("ix_consents_parent_id", "consents", ["parent_id"])
    op.create_index("ix_consents_brand_address", "consents", ["brand_id", "address"])
    op.create_table(
        "consent_exports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("brand_id", sa.String(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
    )
    op.create_index("ix_consent_exports_brand_id", "consent_exports", ["brand_id"])


def downgrade() -> None:
    op.drop_index("ix_consent_exports_brand_id", table_name="consent_exports")
    op.drop_table("consent_exports")
    op.drop_index("ix_consents_brand_address", table_name="consents")
    op.drop_index("ix_consents_parent_id", table_name="consents")
    op.drop_index("ix_consents_address", table_name="consents")
    op.drop_table("consents")
    op.drop_table("consent_profiles")
    with op.batch_alter_table("siwe_nonces") as batch:
        batch.drop_column("purpose")
