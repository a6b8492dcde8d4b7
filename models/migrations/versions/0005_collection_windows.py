"""collection windows, department submissions and warning responses

Each stage's collection of a department form with its deadline, every department's place in it, every
version a department submitted, and the answers to red-light warning notices.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 21:56:22.072194
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('collection_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('form', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('quarter', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('close_reason', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('folder', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cycle_id', 'stage')
    )
    with op.batch_alter_table('collection_window', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_window_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('warning_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('responded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('versions', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['warning_notice.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('notice_id')
    )
    op.create_table('window_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('returned_on', sa.Date(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('versions', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['window_id'], ['collection_window.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('window_id', 'department_id')
    )
    with op.batch_alter_table('window_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_window_entry_window_id'), ['window_id'], unique=False)

    op.create_table('window_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source_name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('submitted_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['window_id'], ['collection_window.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('window_id', 'department_id', 'version')
    )
    with op.batch_alter_table('window_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_window_receipt_window_id'), ['window_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('window_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_window_receipt_window_id'))

    op.drop_table('window_receipt')
    with op.batch_alter_table('window_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_window_entry_window_id'))

    op.drop_table('window_entry')
    op.drop_table('warning_response')
    with op.batch_alter_table('collection_window', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_window_cycle_id'))

    op.drop_table('collection_window')
