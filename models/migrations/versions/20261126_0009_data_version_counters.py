"""data version counters for the dashboard's read cache

The read cache keyed every read by the newest successful ETL run, so each scheduler run made the whole cache cold,
even one that loaded nothing (a 15-minute increment with no new cases, a catch-up re-read of unchanged rows), and
a run that finished after a later-started one did not move the key at all. Two counters, moved by the ETL in the
transaction that records a run's end: `facts` only when the run changed facts, dimensions or marts, `ops` whenever
a run ends.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'etl_data_version',
        sa.Column('name', sa.String(length=16), nullable=False),
        sa.Column('value', sa.Integer(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_etl_data_version')),
    )


def downgrade() -> None:
    op.drop_table('etl_data_version')
