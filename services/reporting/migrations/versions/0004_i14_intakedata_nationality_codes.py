"""arrivals.nationality holds the three-letter codes for stateless (XXA) and unclear (XXX) nationality

Revision ID: 0004_i14_intakedata
Revises: 0004_i14_catalogue
Create Date: 2026-12-03 14:10:00

Intake accepts ICAO Doc 9303's XXA (stateless) and XXX (unclear) besides ISO 3166-1 alpha-2 codes
(services/contracts/codes.py); ArrivalRecorded carries them, so the column widens from 2 to 3.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_i14_intakedata'
down_revision = '0004_i14_catalogue'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('arrivals', schema=None) as batch_op:
        batch_op.alter_column('nationality', existing_type=sa.String(length=2), type_=sa.String(length=3), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('arrivals', schema=None) as batch_op:
        batch_op.alter_column('nationality', existing_type=sa.String(length=3), type_=sa.String(length=2), existing_nullable=True)
