"""referral partner answers: the partner's latest step and the date of a place or course

Revision ID: 0004_referral_partner_answers
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_referral_partner_answers'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('referrals') as batch:
        batch.add_column(sa.Column('latest_step', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('outcome_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('referrals') as batch:
        batch.drop_column('outcome_on')
        batch.drop_column('latest_step')
