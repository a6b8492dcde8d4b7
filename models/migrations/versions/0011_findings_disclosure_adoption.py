"""findings followed to closure, publications with their address, and the adopted budget

The rectification register (问题整改) of every finding; where a department published its self-evaluation
report and the bureau its key-evaluation results; the departments a sample put first for their open
findings; and the amounts the People's Congress adopted for each line of a recommendation table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-20 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('object_type', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('object_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('object_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cycle_id', 'source', 'key')
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_department_id'), ['department_id'], unique=False)

    op.create_table('budget_adoption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('adopted_fen', sa.BigInteger(), nullable=False),
    sa.Column('remark', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cycle_id', 'project_id')
    )
    op.create_table('result_publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('reported_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cycle_id')
    )
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('final_accounts_on', sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column('reported_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_findings', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.drop_column('open_findings')
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_column('reported_at')
        batch_op.drop_column('reported_by')
        batch_op.drop_column('final_accounts_on')
        batch_op.drop_column('url')
    op.drop_table('result_publication')
    op.drop_table('budget_adoption')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_department_id'))
    op.drop_table('finding')
