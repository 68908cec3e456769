"""intake: the workflow a clearing belongs to (v3: one per household, `clearing-intake-<intake id>`; null: a
clearing started before, with its own `clearing-<person id>` workflow), and the mark of a clearing whose
workflow is still to be started (record, then start: services/intake/handlers_clearing_starts.py). Every clearing pending
at the upgrade is marked: intake's starter (re)starts or joins its workflow once, as intake no longer
consumes its own ClearingStarted.

Revision ID: 0007_household_clearing
Revises: 0006_audit_chain
Create Date: 2026-12-08 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_household_clearing'
down_revision = '0006_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clearings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('workflow_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('workflow_pending', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_clearings_workflow_id'), ['workflow_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clearings_workflow_pending'), ['workflow_pending'], unique=False)
    op.execute(sa.text("UPDATE clearings SET workflow_pending = true WHERE status = 'pending'"))


def downgrade() -> None:
    with op.batch_alter_table('clearings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clearings_workflow_id'))
        batch_op.drop_index(batch_op.f('ix_clearings_workflow_pending'))
        batch_op.drop_column('workflow_pending')
        batch_op.drop_column('workflow_id')
