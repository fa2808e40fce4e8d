"""Warehouse backups an operator can take while the ETL writes, and restores that never replace data by accident.

- SQLite: the online backup API (`sqlite3.Connection.backup`) copies every page in one step, inside one read
  transaction, so the copy is the database exactly as committed at one instant; in WAL mode the ETL keeps writing
  meanwhile (a half-written page transaction is not in the copy). The copy is switched to a rollback journal, so it
  is one self-contained file, passes `quick_check`, and is renamed into place only when whole.
- PostgreSQL: `pg_dump -Fc` on a snapshot exported from a REPEATABLE READ transaction, so the row counts reported
  are those of the dump; restored with `pg_restore` in a single transaction (all or nothing).

A restore refuses a target that already holds tables unless forced; forced, the target's tables are replaced
(SQLite: page by page through the backup API; PostgreSQL: dropped and restored in one transaction).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from models.db import SQLITE_BUSY_TIMEOUT_MS, make_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
PG_BIN_DIRS = "/usr/lib/postgresql/*/bin"  # Debian/Ubuntu keep every installed client version here
REVISION_TABLE = "alembic_version"
# Relations a forced PostgreSQL restore drops first (relkind -> DROP keyword), views before what they read.
_PG_DROPS = (("v", "VIEW"), ("m", "MATERIALIZED VIEW"), ("r", "TABLE"), ("p", "TABLE"), ("S", "SEQUENCE"))


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


class RestoreRefused(BackupError):
    """The restore target already holds tables; `--force` replaces them."""


@dataclass(frozen=True, slots=True)
class WarehouseCopy:
    """What a backup wrote or a restore produced: the file, the database, its schema revision, every table's rows."""

    path: Path
    size_bytes: int
    engine: str  # sqlite | postgresql
    database: str  # the URL backed up or restored into, password hidden
    revision: str | None
    tables: tuple[tuple[str, int], ...]

    @property
    def total_rows(self) -> int:
        """Rows over all tables."""
        return sum(n for _, n in self.tables)


def engine_kind(*, url: str) -> str:
    """'sqlite' or 'postgresql' for a warehouse URL; anything else cannot be backed up here."""
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {backend} database: only SQLite and PostgreSQL warehouses")
    return backend


def backup_kind(*, path: Path) -> str:
    """Which engine wrote a backup file, from its first bytes: 'sqlite' or 'postgresql' (a pg_dump -Fc archive)."""
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither a SQLite database nor a pg_dump custom-format archive")


def _hidden(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _tool_version(path: str) -> tuple[int, ...]:
    """The version a PostgreSQL client tool reports (`pg_dump (PostgreSQL) 15.20 …` -> (15, 20)); () if it fails."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    match = re.search(r"\)\s*(\d+(?:\.\d+)*)", out)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def find_pg_tool(name: str, *, search_path: str | None = None, extra_dirs: Sequence[str] | None = None) -> str:
    """The newest `name` (pg_dump, pg_restore, psql) on PATH or in /usr/lib/postgresql/*/bin.

    The newest, because a client dumps and restores servers of its own major version and older, not newer.
    """
    dirs = list(extra_dirs) if extra_dirs is not None else sorted(glob.glob(PG_BIN_DIRS))
    found = {p for p in [shutil.which(name, path=search_path if search_path is not None else os.environ.get("PATH")),
                         *(shutil.which(name, path=d) for d in dirs)] if p}
    if not found:
        where = ", ".join(["PATH", *(dirs or ([PG_BIN_DIRS] if extra_dirs is None else []))])
        raise BackupError(f"{name} not found (looked in {where}); install the PostgreSQL client tools "
                          "(Debian: apt-get install postgresql-client) matching the server's major version")
    return max(sorted(found), key=_tool_version)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it (never on a command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = URL.create("postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
                     database=parsed.database, query=parsed.query)
    return uri.render_as_string(hide_password=False), env


def _run(args: list[str], *, env: dict[str, str], what: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise BackupError(f"{what} failed (exit {proc.returncode}): {detail}")


def table_counts(*, conn: Connection) -> tuple[tuple[str, int], ...]:
    """Every table of the connection's schema with its row count, by name."""
    quote = conn.dialect.identifier_preparer.quote
    names = sorted(inspect(conn).get_table_names())
    return tuple((n, int(conn.scalar(text(f"SELECT COUNT(*) FROM {quote(n)}")))) for n in names)


def schema_revision(*, conn: Connection) -> str | None:
    """The Alembic revision the database is at; None when it was never migrated."""
    if not inspect(conn).has_table(REVISION_TABLE):
        return None
    return conn.scalar(text(f"SELECT version_num FROM {REVISION_TABLE}"))


def _describe_sqlite(path: Path) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    """Revision and row counts of a SQLite file, read as it is (no WAL switch, no pragmas)."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return schema_revision(conn=conn), table_counts(conn=conn)
    finally:
        engine.dispose()


def _partial(path: Path) -> Path:
    """A hidden sibling to write into, renamed over `path` only when the backup is whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    return Path(name)


def _sqlite_check(db: sqlite3.Connection, what: str) -> None:
    result = [r[0] for r in db.execute("PRAGMA quick_check")]
    if result != ["ok"]:
        raise BackupError(f"{what} fails SQLite's quick_check: {'; '.join(result[:5])}")


def _backup_sqlite(*, source: Path, tmp: Path) -> None:
    """One-step online backup: one read transaction, so one committed instant, while writers go on (WAL)."""
    if not source.is_file():
        raise BackupError(f"no SQLite warehouse at {source}")
    src = sqlite3.connect(source, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # pages=-1: every page in one step
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal/-shm beside it
            _sqlite_check(dst, "the backup")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {source} failed: {exc}") from exc
    finally:
        src.close()


def _backup_postgres(*, url: str, tmp: Path) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    """pg_dump on a snapshot this transaction exports, then the revision and counts read on that same snapshot."""
    pg_dump = find_pg_tool("pg_dump")
    uri, env = _libpq(url)
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
            with conn.begin():
                snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
                _run([pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}", f"--file={tmp}",
                      f"--dbname={uri}"], env=env, what="pg_dump")
                return schema_revision(conn=conn), table_counts(conn=conn)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read {_hidden(url)}: {getattr(exc, 'orig', exc)}") from exc
    finally:
        engine.dispose()


def backup_warehouse(*, url: str, path: Path, overwrite: bool = False) -> WarehouseCopy:
    """Back the warehouse at `url` up into the file `path`, consistently, while the ETL and dashboard run."""
    kind = engine_kind(url=url)
    path = Path(path).expanduser().resolve()
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists; choose another name or pass --force to replace it")
    tmp = _partial(path)
    try:
        if kind == "sqlite":
            _backup_sqlite(source=Path(make_url(url).database or ""), tmp=tmp)
            revision, tables = _describe_sqlite(tmp)
        else:
            revision, tables = _backup_postgres(url=url, tmp=tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return WarehouseCopy(path=path, size_bytes=path.stat().st_size, engine=kind, database=_hidden(url),
                         revision=revision, tables=tables)


def _sqlite_tables(path: Path) -> list[str]:
    if not path.is_file() or path.stat().st_size == 0:
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'sqlite_%'")]
    finally:
        db.close()


def _refuse(target: str, existing: Iterable[str]) -> RestoreRefused:
    names = sorted(existing)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return RestoreRefused(f"{target} is not empty ({len(names)} tables: {shown}); restore into a new, empty "
                          "database, or pass --force to replace its contents")


def _restore_sqlite(*, path: Path, url: str, force: bool) -> None:
    target = make_url(url).database
    if not target or target == ":memory:":
        raise BackupError("restore needs a SQLite file as target, not an in-memory database")
    target_path = Path(target)
    try:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            _sqlite_check(src, str(path))
            if not src.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (REVISION_TABLE,)).fetchone():
                raise BackupError(f"{path} is a SQLite database but not a bizenv warehouse (no {REVISION_TABLE})")
            existing = _sqlite_tables(target_path)
            if existing and not force:
                raise _refuse(_hidden(url), existing)
            target_path.parent.mkdir(parents=True, exist_ok=True)
            dst = sqlite3.connect(target_path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            try:
                src.backup(dst)  # replaces every page of the target, also under open readers
                dst.execute("PRAGMA journal_mode=WAL")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite restore into {target_path} failed: {exc}") from exc


def _pg_relations(conn: Connection) -> list[tuple[str, str]]:
    """(name, relkind) of the tables, views and sequences in the connection's current schema."""
    rows = conn.execute(text(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"))
    return [(r[0], r[1]) for r in rows]


def _drop_sql(conn: Connection, relations: list[tuple[str, str]]) -> str:
    """DROP statements for a forced restore, schema-qualified (pg_restore's script empties the search_path)."""
    prep = conn.dialect.identifier_preparer
    schema = prep.quote(conn.scalar(text("SELECT current_schema()")))
    statements = []
    for relkind, keyword in _PG_DROPS:
        names = [f"{schema}.{prep.quote(n)}" for n, k in relations if k == relkind]
        if names:
            statements.append(f"DROP {keyword} IF EXISTS {', '.join(names)} CASCADE;")
    return "\n".join(statements)


def _restore_postgres(*, path: Path, url: str, force: bool) -> None:
    pg_restore = find_pg_tool("pg_restore")
    uri, env = _libpq(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            relations = _pg_relations(conn)
            drops = _drop_sql(conn, relations)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot connect to {_hidden(url)} (create the database first, e.g. `createdb`): "
                          f"{getattr(exc, 'orig', exc)}") from exc
    finally:
        engine.dispose()
    if relations and not force:
        tables = [name for name, kind in relations if kind != "S"]
        raise _refuse(_hidden(url), tables or [name for name, _kind in relations])
    common = ["--no-owner", "--no-privileges", "--exit-on-error"]
    if not relations:
        _run([pg_restore, *common, "--single-transaction", "--no-password", f"--dbname={uri}", str(path)], env=env,
             what="pg_restore")
        return
    # Forced: the old relations are dropped and the dump restored in one psql transaction, so a failure keeps the
    # old contents and no table of a newer schema is left behind next to the restored ones.
    _replace_postgres(pg_restore=pg_restore, psql=find_pg_tool("psql"), args=[*common, "--file=-", str(path)],
                      drops=drops, uri=uri, env=env, target=_hidden(url))


def _replace_postgres(*, pg_restore: str, psql: str, args: list[str], drops: str, uri: str, env: dict[str, str],
                      target: str) -> None:
    """Stream pg_restore's script into one psql transaction that commits only if pg_restore read the whole dump.

    psql commits when its input ends, so the script is copied through here: if pg_restore fails (a truncated or
    damaged file), psql is killed before it sees the end, and PostgreSQL rolls the transaction back.
    """
    with tempfile.TemporaryFile() as script_err, tempfile.TemporaryFile() as psql_err:
        script = subprocess.Popen([pg_restore, *args], stdout=subprocess.PIPE, stderr=script_err, env=env)
        apply = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "--no-password", "--single-transaction", "-v",
                                  "ON_ERROR_STOP=1", "-c", drops, "-f", "-", f"--dbname={uri}"],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env)
        assert script.stdout is not None and apply.stdin is not None
        try:
            shutil.copyfileobj(script.stdout, apply.stdin, 1 << 20)
        except BrokenPipeError:
            pass  # psql stopped at an error; its message says which
        finally:
            script.stdout.close()
            script.wait()
        if script.returncode != 0:
            apply.kill()
        try:
            apply.stdin.close()
        except BrokenPipeError:
            pass
        apply.wait()
        script_err.seek(0)
        psql_err.seek(0)
        reading = script_err.read().decode("utf-8", "replace").strip()[-2000:]
        applying = psql_err.read().decode("utf-8", "replace").strip()[-2000:]
    if script.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {script.returncode}), {target} was left as it was: {reading}")
    if apply.returncode != 0:
        raise BackupError(f"psql failed while replacing {target}, which was left as it was: {applying}")


def restore_warehouse(*, path: Path, url: str, force: bool = False) -> WarehouseCopy:
    """Restore a backup file into the database at `url`; a target that holds tables needs `force`."""
    path = Path(path).expanduser().resolve()
    kind, target = backup_kind(path=path), engine_kind(url=url)
    if kind != target:
        raise BackupError(f"{path} is a {kind} backup; restore it into a {kind} warehouse, not {_hidden(url)}")
    if kind == "sqlite":
        _restore_sqlite(path=path, url=url, force=force)
    else:
        _restore_postgres(path=path, url=url, force=force)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            revision, tables = schema_revision(conn=conn), table_counts(conn=conn)
    finally:
        engine.dispose()
    return WarehouseCopy(path=path, size_bytes=path.stat().st_size, engine=kind, database=_hidden(url),
                         revision=revision, tables=tables)
