"""intake: registration of residence recorded by the front desk (one per person, any route), and the
correction number that last moved a clearing's dates.

Revision ID: 0005_clearing_registration
Revises: 0004
Create Date: 2026-12-03 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision = '0005_clearing_registration'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'registrations',
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('registered_on', sa.Date(), nullable=False),
        sa.Column('recorded_by', sa.String(length=200), nullable=False),
        sa.Column('recorded_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id']),
        sa.PrimaryKeyConstraint('person_id'),
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registrations_household_id'), ['household_id'], unique=False)
    with op.batch_alter_table('clearings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dates_correction_no', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clearings', schema=None) as batch_op:
        batch_op.drop_column('dates_correction_no')
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registrations_household_id'))
    op.drop_table('registrations')
