"""drop the cycle_id indexes that a unique key already leads with

indicator, monitoring_record and evaluation are looked up by cycle through their unique keys, whose first
column is cycle_id; a separate index on it only cost every insert another b-tree.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 17:40:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('indicator', 'monitoring_record', 'evaluation')


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(f'ix_{table}_cycle_id', table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f'ix_{table}_cycle_id', table, ['cycle_id'], unique=False)
