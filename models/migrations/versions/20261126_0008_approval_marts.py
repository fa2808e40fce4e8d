"""approval item and working-days marts

The approvals page's item ranking and working-days distribution summed every completed case of the chosen months
(a city-month at full volume: ~110k cases, 200+ ms cold). These marts hold the same sums per county-month at the
grain of the page's filters (department, channel; item or working days).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Frozen copies of models.approval_marts' statements, as they stood when this revision was written.
COUNTED = "status = 'completed' AND working_days IS NOT NULL AND completed_period IS NOT NULL"
DEPT = "COALESCE(dept_code, '')"
LIMITED = "statutory_days > 0 AND promised_days IS NOT NULL"
LATE = "promised_days IS NOT NULL AND working_days > promised_days"


def _key(name: str, *extra: sa.Column) -> list:
    return [sa.Column('region_code', sa.String(length=32), nullable=False),
            sa.Column('period', sa.String(length=7), nullable=False), *extra,
            sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'], name=op.f(f'fk_{name}_region_code_dim_region'))]


def upgrade() -> None:
    op.create_table(
        'mart_approval_item_monthly',
        *_key('mart_approval_item_monthly'),
        sa.Column('item_code', sa.String(length=64), nullable=False),
        sa.Column('dept_code', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('days_sum', sa.Integer(), nullable=False),
        sa.Column('days_max', sa.Integer(), nullable=False),
        sa.Column('late_cases', sa.Integer(), nullable=False),
        sa.Column('promised_max', sa.Integer(), nullable=True),
        sa.Column('statutory_max', sa.Integer(), nullable=True),
        sa.Column('limited_promised_sum', sa.Integer(), nullable=True),
        sa.Column('limited_statutory_sum', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('region_code', 'period', 'item_code', 'dept_code', 'channel',
                                name=op.f('pk_mart_approval_item_monthly')),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'mart_approval_days_monthly',
        *_key('mart_approval_days_monthly'),
        sa.Column('dept_code', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('working_days', sa.Integer(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('within_cases', sa.Integer(), nullable=False),
        sa.Column('beyond_cases', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('region_code', 'period', 'dept_code', 'channel', 'working_days',
                                name=op.f('pk_mart_approval_days_monthly')),
        sqlite_with_rowid=False,
    )
    # An existing warehouse gets its sums now, as a rebuild would compute them.
    op.execute(f"""
        INSERT INTO mart_approval_item_monthly (region_code, period, item_code, dept_code, channel, cases, days_sum,
            days_max, late_cases, promised_max, statutory_max, limited_promised_sum, limited_statutory_sum)
        SELECT region_code, completed_period, item_code, {DEPT}, channel, COUNT(*), SUM(working_days),
               MAX(working_days), SUM(CASE WHEN {LATE} THEN 1 ELSE 0 END), MAX(promised_days), MAX(statutory_days),
               SUM(CASE WHEN {LIMITED} THEN promised_days END), SUM(CASE WHEN {LIMITED} THEN statutory_days END)
        FROM fact_approval_case WHERE {COUNTED}
        GROUP BY region_code, completed_period, item_code, {DEPT}, channel""")
    op.execute(f"""
        INSERT INTO mart_approval_days_monthly (region_code, period, dept_code, channel, working_days, cases,
            within_cases, beyond_cases)
        SELECT region_code, completed_period, {DEPT}, channel, working_days, COUNT(*),
               SUM(CASE WHEN promised_days IS NOT NULL AND working_days <= promised_days THEN 1 ELSE 0 END),
               SUM(CASE WHEN {LATE} THEN 1 ELSE 0 END)
        FROM fact_approval_case WHERE {COUNTED}
        GROUP BY region_code, completed_period, {DEPT}, channel, working_days""")


def downgrade() -> None:
    op.drop_table('mart_approval_days_monthly')
    op.drop_table('mart_approval_item_monthly')
