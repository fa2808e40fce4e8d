"""business-environment ticket index covers the category chart's columns

The service page counts a county's (or the city's) business-environment tickets by category over a range of months,
with how many were closed late or are open past due. Keyed by (region_code, received_period) alone, the partial
index listed the tickets and each was then read from the table for its category and times: 30k random reads for a
city-wide year at full volume (160-270 ms). With category, closed_at and due_at in the index, the count is read
from the index alone. The index holds only the business-environment tickets (about a tenth of all).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Spelled out, not imported: a migration must not change when the models do.
BUSINESS_ENV_INDEX_WHERE = 'is_business_env'
NAME = 'ix_fact_hotline_ticket_business_env'


def _create(columns: list[str]) -> None:
    with op.batch_alter_table('fact_hotline_ticket', schema=None) as batch_op:
        batch_op.create_index(NAME, columns, unique=False, sqlite_where=sa.text(BUSINESS_ENV_INDEX_WHERE),
                              postgresql_where=sa.text(BUSINESS_ENV_INDEX_WHERE))


def upgrade() -> None:
    with op.batch_alter_table('fact_hotline_ticket', schema=None) as batch_op:
        batch_op.drop_index(NAME)
    _create(['region_code', 'received_period', 'category', 'closed_at', 'due_at', 'is_business_env'])


def downgrade() -> None:
    with op.batch_alter_table('fact_hotline_ticket', schema=None) as batch_op:
        batch_op.drop_index(NAME)
    _create(['region_code', 'received_period'])
