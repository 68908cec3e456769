"""intake drafts: when a draft was started (the front desk's team list shows who started it and when);
existing drafts get their last save time. Index for the newest-first list.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 11:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_at', services.kit.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_intake_drafts_updated_at', ['updated_at'], unique=False)
    op.execute("UPDATE intake_drafts SET created_at = updated_at WHERE created_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('intake_drafts', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_drafts_updated_at')
        batch_op.drop_column('created_at')
