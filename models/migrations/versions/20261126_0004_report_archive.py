"""Report archive: every bulletin file built, versioned, with its checksum and data-as-of

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:31:46.870425
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_archive',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('data_as_of', sa.DateTime(), nullable=True),
    sa.Column('generated_at', sa.DateTime(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_report_archive_region_code_dim_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_archive')),
    sa.UniqueConstraint('path', name=op.f('uq_report_archive_path')),
    sa.UniqueConstraint('period', 'region_code', 'format', 'lang', 'version', name=op.f('uq_report_archive_period_region_code_format_lang_version'))
    )
    with op.batch_alter_table('report_archive', schema=None) as batch_op:
        batch_op.create_index('ix_report_archive_period_region', ['period', 'region_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_archive', schema=None) as batch_op:
        batch_op.drop_index('ix_report_archive_period_region')

    op.drop_table('report_archive')
