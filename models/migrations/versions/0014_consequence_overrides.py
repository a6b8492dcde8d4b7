"""overrides of the policies' and departments' consequence lines

An approver at the budget gate may set a key-evaluated policy's or department's amount as for a project: the
policy's recommendation keeps the override and its reason; a key-evaluated department's 事业发展类 lines taken
together get a recommendation of their own, with its original requests, to carry it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 12:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('policy_recommendation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=False, server_default=''))
    op.create_table('department_recommendation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('budget_year', sa.Integer(), nullable=False),
    sa.Column('request_fen', sa.BigInteger(), nullable=False),
    sa.Column('score', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('cut_ratio', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('recommended_fen', sa.BigInteger(), nullable=False),
    sa.Column('priority', sa.Boolean(), nullable=False),
    sa.Column('reason_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('override_fen', sa.BigInteger(), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cycle_id', 'department_id')
    )
    with op.batch_alter_table('department_recommendation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_recommendation_cycle_id'), ['cycle_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('department_recommendation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_recommendation_cycle_id'))
    op.drop_table('department_recommendation')
    with op.batch_alter_table('policy_recommendation', schema=None) as batch_op:
        batch_op.drop_column('override_reason')
        batch_op.drop_column('override_fen')
