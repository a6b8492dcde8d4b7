"""the day an adopted budget was imported

A report states an adoption only once the adopted budget was imported by the day it is dated; rows imported
before this column read as of no known day.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 14:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('budget_adoption', schema=None) as batch_op:
        batch_op.add_column(sa.Column('imported_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('budget_adoption', schema=None) as batch_op:
        batch_op.drop_column('imported_on')
