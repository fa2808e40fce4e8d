"""file registry, job locks, and the host and pid of each run

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:41:16.473363
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('etl_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))

    op.create_table('etl_lock',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('acquired_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_etl_lock'))
    )
    op.create_table('etl_file',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=512), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['etl_run.id'], name=op.f('fk_etl_file_run_id_etl_run')),
    sa.PrimaryKeyConstraint('source', 'checksum', name=op.f('pk_etl_file'))
    )
    with op.batch_alter_table('etl_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_etl_file_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('etl_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_etl_file_run_id'))

    op.drop_table('etl_file')
    op.drop_table('etl_lock')
    with op.batch_alter_table('etl_run', schema=None) as batch_op:
        batch_op.drop_column('pid')
        batch_op.drop_column('host')
