"""rating level mart; drop the rating index that the level index covers

The service page's ratings-per-level chart counted every rating of its months (city-wide over 12 months at scale
0.2: 220k index entries, ~500 ms cold); the mart holds 5 rows per county-month. `ix_fact_rating_region_period`
is a prefix of `ix_fact_rating_region_period_level`, so it only slowed every rating insert.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mart_rating_level_monthly',
        sa.Column('region_code', sa.String(length=32), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('ratings', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['region_code'], ['dim_region.code'],
                                name=op.f('fk_mart_rating_level_monthly_region_code_dim_region')),
        sa.PrimaryKeyConstraint('region_code', 'period', 'level', name=op.f('pk_mart_rating_level_monthly')),
    )
    # An existing warehouse gets its counts now, as a rebuild would compute them.
    op.execute("INSERT INTO mart_rating_level_monthly (region_code, period, level, ratings) "
               "SELECT region_code, rated_period, level, COUNT(*) FROM fact_rating GROUP BY region_code, rated_period, level")
    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_rating_region_period')


def downgrade() -> None:
    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.create_index('ix_fact_rating_region_period', ['region_code', 'rated_period'], unique=False)
    op.drop_table('mart_rating_level_monthly')
