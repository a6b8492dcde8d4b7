"""work events (工作记事)

The events of a year the coordinator records so the annual report can state them: trainings held, a
ranking in the city's assessment, press articles.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('work_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('month', sa.Integer(), nullable=True),
    sa.Column('day', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('year', 'kind', 'month', 'day', 'title')
    )
    with op.batch_alter_table('work_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_event_year'), ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('work_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_event_year'))
    op.drop_table('work_event')
