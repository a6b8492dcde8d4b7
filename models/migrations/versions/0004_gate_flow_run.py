"""gate's waiting flow run

The annual-cycle run suspended at a gate is recorded on it, so a decision taken outside Prefect's UI
(the command line) can resume that run.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 22:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('flow_run_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_column('flow_run_id')
