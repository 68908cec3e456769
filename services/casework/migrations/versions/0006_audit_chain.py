"""audit log hash chain: seq, prev_hash, hash on audit_log; the audit_chain head; search indexes

Revision ID: 0006_audit_chain
Revises: 0005_erased_persons
Create Date: 2026-12-07 12:30:00
"""

from alembic import op

from services.kit.migrations import add_audit_chain, drop_audit_chain

revision = '0006_audit_chain'
down_revision = '0005_erased_persons'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_chain(op)


def downgrade() -> None:
    drop_audit_chain(op)
