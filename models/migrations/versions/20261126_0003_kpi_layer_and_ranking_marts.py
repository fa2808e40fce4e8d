"""KPI layer: due dates, bundles, rectification days, ranking marts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:10:16.869236
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Spelled out, not imported: a migration must not change when the models do.
OVERDUE = "due_period IS NOT NULL AND (completed_period IS NULL OR completed_period > due_period)"


def upgrade() -> None:
    op.create_table('mart_county_indicator_score',
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('kpi_code', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('adjusted_value', sa.Float(), nullable=True),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('points', sa.Float(), nullable=True),
    sa.Column('flag', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_mart_county_indicator_score_region_code_dim_region')),
    sa.PrimaryKeyConstraint('region_code', 'period', 'kpi_code', name=op.f('pk_mart_county_indicator_score'))
    )
    with op.batch_alter_table('mart_county_indicator_score', schema=None) as batch_op:
        batch_op.create_index('ix_mart_county_indicator_score_period', ['period'], unique=False)

    op.create_table('mart_county_ranking',
    sa.Column('region_code', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('composite', sa.Float(), nullable=True),
    sa.Column('score_approval', sa.Float(), nullable=True),
    sa.Column('score_ratings', sa.Float(), nullable=True),
    sa.Column('score_hotline', sa.Float(), nullable=True),
    sa.Column('score_county_development', sa.Float(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('rank_change', sa.Integer(), nullable=True),
    sa.Column('rank_low', sa.Integer(), nullable=True),
    sa.Column('rank_high', sa.Integer(), nullable=True),
    sa.Column('indicators_scored', sa.Integer(), nullable=False),
    sa.Column('flags', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f('fk_mart_county_ranking_region_code_dim_region')),
    sa.PrimaryKeyConstraint('region_code', 'period', name=op.f('pk_mart_county_ranking'))
    )
    with op.batch_alter_table('mart_county_ranking', schema=None) as batch_op:
        batch_op.create_index('ix_mart_county_ranking_period', ['period'], unique=False)

    with op.batch_alter_table('fact_approval_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('due_period', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('bundle_id', sa.String(length=64), nullable=True))
        batch_op.drop_index(batch_op.f('ix_fact_approval_case_item_code'))
        batch_op.create_index('ix_fact_approval_case_overdue', ['due_period'], unique=False,
                              sqlite_where=sa.text(OVERDUE), postgresql_where=sa.text(OVERDUE))
        batch_op.create_index('ix_fact_approval_case_bundle', ['completed_period', 'bundle_id'], unique=False,
                              sqlite_where=sa.text('bundle_id IS NOT NULL'),
                              postgresql_where=sa.text('bundle_id IS NOT NULL'))

    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rectify_working_days', sa.Integer(), nullable=True))

    with op.batch_alter_table('mart_kpi_monthly', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ci_low', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('ci_high', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('ytd_value', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('rolling3_value', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('mom_change', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('yoy_change', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('target_status', sa.String(length=8), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('mart_kpi_monthly', schema=None) as batch_op:
        batch_op.drop_column('target_status')
        batch_op.drop_column('yoy_change')
        batch_op.drop_column('mom_change')
        batch_op.drop_column('rolling3_value')
        batch_op.drop_column('ytd_value')
        batch_op.drop_column('ci_high')
        batch_op.drop_column('ci_low')

    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.drop_column('rectify_working_days')

    with op.batch_alter_table('fact_approval_case', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_approval_case_bundle')
        batch_op.drop_index('ix_fact_approval_case_overdue')
        batch_op.create_index(batch_op.f('ix_fact_approval_case_item_code'), ['item_code'], unique=False)
        batch_op.drop_column('bundle_id')
        batch_op.drop_column('due_period')
        batch_op.drop_column('due_date')

    with op.batch_alter_table('mart_county_ranking', schema=None) as batch_op:
        batch_op.drop_index('ix_mart_county_ranking_period')

    op.drop_table('mart_county_ranking')
    with op.batch_alter_table('mart_county_indicator_score', schema=None) as batch_op:
        batch_op.drop_index('ix_mart_county_indicator_score_period')

    op.drop_table('mart_county_indicator_score')
