"""intake: the person search's blind index (keyed hashes of name parts, phonetic keys and birth dates
per person; no names), and an index of intakes by household (a search result links to its intake). Persons stored before this revision are indexed by the service at its start
(handlers.backfill_search_index), as only the service holds the key.

Revision ID: 0005_search_index
Revises: 0005_referral_handover
Create Date: 2026-12-03 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_search_index'
down_revision = '0005_referral_handover'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'person_search_tokens',
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint('token', 'person_id'),
    )
    op.create_index('ix_person_search_tokens_person_id', 'person_search_tokens', ['person_id'], unique=False)
    op.create_index('ix_intakes_household_id', 'intakes', ['household_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_intakes_household_id', table_name='intakes')
    op.drop_index('ix_person_search_tokens_person_id', table_name='person_search_tokens')
    op.drop_table('person_search_tokens')
