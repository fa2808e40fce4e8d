"""Migrations yield exactly the models on both engines, and the revision chain is linear."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from models.db import Warehouse
from models.migrate import downgrade, script_directory, upgrade
from models.schema import Base

CONTRACT_TABLES = {
    "dim_region", "dim_department", "dim_service_item", "dim_calendar", "fact_approval_case", "fact_rating",
    "fact_hotline_ticket", "fact_county_figure", "mart_kpi_monthly", "etl_run", "etl_rejected_row",
}


def test_upgrade_on_empty_database_matches_models(database_url: str) -> None:
    wh = Warehouse(database_url)
    try:
        upgrade(wh.engine)
        with wh.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == []
        assert CONTRACT_TABLES <= tables
        downgrade(wh.engine, "base")
        with wh.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        wh.dispose()


def test_revision_chain_is_linear() -> None:
    scripts = script_directory()
    heads = scripts.get_heads()
    assert len(heads) == 1, f"several heads: {heads}"
    seen = 0
    for rev in scripts.walk_revisions():
        assert not isinstance(rev.down_revision, tuple), f"merge revision {rev.revision}"
        assert len(rev.nextrev) <= 1, f"branch at {rev.revision}"
        seen += 1
    assert seen == len(list(scripts.walk_revisions()))
    assert len(scripts.get_bases()) == 1


def test_sqlite_pragmas_are_on(tmp_path) -> None:
    wh = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    with wh.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    wh.dispose()
