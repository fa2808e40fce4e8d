"""initial warehouse

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 20:08:45.468749
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dim_calendar',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_working_day', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('holiday_name', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_dim_calendar'))
    )
    op.create_table('dim_department',
    sa.Column('dept_code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=128), nullable=False),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('dept_code', name=op.f('pk_dim_department'))
    )
    op.create_table('dim_region',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=True),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('short_zh', sa.String(length=32), nullable=False),
    sa.Column('short_en', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['dim_region.code'], name=op.f('fk_dim_region_parent_code_dim_region')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_dim_region'))
    )
    op.create_table('etl_dirty_period',
    sa.Column('fact_table', sa.String(length=64), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('fact_table', 'region_code', 'period', name=op.f('pk_etl_dirty_period'))
    )
    op.create_table('etl_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_inserted', sa.Integer(), nullable=False),
    sa.Column('rows_updated', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_etl_run'))
    )
    with op.batch_alter_table('etl_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_etl_run_job'), ['job'], unique=False)

    op.create_table('dim_region_alias',
    sa.Column('alias', sa.String(length=64), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_dim_region_alias_region_code_dim_region')),
    sa.PrimaryKeyConstraint('alias', name=op.f('pk_dim_region_alias'))
    )
    with op.batch_alter_table('dim_region_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dim_region_alias_region_code'), ['region_code'], unique=False)

    op.create_table('dim_service_item',
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=256), nullable=False),
    sa.Column('dept_code', sa.String(length=32), nullable=True),
    sa.Column('statutory_days', sa.Integer(), nullable=True),
    sa.Column('promised_days', sa.Integer(), nullable=True),
    sa.Column('is_instant', sa.Boolean(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('etl_run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['dept_code'], ['dim_department.dept_code'], name=op.f('fk_dim_service_item_dept_code_dim_department')),
    sa.ForeignKeyConstraint(['etl_run_id'], ['etl_run.id'], name=op.f('fk_dim_service_item_etl_run_id_etl_run')),
    sa.PrimaryKeyConstraint('item_code', name=op.f('pk_dim_service_item'))
    )
    with op.batch_alter_table('dim_service_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dim_service_item_dept_code'), ['dept_code'], unique=False)

    op.create_table('etl_cursor',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['etl_run.id'], name=op.f('fk_etl_cursor_run_id_etl_run')),
    sa.PrimaryKeyConstraint('source', 'stream', name=op.f('pk_etl_cursor'))
    )
    op.create_table('etl_rejected_row',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True),
    sa.Column('reason_code', sa.String(length=64), nullable=False),
    sa.Column('reason_zh', sa.String(length=256), nullable=False),
    sa.Column('reason_en', sa.String(length=256), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['etl_run.id'], name=op.f('fk_etl_rejected_row_run_id_etl_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_etl_rejected_row'))
    )
    with op.batch_alter_table('etl_rejected_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_etl_rejected_row_run_id'), ['run_id'], unique=False)

    op.create_table('fact_approval_case',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('item_known', sa.Boolean(), nullable=False),
    sa.Column('dept_code', sa.String(length=32), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('promised_days', sa.Integer(), nullable=True),
    sa.Column('statutory_days', sa.Integer(), nullable=True),
    sa.Column('suspended_days', sa.Integer(), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=True),
    sa.Column('visits', sa.Integer(), nullable=False),
    sa.Column('fully_online', sa.Boolean(), nullable=False),
    sa.Column('accepted_period', sa.String(length=7), nullable=False),
    sa.Column('completed_period', sa.String(length=7), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('etl_run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['etl_run_id'], ['etl_run.id'], name=op.f('fk_fact_approval_case_etl_run_id_etl_run')),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_fact_approval_case_region_code_dim_region')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_fact_approval_case'))
    )
    with op.batch_alter_table('fact_approval_case', schema=None) as batch_op:
        batch_op.create_index('ix_fact_approval_case_completed_period', ['completed_period'], unique=False)
        batch_op.create_index(batch_op.f('ix_fact_approval_case_item_code'), ['item_code'], unique=False)
        batch_op.create_index('ix_fact_approval_case_region_accepted', ['region_code', 'accepted_period'], unique=False)
        batch_op.create_index('ix_fact_approval_case_region_completed', ['region_code', 'completed_period'], unique=False)

    op.create_table('fact_county_figure',
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('indicator_code', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('etl_run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['etl_run_id'], ['etl_run.id'], name=op.f('fk_fact_county_figure_etl_run_id_etl_run')),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_fact_county_figure_region_code_dim_region')),
    sa.PrimaryKeyConstraint('region_code', 'period', 'indicator_code', name=op.f('pk_fact_county_figure'))
    )
    op.create_table('fact_hotline_ticket',
    sa.Column('ticket_id', sa.String(length=64), nullable=False),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('is_business_env', sa.Boolean(), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('received_period', sa.String(length=7), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('called_back_at', sa.DateTime(), nullable=True),
    sa.Column('resolved', sa.Boolean(), nullable=True),
    sa.Column('satisfaction', sa.String(length=32), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('etl_run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['etl_run_id'], ['etl_run.id'], name=op.f('fk_fact_hotline_ticket_etl_run_id_etl_run')),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_fact_hotline_ticket_region_code_dim_region')),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_fact_hotline_ticket'))
    )
    with op.batch_alter_table('fact_hotline_ticket', schema=None) as batch_op:
        batch_op.create_index('ix_fact_hotline_ticket_region_period', ['region_code', 'received_period'], unique=False)

    op.create_table('fact_rating',
    sa.Column('rating_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('rated_at', sa.DateTime(), nullable=False),
    sa.Column('rated_period', sa.String(length=7), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('verified_bad', sa.Boolean(), nullable=False),
    sa.Column('rectify_status', sa.String(length=16), nullable=True),
    sa.Column('rectified_at', sa.DateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('etl_run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['etl_run_id'], ['etl_run.id'], name=op.f('fk_fact_rating_etl_run_id_etl_run')),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_fact_rating_region_code_dim_region')),
    sa.PrimaryKeyConstraint('rating_id', name=op.f('pk_fact_rating'))
    )
    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fact_rating_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_fact_rating_region_period', ['region_code', 'rated_period'], unique=False)

    op.create_table('mart_kpi_monthly',
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('kpi_code', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('numerator', sa.Float(), nullable=True),
    sa.Column('denominator', sa.Float(), nullable=True),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_mart_kpi_monthly_region_code_dim_region')),
    sa.PrimaryKeyConstraint('region_code', 'period', 'kpi_code', name=op.f('pk_mart_kpi_monthly'))
    )
    with op.batch_alter_table('mart_kpi_monthly', schema=None) as batch_op:
        batch_op.create_index('ix_mart_kpi_monthly_period_kpi', ['period', 'kpi_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mart_kpi_monthly', schema=None) as batch_op:
        batch_op.drop_index('ix_mart_kpi_monthly_period_kpi')

    op.drop_table('mart_kpi_monthly')
    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_rating_region_period')
        batch_op.drop_index(batch_op.f('ix_fact_rating_case_id'))

    op.drop_table('fact_rating')
    with op.batch_alter_table('fact_hotline_ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_hotline_ticket_region_period')

    op.drop_table('fact_hotline_ticket')
    op.drop_table('fact_county_figure')
    with op.batch_alter_table('fact_approval_case', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_approval_case_region_completed')
        batch_op.drop_index('ix_fact_approval_case_region_accepted')
        batch_op.drop_index(batch_op.f('ix_fact_approval_case_item_code'))
        batch_op.drop_index('ix_fact_approval_case_completed_period')

    op.drop_table('fact_approval_case')
    with op.batch_alter_table('etl_rejected_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_etl_rejected_row_run_id'))

    op.drop_table('etl_rejected_row')
    op.drop_table('etl_cursor')
    with op.batch_alter_table('dim_service_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dim_service_item_dept_code'))

    op.drop_table('dim_service_item')
    with op.batch_alter_table('dim_region_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dim_region_alias_region_code'))

    op.drop_table('dim_region_alias')
    with op.batch_alter_table('etl_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_etl_run_job'))

    op.drop_table('etl_run')
    op.drop_table('etl_dirty_period')
    op.drop_table('dim_region')
    op.drop_table('dim_department')
    op.drop_table('dim_calendar')
