"""who entered a decision on another's behalf

A decision given on the command line or in the Prefect UI's form names its decider by a typed name; it
is recorded as entered by the administrator (or the UI's shared account) on that person's behalf.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 12:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('entered_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_column('entered_by')
