"""referral handover: casework's referrals and consent register as intake needs them to hand a
person's details to the Integration Point

Revision ID: 0005_referral_handover
Revises: 0005_i14_letters
"""

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision = '0005_referral_handover'
down_revision = '0005_i14_letters'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('referral_handovers',
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('partner', sa.String(length=40), nullable=True),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('updated_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('referral_id')
    )
    with op.batch_alter_table('referral_handovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_handovers_person_id'), ['person_id'], unique=False)
    op.create_table('partner_consents',
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=False),
    sa.Column('withdrawn', sa.Boolean(), nullable=False),
    sa.Column('changed_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('person_id', 'partner', 'purpose')
    )


def downgrade() -> None:
    op.drop_table('partner_consents')
    with op.batch_alter_table('referral_handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_handovers_person_id'))
    op.drop_table('referral_handovers')
