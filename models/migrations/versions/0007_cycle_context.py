"""the folders of a cycle's last run

A cycle remembers the submissions folder and the output folder its last run used (beside the data
workbook it already records), so every way of continuing it reads and writes the same places.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-12 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('submissions_dir', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('out_dir', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.drop_column('out_dir')
        batch_op.drop_column('submissions_dir')
