"""Operations tables: ETL runs, quarantined rows and incremental cursors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class EtlRun(Base):
    """One execution of one job; `status` is running, success, failed, or abandoned (its process died)."""

    __tablename__ = "etl_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Where the run's process lives, so a later run on the same host can tell a run that died from one running.
    host: Mapped[str | None] = mapped_column(String(128))
    pid: Mapped[int | None] = mapped_column(Integer)

    @property
    def rows_loaded(self) -> int:
        """Rows that changed the warehouse: inserted plus updated."""
        return (self.rows_inserted or 0) + (self.rows_updated or 0)


class EtlRejectedRow(Base):
    """A quarantined source row: where it came from, its raw values and why it was refused."""

    __tablename__ = "etl_rejected_row"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("etl_run.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(512))
    source_line: Mapped[int | None] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(64))
    reason_zh: Mapped[str] = mapped_column(String(256))
    reason_en: Mapped[str] = mapped_column(String(256))
    raw: Mapped[str] = mapped_column(Text)


class EtlCursor(Base):
    """The incremental position of a source, saved in the same transaction as the rows it covers."""

    __tablename__ = "etl_cursor"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int] = mapped_column(ForeignKey("etl_run.id"))


class EtlDirtyPeriod(Base):
    """A (fact table, region, month) whose facts changed but whose marts are not yet refreshed.

    Written in the same transaction as the facts, cleared in the same transaction as the mart refresh, so a crash
    between the two is repaired by the next run.
    """

    __tablename__ = "etl_dirty_period"

    fact_table: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)


class EtlFile(Base):
    """A delivered file, by checksum: the same bytes delivered twice are recognised and not loaded again."""

    __tablename__ = "etl_file"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    filename: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # loaded | failed
    run_id: Mapped[int] = mapped_column(ForeignKey("etl_run.id"), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    region_code: Mapped[str | None] = mapped_column(String(32))
    period: Mapped[str | None] = mapped_column(String(7))
    error: Mapped[str | None] = mapped_column(Text)


class EtlLock(Base):
    """A lease on a job, so two schedulers started by mistake never run the same job at once."""

    __tablename__ = "etl_lock"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


FACTS_VERSION = "facts"  # moves when facts, dimensions or marts changed: what the dashboard's KPI reads key on
OPS_VERSION = "ops"  # moves whenever a run ends (runs, files, rejects, "as of" times), and with every facts move


class EtlDataVersion(Base):
    """A counter the dashboard's read cache keys on, moved in the same transaction as what it stands for.

    A counter rather than "the newest run": runs of different jobs finish out of order, and a run that loaded
    nothing must not make every cached read cold.
    """

    __tablename__ = "etl_data_version"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)  # facts | ops
    value: Mapped[int] = mapped_column(Integer)
    # When it last moved (UTC, microseconds): a warehouse rebuilt from scratch restarts the counter, and the
    # time keeps its keys apart from the old warehouse's in a shared Redis.
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime)


def bump_data_version(*, conn: Connection, facts: bool) -> None:
    """Move the ops counter, and the facts counter too when facts or marts changed, in the caller's transaction."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    table = EtlDataVersion.__table__
    for name in (OPS_VERSION, FACTS_VERSION) if facts else (OPS_VERSION,):
        stmt = dialect.insert(table).values(name=name, value=1, changed_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=[table.c.name],
                                                set_={"value": table.c.value + 1, "changed_at": now}))
