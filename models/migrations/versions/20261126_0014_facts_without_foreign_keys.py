"""fact tables without foreign keys: the loader checks a batch's references in one query

PostgreSQL checks a foreign key with a trigger per inserted row, which locks the referenced row: COPY of a million
approval cases into the indexed table ran at 32-35k rows/s with the two foreign keys and 57-64k without. SQLite
measured no difference. The loader is the only writer of facts, and it now checks each batch's distinct region
codes and run id against `dim_region` and `etl_run` before writing (`etl.load.check_references`); regions and runs
are never deleted. The dimension, mart and ops tables keep theirs.

On SQLite the tables are rebuilt (batch mode), with their indexes, partial ones included.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 16:40:00
"""

from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# Spelled out, not imported: a migration must not change when the models do.
FACT_TABLES = ('fact_approval_case', 'fact_rating', 'fact_hotline_ticket', 'fact_county_figure')
REFERENCES = (('region_code', 'dim_region', 'code'), ('etl_run_id', 'etl_run', 'id'))


def _name(table: str, column: str, parent: str) -> str:
    return f'fk_{table}_{column}_{parent}'


def upgrade() -> None:
    for table in FACT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, parent, _key in REFERENCES:
                batch_op.drop_constraint(_name(table, column, parent), type_='foreignkey')


def downgrade() -> None:
    for table in FACT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, parent, key in REFERENCES:
                batch_op.create_foreign_key(_name(table, column, parent), parent, [column], [key])
