"""the flow run of each stage

Each stage records the Prefect flow run that last ran it, so the workbench's timeline links to the run
in the Prefect UI (or names it when no UI address is configured).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stage_state', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('flow_run_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('flow_run_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('stage_state', schema=None) as batch_op:
        batch_op.drop_column('flow_run_name')
        batch_op.drop_column('flow_run_id')
