"""discretionary fund applicant portal: area, contact, drawdowns, reviewed proof of use, receipts, mail outbox

Revision ID: 0004_i14_portal
Revises: 0003
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision = '0004_i14_portal'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('measure_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('drawdowns_requested', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('proof_items', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('proof_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('proof_draft', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('review_draft', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('rework_reason', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('released_cents', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('days_late', sa.Integer(), nullable=True))
    op.create_table('measure_receipts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=200), nullable=False),
    sa.Column('uploaded_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('proof_version', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('measure_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_receipts_application', ['application_id'], unique=False)
    op.create_table('measure_drawdowns',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paid_by', sa.String(length=200), nullable=True),
    sa.Column('paid_at', services.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_cents > 0', name='ck_drawdown_positive'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('measure_drawdowns', schema=None) as batch_op:
        batch_op.create_index('ix_drawdowns_application', ['application_id'], unique=False)
    op.create_table('mail_outbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', services.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', services.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_mail_outbox_due', ['sent_at', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_table('mail_outbox')
    op.drop_table('measure_drawdowns')
    op.drop_table('measure_receipts')
    with op.batch_alter_table('measure_applications', schema=None) as batch_op:
        for col in ('days_late', 'released_cents', 'reviewed_by', 'rework_reason', 'review_draft', 'proof_draft', 'proof_version', 'proof_items',
                    'drawdowns_requested', 'contact_email', 'area'):
            batch_op.drop_column(col)
