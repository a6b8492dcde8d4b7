"""refused receipts and the version a receipt replaces

A form found in the submissions folder that cannot be imported is recorded as a refused version of the
department's receipts, with its problems; every receipt names the version it replaced.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('window_receipt', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False, server_default='accepted')
        )
        batch_op.add_column(sa.Column('problems', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('replaces', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('window_receipt', schema=None) as batch_op:
        batch_op.drop_column('replaces')
        batch_op.drop_column('problems')
        batch_op.drop_column('status')
