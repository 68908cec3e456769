"""staff alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:52:17.594168
"""

from alembic import op

from services.kit.migrations import create_alerts_table, drop_alerts_table

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_alerts_table(op)


def downgrade() -> None:
    drop_alerts_table(op)
