"""intake: newcomer communication (issue 14): the language of a household's letters, the e-mail address
for appointment reminders (sealed, only with consent) and one reminder row per clearing appointment.

Revision ID: 0005_i14_letters
Revises: 0005_clearing_registration
Create Date: 2026-12-03 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision = '0005_i14_letters'
down_revision = '0005_clearing_registration'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'household_letters',
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=False),
        sa.Column('updated_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('household_id'),
    )
    op.create_table(
        'reminder_contacts',
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=True),
        sa.Column('consent_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('person_id'),
    )
    with op.batch_alter_table('reminder_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_contacts_household_id'), ['household_id'], unique=False)
    op.create_table(
        'clearing_reminders',
        sa.Column('clearing_id', sa.Uuid(), nullable=False),
        sa.Column('appointment_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('claimed_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('clearing_id', 'appointment_at'),
    )


def downgrade() -> None:
    op.drop_table('clearing_reminders')
    with op.batch_alter_table('reminder_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_contacts_household_id'))
    op.drop_table('reminder_contacts')
    op.drop_table('household_letters')
