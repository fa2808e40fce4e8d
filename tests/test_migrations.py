"""Migrations yield exactly the models on both engines, and the revision chain is linear."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from models.config import Config
from models.db import Warehouse
from models.facts import FactApprovalCase, FactCountyFigure, FactHotlineTicket, FactRating
from models.migrate import downgrade, script_directory, upgrade
from models.ops import EtlRun
from models.regions import sync_regions
from models.schema import Base

CONTRACT_TABLES = {
    "dim_region", "dim_department", "dim_service_item", "dim_calendar", "fact_approval_case", "fact_rating",
    "fact_hotline_ticket", "fact_county_figure", "mart_kpi_monthly", "etl_run", "etl_rejected_row",
}
FACT_TABLES = [m.__tablename__ for m in (FactApprovalCase, FactRating, FactHotlineTicket, FactCountyFigure)]


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


def _rating(run_id: int, rating_id: str, region_code: str) -> dict:
    return dict(rating_id=rating_id, case_id=None, region_code=region_code, channel="pc",
                rated_at=dt.datetime(2026, 10, 8, 9, 12), rated_period="2026-10", level=1, comment="差",
                verified_bad=True, rectify_status=None, rectified_at=None, rectify_working_days=None, row_hash="h",
                etl_run_id=run_id, source="hcp.csv", source_line=2)


def _partial_index_sql(conn: Connection, name: str) -> str:
    if conn.dialect.name == "sqlite":
        return conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name})
    return conn.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": name})


def test_facts_lose_their_foreign_keys_and_keep_rows_and_partial_indexes(database_url: str, config: Config) -> None:
    """0014 drops the fact tables' foreign keys (SQLite rebuilds the tables): rows and partial indexes survive, and
    the downgrade puts the keys back."""
    wh = Warehouse(database_url)
    try:
        upgrade(wh.engine, "0013")
        with wh.session() as session:
            sync_regions(session=session, config=config)
        with wh.engine.begin() as conn:
            run_id = conn.execute(EtlRun.__table__.insert().values(
                job="ratings", trigger="test", started_at=dt.datetime(2026, 10, 9), status="success", rows_read=1,
                rows_inserted=1, rows_updated=0, rows_rejected=0)).inserted_primary_key[0]
            conn.execute(FactRating.__table__.insert().values(_rating(run_id, "r1", "140702")))
            assert {fk["referred_table"] for fk in inspect(conn).get_foreign_keys("fact_rating")} == {
                "dim_region", "etl_run"}
        upgrade(wh.engine)
        with wh.engine.begin() as conn:
            assert all(inspect(conn).get_foreign_keys(t) == [] for t in FACT_TABLES)
            assert "WHERE verified_bad" in _partial_index_sql(conn, "ix_fact_rating_verified_bad")
            assert conn.scalar(text("SELECT rating_id || '/' || region_code FROM fact_rating")) == "r1/140702"
            conn.execute(FactRating.__table__.insert().values(_rating(run_id, "r2", "140702")))
        downgrade(wh.engine, "0013")
        with wh.engine.connect() as conn:
            assert {fk["referred_table"] for fk in inspect(conn).get_foreign_keys("fact_rating")} == {
                "dim_region", "etl_run"}
            assert conn.scalar(text("SELECT COUNT(*) FROM fact_rating")) == 2
            assert "WHERE verified_bad" in _partial_index_sql(conn, "ix_fact_rating_verified_bad")
    finally:
        wh.dispose()
