"""cycle run lock

One row per cycle year while a run holds it; the unique year makes a second concurrent run fail to insert.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cycle_lock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cycle_lock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_lock_year'), ['year'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('cycle_lock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_lock_year'))

    op.drop_table('cycle_lock')
