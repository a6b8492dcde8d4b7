"""budget base, one reason per line, departments' and policies' grade consequences

A recommendation keeps the original request and the ex-ante cut apart (base = request − cut), the grade of
its department's key evaluation and that grade's cut, its one reason as a kind and words, and the
considerations in words; a key-evaluated policy gets its own recommendation.

Rows written before: `request_fen` held the base; it becomes the project's request, the difference the ex-ante
cut. Their reason text stays; their kind is read from the ratios they recorded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_REQUEST = "(SELECT project.request_fen FROM project WHERE project.id = budget_recommendation.project_id)"
_KIND = f"""
CASE
    WHEN reason = '未设置绩效目标' THEN 'no_targets'
    WHEN request_fen = 0 AND {_REQUEST} > 0 THEN 'ex_ante_rejected'
    WHEN priority THEN 'priority'
    WHEN execution_cut_ratio > grade_cut_ratio THEN 'low_execution'
    WHEN grade_cut_ratio >= 1 THEN 'cancelled'
    WHEN grade_cut_ratio > 0 THEN 'grade_cut'
    ELSE 'as_needed'
END
"""


def upgrade() -> None:
    with op.batch_alter_table('budget_recommendation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ex_ante_cut_fen', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(
            sa.Column('department_grade', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('department_cut_ratio', sa.Numeric(precision=9, scale=4), nullable=False, server_default='0')
        )
        batch_op.add_column(
            sa.Column('reason_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('explanation', sa.Text(), nullable=False, server_default=''))
    op.execute(
        f"UPDATE budget_recommendation SET ex_ante_cut_fen = {_REQUEST} - request_fen, "
        f"request_fen = {_REQUEST}, reason_kind = {_KIND}"
    )
    op.create_table('policy_recommendation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('budget_year', sa.Integer(), nullable=False),
    sa.Column('funds_fen', sa.BigInteger(), nullable=False),
    sa.Column('score', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('cut_ratio', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('recommended_fen', sa.BigInteger(), nullable=False),
    sa.Column('priority', sa.Boolean(), nullable=False),
    sa.Column('reason_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], ),
    sa.ForeignKeyConstraint(['policy_id'], ['fiscal_policy.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cycle_id', 'policy_id')
    )
    with op.batch_alter_table('policy_recommendation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_recommendation_cycle_id'), ['cycle_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('policy_recommendation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_recommendation_cycle_id'))
    op.drop_table('policy_recommendation')
    op.execute("UPDATE budget_recommendation SET request_fen = request_fen - ex_ante_cut_fen")
    with op.batch_alter_table('budget_recommendation', schema=None) as batch_op:
        batch_op.drop_column('explanation')
        batch_op.drop_column('reason_kind')
        batch_op.drop_column('department_cut_ratio')
        batch_op.drop_column('department_grade')
        batch_op.drop_column('ex_ante_cut_fen')
