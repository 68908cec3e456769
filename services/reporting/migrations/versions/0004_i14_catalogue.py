"""measure figures reported by providers (issue 14)

Revision ID: 0004_i14_catalogue
Revises: 0003
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision = '0004_i14_catalogue'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('measure_figures',
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('key', sa.String(length=48), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('submitted_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('number', 'period', 'key', 'version')
    )


def downgrade() -> None:
    op.drop_table('measure_figures')
