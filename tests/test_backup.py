"""`bizenv db backup` while the ETL writes: the backup is the warehouse as committed at one instant, on both engines.

The demo's source systems (scale 0.01, three months) are loaded by `bizenv etl run` in its own OS process, with the
approval platform served from this process and slowed a little per request, and approvals run last so that the
other jobs' marts exist when it is caught. Once approvals has committed a page, the ETL process is frozen (SIGSTOP)
at a moment when it is *inside* a write transaction (SQLite: it holds the file's write lock; PostgreSQL: its
backend holds a transaction id with uncommitted rows). Then, while it is frozen, the backup is taken and the
committed state is read from outside. Thawed, the ETL finishes.

Checked: the restored backup equals, table by table and row by row, what was committed at that instant (nothing
of the open transaction, nothing torn); it is a mid-run state (the earlier jobs succeeded with all their rows, the
approvals run says running, the facts of its committed pages have their dirty marks, the marts of finished jobs are
there); and the next ETL run over the restored copy, against untouched copies of the same sources, completes it
into the warehouse the uninterrupted run produced: the same row counts in every table, the same mart checksums.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from bizenv.backup import BackupError, backup_warehouse, find_pg_tool, restore_warehouse
from bizenv.cli import main
from etl.demo.approval_api import serve_in_thread
from etl.demo.generator import UnitSpec, generate_sources
from etl.demo_build import DEMO_LOCATIONS, month_span
from etl.jobs import run_jobs
from models.config import load_config
from models.db import Warehouse, make_engine
from tests.conftest import REPO, empty_warehouse_url

SCALE, MONTHS, END_MONTH = 0.01, 1, "2026-10"
PAGE_SIZE = 100  # about a dozen pages of approvals
# Seconds per /cases request, for the first requests of the watched run: about a second in which to catch it.
REQUEST_DELAY = (0.15, 6)
JOBS = ["catalogue", "ratings", "approvals"]  # approvals last, so the ratings marts exist when it is caught
ETL_APP_NAME = "bizenv-backup-test"  # PGAPPNAME of the ETL subprocess, to find its backends
CATCH_SECONDS = 30
RUN_SECONDS = 120
MART_TABLES = ("mart_kpi_monthly", "mart_county_ranking", "mart_county_indicator_score")
# Provenance: the run, the API page address and the line in that page that loaded a row differ between two runs
# of the same data (a resumed run's pages start at its cursor); what was loaded does not.
# Surrogate ids too: a PostgreSQL sequence is not transactional, so values taken by the transaction that was open
# at the backup are skipped in the restored copy.
PROVENANCE = {"id", "etl_run_id", "run_id", "received_at", "source", "source_line"}
BIZENV = [sys.executable, "-m", "bizenv.cli"]


@pytest.fixture(scope="module")
def pristine_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's source systems, generated once; each test loads copies (a load moves inbox files away)."""
    config = load_config(REPO / "config.yaml")
    start, end = month_span(END_MONTH, MONTHS)
    out = tmp_path_factory.mktemp("backup-sources") / "sources"
    units = [UnitSpec(code=u.code, name_zh=u.name_zh, short_zh=u.short_zh, name_en=u.short_en)
             for u in config.city.units]
    generate_sources(out_dir=out, units=units, start_month=start, end_month=end, scale=SCALE, seed=config.demo.seed)
    return out


def _sources_copy(pristine: Path, folder: Path) -> Path:
    shutil.copytree(pristine, folder)
    return folder


def _write_config(sources: Path, *, api: str, database_url: str) -> Path:
    """The repository config with its sources pointed at one copy of the demo sources."""
    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    src = raw["sources"]
    src["approval_api"].update(base_url=api, page_size=PAGE_SIZE, max_retries=2)
    src["hotline_db"]["url"] = f"sqlite:///{sources / DEMO_LOCATIONS['sql_view']}"
    src["ratings_inbox"]["path"] = str(sources / DEMO_LOCATIONS["ratings"])
    src["county_inbox"]["path"] = str(sources / DEMO_LOCATIONS["county"])
    raw["warehouse"]["url"] = database_url
    raw["ranking"]["draws"] = 50  # the rank intervals are not what is tested here: fewer draws, quicker marts
    path = sources.parent / f"{sources.name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _start_etl(cfg: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("BIZENV_DATABASE_URL", "BIZENV_CONFIG",
                                                            "BIZENV_APPROVAL_API_TOKEN")}
    env["PGAPPNAME"] = ETL_APP_NAME
    with log.open("wb") as out:
        return subprocess.Popen([*BIZENV, "--config", str(cfg), "etl", "run", *JOBS], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _norm(value: object) -> object:
    """One comparable form per value: floats to 12 significant digits, times as ISO text, booleans as 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float | decimal.Decimal):
        return float(f"{float(value):.12g}")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return value


def _contents(engine: Engine, *, skip: set[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every table's rows (without the `skip` columns), normalised and sorted: the database as committed."""
    out = {}
    with engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            cols = [c["name"] for c in inspect(conn).get_columns(table) if c["name"] not in skip]
            rows = conn.execute(text(f"SELECT {', '.join(cols)} FROM {table}"))
            out[table] = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
    return out


def _checksum(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.scalar(text(sql))


class _WriteProbe:
    """Whether a frozen ETL process is inside a write transaction, seen from outside."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.engine = make_engine(url) if self.sqlite else create_engine(url, isolation_level="AUTOCOMMIT")

    def inside_write(self) -> bool:
        if self.sqlite:  # one writer at a time: BEGIN IMMEDIATE fails at once while the ETL holds the write lock
            db = sqlite3.connect(make_url(self.url).database, timeout=0, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return True
                raise
            finally:
                db.close()
        sql = text("SELECT state, backend_xid IS NOT NULL AS wrote FROM pg_stat_activity "
                   "WHERE datname = current_database() AND application_name = :app")
        deadline = time.monotonic() + 5
        while True:  # wait until the server has run everything the frozen client sent
            with self.engine.connect() as conn:
                backends = conn.execute(sql, {"app": ETL_APP_NAME}).all()
            if all(b.state != "active" for b in backends) or time.monotonic() > deadline:
                return any(b.wrote and b.state == "idle in transaction" for b in backends)
            time.sleep(0.002)


def _approvals_mid_run(engine: Engine) -> bool:
    """The approvals run has started and committed at least one page."""
    try:
        return bool(_scalar(engine, "SELECT (SELECT COUNT(*) FROM etl_run WHERE job = 'approvals' AND status = "
                                    "'running') * (SELECT COUNT(*) FROM fact_approval_case)"))
    except Exception:  # noqa: BLE001 - tables not created yet by the ETL process
        return False


def _freeze_inside_write(proc: subprocess.Popen, probe: _WriteProbe, log: Path) -> int:
    """SIGSTOP the ETL once approvals has committed a page and it is inside a write transaction; the tries it took."""
    deadline, tries = time.monotonic() + CATCH_SECONDS, 0
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the ETL ended (exit {proc.returncode}) before it was caught inside a write after {tries} "
                        f"tries; raise REQUEST_DELAY\n{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"the ETL was not caught inside a write within {CATCH_SECONDS} s ({tries} tries)")
        if not _approvals_mid_run(probe.engine):
            time.sleep(0.01)
            continue
        os.kill(proc.pid, signal.SIGSTOP)
        tries += 1
        if probe.inside_write():
            return tries
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.001 + (tries % 7) * 0.002)  # vary the phase so the probe does not lock-step with the pages


@pytest.fixture
def restored_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second, empty database on the same engine, to restore into."""
    engine = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with empty_warehouse_url(engine, request=request, folder=tmp_path, stem="restored") as url:
        yield url


def test_backup_during_etl_is_the_committed_instant_and_the_next_run_completes_it(
    database_url: str, restored_url: str, pristine_sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BIZENV_DATABASE_URL", raising=False)
    started = time.monotonic()
    watched = _sources_copy(pristine_sources, tmp_path / "watched")
    spare = _sources_copy(pristine_sources, tmp_path / "spare")  # untouched sources for the run after the restore
    server, api = serve_in_thread(db_path=watched / "approval_platform.db",
                                  delays={("cases", 1): REQUEST_DELAY})
    log = tmp_path / "etl.log"
    probe = _WriteProbe(database_url)
    proc = _start_etl(_write_config(watched, api=api, database_url=database_url), log)
    try:
        tries = _freeze_inside_write(proc, probe, log)
        frozen_at = time.monotonic()
        try:
            copy = backup_warehouse(url=database_url, path=tmp_path / "mid-run.backup")
            committed = _contents(probe.engine)  # stable: the only writer is frozen
            assert probe.inside_write(), "the ETL must still hold its open write transaction"
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        backup_seconds = time.monotonic() - frozen_at
        proc.wait(RUN_SECONDS)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        server.shutdown()
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
    probe.engine.dispose()
    source = make_engine(database_url)  # now settled: the uninterrupted run's warehouse

    # --- the backup is exactly what was committed at that instant ---
    restored = restore_warehouse(path=copy.path, url=restored_url)
    assert dict(copy.tables) == dict(restored.tables) == {t: len(rows) for t, rows in committed.items()}
    restored_wh = Warehouse(restored_url)
    at_backup = _contents(restored_wh.engine)
    assert at_backup == committed, [t for t in committed if at_backup.get(t) != committed[t]]
    if restored_url.startswith("sqlite"):
        with restored_wh.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    # --- and it is a consistent mid-run state ---
    with restored_wh.engine.connect() as conn:
        runs = {job: (run_id, status) for run_id, job, status in conn.execute(
            text("SELECT id, job, status FROM etl_run"))}
    assert {job: status for job, (_id, status) in runs.items()} == {
        "catalogue": "success", "ratings": "success", "approvals": "running"}
    cases_then = len(at_backup["fact_approval_case"])
    cases_final = _scalar(source, "SELECT COUNT(*) FROM fact_approval_case")
    assert 0 < cases_then < cases_final, (cases_then, cases_final)
    loaded_by = "SELECT COUNT(*) FROM {table} WHERE etl_run_id = :r"
    with restored_wh.engine.connect() as conn, source.connect() as final:
        for job, (run_id, status) in runs.items():
            for table in ("dim_service_item", "fact_rating"):
                then = conn.scalar(text(loaded_by.format(table=table)), {"r": run_id})
                after = final.scalar(text(loaded_by.format(table=table)), {"r": run_id})
                assert then == after, f"{job} (run {run_id}, {status}) has {then} of its {after} rows in {table}"
        undirty = conn.scalar(text(
            "SELECT COUNT(*) FROM fact_approval_case f WHERE f.completed_period IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM etl_dirty_period d WHERE d.fact_table = 'fact_approval_case' "
            "AND d.region_code = f.region_code AND d.period = f.completed_period)"))
        assert undirty == 0, "facts of a committed page without their dirty mark: the marts would never see them"
    assert at_backup["fact_rating"] and at_backup["mart_kpi_monthly"] and at_backup["mart_county_ranking"]
    restored_wh.dispose()

    # --- the next run over the restored copy ends where the uninterrupted run ended ---
    server, api = serve_in_thread(db_path=spare / "approval_platform.db")
    try:
        cfg = load_config(_write_config(spare, api=api, database_url=restored_url))
        restored_wh = Warehouse(cfg.database_url())
        summaries = run_jobs(warehouse=restored_wh, config=cfg, names=JOBS)
    finally:
        server.shutdown()
    assert [s.status for s in summaries] == ["success"] * len(JOBS), [s.error for s in summaries]
    resumed = _contents(restored_wh.engine, skip=PROVENANCE)
    with restored_wh.engine.connect() as conn:
        abandoned = conn.scalar(text("SELECT status FROM etl_run WHERE id = :r"), {"r": runs["approvals"][0]})
    restored_wh.dispose()
    assert abandoned == "abandoned", "the run cut off by the backup is reaped by the next run"
    uninterrupted = _contents(source, skip=PROVENANCE)
    source.dispose()
    counts = {t: len(rows) for t, rows in resumed.items() if t != "etl_run"}
    assert counts == {t: len(rows) for t, rows in uninterrupted.items() if t != "etl_run"}
    assert len(resumed["etl_run"]) == len(uninterrupted["etl_run"]) + len(JOBS)
    for table in MART_TABLES:
        assert resumed[table], f"{table} is empty"
        assert _checksum(resumed[table]) == _checksum(uninterrupted[table]), f"{table} differs"
    for table in ("fact_approval_case", "fact_rating", "etl_rejected_row", "etl_file", "etl_cursor",
                  "etl_dirty_period"):
        assert resumed[table] == uninterrupted[table], f"{table} differs"
    print(f"caught inside a write after {tries} freeze(s) with {cases_then:,} of {cases_final:,} cases committed; "
          f"backup {copy.size_bytes:,} bytes in {backup_seconds:.2f} s while frozen; "
          f"test {time.monotonic() - started:.1f} s")



def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.scalar(text(f"SELECT COUNT(*) FROM {t}")) for t in inspect(conn).get_table_names()}


def _printed_counts(stdout: str) -> dict[str, int]:
    """The table lines of `db backup` / `db restore` output: '  name   1,234'."""
    return {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"^  (\w+) +([\d,]+)$", stdout, re.M)}


def _cli(args: list[str], *, database_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BIZENV_CONFIG"} | {"BIZENV_DATABASE_URL": database_url}
    return subprocess.run([*BIZENV, "--config", str(REPO / "config.yaml"), *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)


def _main(args: list[str], *, database_url: str, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The same command in this process (no interpreter start-up): exit code, stdout, stderr."""
    monkeypatch.setenv("BIZENV_DATABASE_URL", database_url)
    code = main(["--config", str(REPO / "config.yaml"), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_backup_and_restore_print_what_they_wrote_and_never_replace_by_accident(
    warehouse: Warehouse, restored_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = warehouse.engine.url.render_as_string(hide_password=False)
    with warehouse.engine.begin() as conn:
        conn.execute(text("INSERT INTO etl_run (job, trigger, started_at, finished_at, status, rows_read, "
                          "rows_inserted, rows_updated, rows_rejected) VALUES ('approvals', 'cli', :t, :t, "
                          "'success', 3, 3, 0, 0)"), {"t": dt.datetime(2026, 11, 2, 2, 5)})
    expected = _counts(warehouse.engine)
    assert expected["etl_run"] == 1 and expected["dim_region"] == 12 and expected["dim_calendar"] > 1000
    path = tmp_path / "nightly" / "bizenv.backup"

    made = _cli(["db", "backup", str(path)], database_url=url)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"backup written: {path} (") and "schema revision 0" in made.stdout
    assert _printed_counts(made.stdout) == expected
    assert f"{len(expected)} tables, {sum(expected.values()):,} rows" in made.stdout
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no partial file is left beside the backup"
    with pytest.raises(BackupError, match="already exists; choose another name or pass --force"):
        backup_warehouse(url=url, path=path)

    restored = _cli(["db", "restore", str(path), "--database", restored_url], database_url=url)
    assert restored.returncode == 0, restored.stderr
    assert _printed_counts(restored.stdout) == expected
    target = make_engine(restored_url)
    assert _counts(target) == expected

    with target.begin() as conn:  # the target drifts: a run is gone, a stray table appears
        conn.execute(text("DELETE FROM etl_run"))
        conn.execute(text("CREATE TABLE stray_table (x integer)"))
    drifted = _counts(target)
    code, _out, err = _main(["db", "restore", str(path), "--database", restored_url], database_url=url,
                            monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and "is not empty" in err and "--force" in err
    assert _counts(target) == drifted

    code, out, err = _main(["db", "restore", str(path), "--database", restored_url, "--force"], database_url=url,
                           monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert _printed_counts(out) == expected
    assert _counts(target) == expected, "a forced restore leaves exactly the backup's tables and rows"
    target.dispose()


def test_restore_refuses_what_is_not_a_backup_of_this_engine_and_names_missing_tools(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a backup", encoding="utf-8")
    with pytest.raises(BackupError, match="neither a SQLite database nor a pg_dump"):
        restore_warehouse(path=notes, url=f"sqlite:///{tmp_path / 'a.db'}")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(BackupError, match="not a bizenv warehouse"):
        restore_warehouse(path=other, url=f"sqlite:///{tmp_path / 'b.db'}")
    assert not (tmp_path / "b.db").exists()
    with pytest.raises(BackupError, match="is a sqlite backup; restore it into a sqlite warehouse"):
        restore_warehouse(path=other, url="postgresql://postgres@127.0.0.1:5432/bizenv")
    with pytest.raises(BackupError, match="no SQLite warehouse at"):
        backup_warehouse(url=f"sqlite:///{tmp_path / 'missing.db'}", path=tmp_path / "out" / "x.backup")
    assert list((tmp_path / "out").iterdir()) == [], "a failed backup leaves no file behind"
    with pytest.raises(BackupError, match=r"pg_dump not found \(looked in PATH\).*postgresql-client"):
        find_pg_tool("pg_dump", search_path="", extra_dirs=[])
