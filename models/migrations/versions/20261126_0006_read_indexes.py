"""read indexes for the dashboard's detail pages

Measured on the demo warehouse at scale 0.2 (438k ratings, 121k tickets, SQLite), city-wide, 12 months:
ratings per month and level 432 → 102 ms (covering index), unrectified bad reviews 445 → 0.3 ms (partial index on
the few percent verified bad), business-environment tickets by category 97 → 16 ms (partial index), one county's
open overdue cases 42 → 1 ms (the overdue partial index by region).
The partial indexes are used when a query repeats their predicate (see models/facts.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Spelled out, not imported: a migration must not change when the models do.
OVERDUE_INDEX_WHERE = 'due_period IS NOT NULL AND (completed_period IS NULL OR completed_period > due_period)'
VERIFIED_BAD = 'verified_bad'
BUSINESS_ENV = 'is_business_env'


def upgrade() -> None:
    with op.batch_alter_table('fact_approval_case', schema=None) as batch_op:
        batch_op.create_index('ix_fact_approval_case_overdue_region', ['region_code', 'due_period'], unique=False,
                              sqlite_where=sa.text(OVERDUE_INDEX_WHERE), postgresql_where=sa.text(OVERDUE_INDEX_WHERE))
    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.create_index('ix_fact_rating_region_period_level', ['region_code', 'rated_period', 'level'],
                              unique=False)
        batch_op.create_index('ix_fact_rating_verified_bad', ['region_code', 'rated_period'], unique=False,
                              sqlite_where=sa.text(VERIFIED_BAD), postgresql_where=sa.text(VERIFIED_BAD))
    with op.batch_alter_table('fact_hotline_ticket', schema=None) as batch_op:
        batch_op.create_index('ix_fact_hotline_ticket_business_env', ['region_code', 'received_period'], unique=False,
                              sqlite_where=sa.text(BUSINESS_ENV), postgresql_where=sa.text(BUSINESS_ENV))


def downgrade() -> None:
    with op.batch_alter_table('fact_hotline_ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_hotline_ticket_business_env')
    with op.batch_alter_table('fact_rating', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_rating_verified_bad')
        batch_op.drop_index('ix_fact_rating_region_period_level')
    with op.batch_alter_table('fact_approval_case', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_approval_case_overdue_region')
