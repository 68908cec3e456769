"""erased persons: the register of persons intake erased (PersonErased), for the household rule

Revision ID: 0005_erased_persons
Revises: 0004_referral_partner_answers
"""

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision = '0005_erased_persons'
down_revision = '0004_referral_partner_answers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'erased_persons',
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('erased_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ground', sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint('person_id'),
    )


def downgrade() -> None:
    op.drop_table('erased_persons')
