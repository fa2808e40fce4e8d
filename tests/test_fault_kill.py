"""`kill -9` of the ETL process in the middle of a page transaction, for real, on both engines.

The ETL runs as its own OS process (`python -m bizenv.cli etl run catalogue approvals`) against a hand-made
approval platform of 30k cases (pages of 2,000) served over HTTP from this process. Once about three pages have
committed, the test repeatedly freezes the process with SIGSTOP and looks at the warehouse from outside: is the
process inside a page transaction that has already merged facts? (PostgreSQL: its backend, found by PGAPPNAME,
is idle in a transaction holding a RowExclusiveLock on the fact table; SQLite: the file's write lock is held.)
If not, SIGCONT and look again a few milliseconds later. If so, the committed state is snapshotted and the process
gets SIGKILL. So the kill always lands between the merge of a page and its commit, never by luck.

Then: the warehouse equals the snapshot (nothing of the open page survived; on PostgreSQL its transaction is
reported aborted, on SQLite the file passes integrity_check), every committed page is whole (facts and quarantine
are exactly the source rows up to the saved cursor), the killed run is left 'running' until the next run marks it
abandoned, the next run completes, and facts, marts and quarantine equal those of an uninterrupted run into a fresh
warehouse on the same engine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from etl.demo.approval_api import serve_in_thread
from etl.jobs import run_job, run_jobs
from models.config import Config, load_config
from models.db import Warehouse, make_engine
from models.migrate import prepare_warehouse
from tests.conftest import REPO, empty_warehouse_url
from tests.test_etl_approvals import BAD, CASE_COLS, GOOD, ITEM_COLS, ITEMS, _case, _config_for, _write_platform

N_CASES = 30_000
PAGE_SIZE = 2_000
REQUEST_DELAY = 0.1  # seconds per /cases request: with 16 pages the load takes a couple of seconds
REGIONS = ["140702", "140703", "140721", "140722", "140723", "140724", "140725", "140727", "140728", "140729",
           "140781", "140726", "平遥县"]  # a retired code and a name resolve too
KILL_AFTER_FACTS = 5_000  # kill once about three pages have committed, so several whole pages are checked
CATCH_SECONDS = 30  # how long to keep trying to freeze the ETL inside a page transaction
RUN_SECONDS = 60  # an ETL subprocess that has not finished by then has hung
JOBS = ["catalogue", "approvals"]
ETL_APP_NAME = "bizenv-fault-kill"  # PGAPPNAME of the ETL subprocess, to find its backends in pg_stat_activity

FACT_COLUMNS = "case_id, row_hash, working_days, region_code, completed_period"
MART_COLUMNS = "region_code, period, kpi_code, value, numerator, denominator, sample_size"


def _ts(value: dt.datetime | str) -> str:
    """'YYYY-MM-DD HH:MM:SS', from a datetime (PostgreSQL returns one) or the text SQLite stores."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else str(value)


def _platform_cases() -> tuple[list[tuple], dict[str, str]]:
    """30k cases with distinct, increasing GXSJ; about 1 in 300 is bad. Returns the rows and bad id -> reason.

    No bad row ends a page: page k ends at row 1999·k (0-based), because each keyset request after the first
    re-reads the boundary row. A bad row there would be quarantined again by the resumed run (a known product
    problem, see test_rejected_row_at_the_cursor_is_quarantined_once below).
    """
    updated0, accepted0 = dt.datetime(2026, 3, 1), dt.datetime(2025, 1, 2, 9)
    rows, bad = [], {}
    for i in range(N_CASES):
        cid, item, region = f"K{i:06d}", ("I1", "I2", "I3", "X9")[i % 4], REGIONS[i % len(REGIONS)]
        accepted = accepted0 + dt.timedelta(days=(i * 7) % 420, minutes=i % 480)
        completed = accepted + dt.timedelta(days=i % 13, hours=1)
        updated = _ts(updated0 + dt.timedelta(seconds=i))
        if i % 293 == 41:
            assert i % (PAGE_SIZE - 1) != 0, "a bad row must not end a page"
            kind = (i // 293) % 3
            if kind == 0:
                rows.append(_case(cid, item, region, _ts(accepted), _ts(accepted - dt.timedelta(days=1)),
                                  updated=updated))
                bad[cid] = "completed_before_accepted"
            elif kind == 1:
                rows.append(_case(cid, item, "140799", _ts(accepted), _ts(completed), updated=updated))
                bad[cid] = "unknown_region"
            else:
                rows.append(_case(cid, item, region, _ts(accepted), _ts(completed), pdcs=-1, updated=updated))
                bad[cid] = "negative_count"
        elif i % 10 == 3:
            rows.append(_case(cid, item, region, _ts(accepted), None, status="在办", updated=updated))
        else:
            rows.append(_case(cid, item, region, _ts(accepted), _ts(completed), ztts=i % 3, cnsx=1 + i % 6,
                              updated=updated))
    return rows, bad


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple], dict[str, str]]:
    path = tmp_path_factory.mktemp("platform") / "platform.db"
    rows, bad = _platform_cases()
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE items ({', '.join(ITEM_COLS)})")
        db.execute(f"CREATE TABLE cases ({', '.join(CASE_COLS)})")
        db.executemany(f"INSERT INTO items VALUES ({', '.join('?' * len(ITEM_COLS))})", ITEMS)
        db.executemany(f"INSERT INTO cases VALUES ({', '.join('?' * len(CASE_COLS))})", rows)
    db.close()
    return path, rows, bad


@pytest.fixture
def api(platform: tuple[Path, list[tuple], dict[str, str]]) -> Iterator[str]:
    server, url = serve_in_thread(db_path=platform[0], delays={("cases", 1): REQUEST_DELAY})
    try:
        yield url
    finally:
        server.shutdown()


@pytest.fixture
def reference_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second empty warehouse on the same engine, for the uninterrupted run."""
    engine = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with empty_warehouse_url(engine, request=request, folder=tmp_path, stem="reference") as url:
        yield url


def _write_config(tmp_path: Path, *, api: str, database_url: str) -> Path:
    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    raw["sources"]["approval_api"].update(base_url=api, page_size=PAGE_SIZE, max_retries=2)
    raw["warehouse"]["url"] = database_url
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _start_etl(cfg_path: Path, tmp_path: Path, tag: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("BIZENV_DATABASE_URL", "BIZENV_APPROVAL_API_TOKEN",
                                                            "BIZENV_CONFIG")}
    env["PGAPPNAME"] = ETL_APP_NAME
    out = (tmp_path / f"{tag}.out").open("wb")
    err = (tmp_path / f"{tag}.err").open("wb")
    with out, err:
        return subprocess.Popen([sys.executable, "-m", "bizenv.cli", "--config", str(cfg_path), "etl", "run", *JOBS],
                                cwd=REPO, env=env, stdout=out, stderr=err)


def _output(tmp_path: Path, tag: str) -> str:
    return "\n".join(f"[{tag}.{s}]\n" + (tmp_path / f"{tag}.{s}").read_text(encoding="utf-8", errors="replace")[-3000:]
                     for s in ("out", "err"))


def _alive_pid(pid: int) -> bool:
    """Whether a process runs (a zombie has finished)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children_of(pid: int) -> set[int]:
    """The live child processes of `pid`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else None
        except OSError:
            continue
        if fields and int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)  # kills a stopped process too
        proc.wait(10)


def _rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Everything a page transaction writes, plus the marts and the run log, as committed."""
    return {
        "facts": _rows(engine, f"SELECT {FACT_COLUMNS}, source_updated_at, etl_run_id FROM fact_approval_case "
                               "ORDER BY case_id"),
        "rejects": _rows(engine, "SELECT id, run_id, dataset, reason_code, raw FROM etl_rejected_row ORDER BY id"),
        "dirty": _rows(engine, "SELECT fact_table, region_code, period FROM etl_dirty_period ORDER BY 1, 2, 3"),
        "cursor": _rows(engine, "SELECT source, stream, value, run_id FROM etl_cursor ORDER BY 1, 2"),
        "marts": _rows(engine, f"SELECT {MART_COLUMNS} FROM mart_kpi_monthly ORDER BY 1, 2, 3"),
        "runs": _rows(engine, "SELECT id, job, status, finished_at FROM etl_run ORDER BY id"),
    }


class _Probe:
    """Looks, from outside, whether a frozen ETL process is inside a page transaction that has merged facts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.engine = make_engine(url) if self.sqlite else create_engine(url, isolation_level="AUTOCOMMIT")
        self.xid: str | None = None

    def dispose(self) -> None:
        self.engine.dispose()

    def inside_write(self) -> bool:
        return self._sqlite_write_locked() if self.sqlite else self._pg_inside()

    def _sqlite_write_locked(self) -> bool:
        """SQLite allows one writer: BEGIN IMMEDIATE fails at once while the ETL holds the write lock."""
        db = sqlite3.connect(make_url(self.url).database, timeout=0, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return True
            raise
        else:
            db.execute("ROLLBACK")
            return False
        finally:
            db.close()

    def _pg_inside(self) -> bool:
        """The ETL's backend, once it has processed all the frozen client sent, holds the fact table's write lock."""
        sql = text("""
            SELECT a.pid, a.state, a.wait_event, a.backend_xid::text,
                   EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted
                           AND l.relation = 'fact_approval_case'::regclass AND l.mode = 'RowExclusiveLock')
            FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.application_name = :app
        """)
        deadline = time.monotonic() + 5
        while True:
            with self.engine.connect() as conn:
                backends = conn.execute(sql, {"app": ETL_APP_NAME}).all()
            settled = all((b.state or "").startswith("idle") or b.wait_event == "ClientRead" for b in backends)
            if settled:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the frozen ETL's backends never settled: {backends}")
            time.sleep(0.002)
        holding = [b for b in backends if b[4] and b.backend_xid]
        self.xid = holding[0].backend_xid if holding else None
        return bool(holding)

    def xid_status(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(text("SELECT txid_status(CAST(:x AS bigint))"), {"x": self.xid})

    def etl_backends(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(text("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND application_name = :app"), {"app": ETL_APP_NAME})


def _committed(engine: Engine) -> tuple:
    """A cheap fingerprint of what page transactions have committed so far."""
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT COUNT(*) FROM fact_approval_case), (SELECT COUNT(*) FROM etl_rejected_row), "
            "(SELECT value FROM etl_cursor WHERE source = 'approval_api' AND stream = 'cases')")).one())


def _freeze_inside_page_and_kill(proc: subprocess.Popen, probe: _Probe, *, total_good: int,
                                 explain: Callable[[], str]) -> tuple[dict[str, list[tuple]], int, set[int]]:
    """SIGSTOP/SIGCONT until the ETL is caught between a page's merge and its commit, then SIGKILL it.

    The kill lands in the second write transaction seen after KILL_AFTER_FACTS facts have committed (the first
    one seen, then, after something more has committed, the next one): were a page ever split over two
    transactions, the kill would land in its second half and leave the first half behind.
    Returns the committed state seen while it was frozen, how many times it had to be frozen, and its child
    processes at the kill (the batch producer).
    """
    deadline = time.monotonic() + CATCH_SECONDS
    tries, pause, first_seen = 0, 0.001, None
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the ETL exited (code {proc.returncode}) before it could be killed inside a page "
                        f"transaction after {tries} tries; raise REQUEST_DELAY or N_CASES\n{explain()}")
        if time.monotonic() > deadline:
            pytest.fail(f"could not freeze the ETL inside a page transaction within {CATCH_SECONDS} s "
                        f"({tries} tries)\n{explain()}")
        if _committed(probe.engine)[0] < KILL_AFTER_FACTS:
            time.sleep(0.01)
            continue
        os.kill(proc.pid, signal.SIGSTOP)
        tries += 1
        try:
            if probe.inside_write():
                state = _committed(probe.engine)  # stable while the process is frozen
                if first_seen is None:
                    first_seen = state
                elif state != first_seen:
                    before = _snapshot(probe.engine)
                    assert 0 < len(before["facts"]) < total_good, (
                        f"caught too late: {len(before['facts'])} of {total_good} facts already committed")
                    producers = _children_of(proc.pid)  # the forked batch producer, busy or waiting
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(10)
                    return before, tries, producers
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
        time.sleep(pause)
        pause = 0.001 + (tries % 7) * 0.001  # vary the phase so the probe does not lock-step with the pages


def _source_rows_upto(rows: list[tuple], cursor: str) -> list[tuple]:
    gxsj = CASE_COLS.index("GXSJ")
    return [r for r in rows if r[gxsj] <= cursor]


def _reject_ids(rejects: list[tuple]) -> list[tuple[str, str]]:
    """(case id, reason) of each quarantined approvals row, in insertion order (duplicates kept)."""
    return [(json.loads(raw)["SBLSH"], reason) for _, _, dataset, reason, raw in rejects if dataset == "approvals"]


def test_kill_9_mid_page_leaves_no_partial_page_and_the_next_run_catches_up(
    database_url: str, warehouse: Warehouse, reference_url: str, tmp_path: Path,
    platform: tuple[Path, list[tuple], dict[str, str]], api: str,
) -> None:
    started = time.monotonic()
    _, source_rows, bad = platform  # `warehouse` has migrated the database, so it can be watched from the start
    total_good = N_CASES - len(bad)
    cfg_path = _write_config(tmp_path, api=api, database_url=database_url)
    probe = _Probe(database_url)
    proc = _start_etl(cfg_path, tmp_path, "killed")
    try:
        before, tries, producers = _freeze_inside_page_and_kill(proc, probe, total_good=total_good,
                                                                explain=lambda: _output(tmp_path, "killed"))
    finally:
        _kill(proc)
    assert proc.returncode == -signal.SIGKILL, _output(tmp_path, "killed")
    killed_at = time.monotonic()

    # --- no process of the killed ETL outlives it: its batch producer (a forked child) dies with it ---
    assert producers, "the ETL had no producer process to check"
    deadline = time.monotonic() + 10
    while (left := {pid for pid in producers if _alive_pid(pid)}) and time.monotonic() < deadline:
        time.sleep(0.02)  # the kernel's parent-death signal is asynchronous
    assert not left, f"producer processes {sorted(left)} outlived the killed ETL"

    # --- the warehouse is exactly as it was before the page that was open ---
    if probe.sqlite:
        with probe.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert not probe.inside_write(), "a killed process must not leave the SQLite write lock held"
    else:
        deadline = time.monotonic() + 10
        while probe.etl_backends() and time.monotonic() < deadline:  # the server notices the client is gone
            time.sleep(0.02)
        assert probe.etl_backends() == 0, "the killed ETL's backend outlived it"
        assert probe.xid_status() == "aborted", f"the open page transaction {probe.xid} must be rolled back"
    after = _snapshot(probe.engine)
    assert after == before, "the killed page left something behind"

    # --- every committed page is whole: facts and quarantine are exactly the source rows up to the cursor ---
    cursors = {(source, stream): (value, run_id) for source, stream, value, run_id in after["cursor"]}
    cursor, cursor_run = cursors[("approval_api", "cases")]
    runs = {job: (run_id, status, finished) for run_id, job, status, finished in after["runs"]}
    killed_run, killed_status, killed_finished = runs["approvals"]
    assert (killed_status, killed_finished) == ("running", None), "the killed run cannot have recorded an end"
    assert runs["catalogue"][1] == "success"
    assert cursor_run == killed_run
    upto = _source_rows_upto(source_rows, cursor)
    assert len(upto) >= PAGE_SIZE and len(upto) < N_CASES
    expected_ids = sorted(r[0] for r in upto if r[0] not in bad)
    assert [f[0] for f in after["facts"]] == expected_ids, "facts are not exactly the good rows up to the cursor"
    assert max(_ts(f[5]) for f in after["facts"]) == cursor, "a fact beyond the cursor, or the cursor beyond the facts"
    assert {f[6] for f in after["facts"]} == {killed_run}
    assert sorted(_reject_ids(after["rejects"])) == sorted((r[0], bad[r[0]]) for r in upto if r[0] in bad)
    assert after["dirty"], "the committed pages must have left their (region, month) pairs dirty"
    assert after["marts"] == [], "marts are refreshed only at the end of a run"

    # --- the next run completes ---
    proc = _start_etl(cfg_path, tmp_path, "resumed")
    try:
        proc.wait(RUN_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run after the kill did not finish within {RUN_SECONDS} s\n{_output(tmp_path, 'resumed')}")
    finally:
        _kill(proc)
    assert proc.returncode == 0, _output(tmp_path, "resumed")
    resumed = _snapshot(probe.engine)
    resumed_at = time.monotonic()
    statuses = [(job, status) for run_id, job, status, _ in resumed["runs"] if run_id > killed_run]
    assert statuses == [("catalogue", "success"), ("approvals", "success")]
    killed_after = next(r for r in resumed["runs"] if r[0] == killed_run)
    assert killed_after[1:3] == ("approvals", "abandoned") and killed_after[3] is not None  # reaped by the next run
    assert resumed["dirty"] == []
    probe.dispose()

    # --- and ends where an uninterrupted run into a fresh warehouse ends ---
    ref_wh = Warehouse(reference_url)
    ref_cfg = load_config(cfg_path)
    prepare_warehouse(warehouse=ref_wh, config=ref_cfg)
    summaries = run_jobs(warehouse=ref_wh, config=ref_cfg, names=JOBS)
    assert [s.status for s in summaries] == ["success", "success"], [s.error for s in summaries]
    reference = _snapshot(ref_wh.engine)
    ref_wh.dispose()
    print(f"killed inside page transaction after {tries} freeze(s) with {len(before['facts'])} of {total_good} "
          f"facts committed; kill {killed_at - started:.1f} s, resume {resumed_at - killed_at:.1f} s, "
          f"reference {time.monotonic() - resumed_at:.1f} s")

    def facts(snap: dict[str, list[tuple]]) -> list[tuple]:
        return [f[:5] for f in snap["facts"]]

    def marts(snap: dict[str, list[tuple]]) -> list[tuple]:
        return [(*m[:3], *(None if v is None else round(v, 9) for v in m[3:])) for m in snap["marts"]]

    assert len(reference["facts"]) == total_good
    assert facts(resumed) == facts(reference)
    assert max(_ts(f[5]) for f in resumed["facts"]) == max(_ts(f[5]) for f in reference["facts"]) == max(
        r[CASE_COLS.index("GXSJ")] for r in source_rows)
    assert marts(resumed) and marts(resumed) == marts(reference)
    resumed_rejects, reference_rejects = _reject_ids(resumed["rejects"]), _reject_ids(reference["rejects"])
    assert len(set(resumed_rejects)) == len(resumed_rejects), "a source row was quarantined twice"
    assert sorted(resumed_rejects) == sorted(reference_rejects) == sorted(bad.items())


def test_rejected_row_at_the_cursor_is_quarantined_once(warehouse: Warehouse, tmp_path: Path, config: Config) -> None:
    platform = tmp_path / "platform.db"
    last_bad = BAD[0][0][:-1] + ("2026-03-09 00:00:00",)  # the newest row, so the saved cursor ends on it
    _write_platform(platform, GOOD + [last_bad])
    server, url = serve_in_thread(db_path=platform)
    try:
        cfg = _config_for(config, url)
        run_job(warehouse=warehouse, config=cfg, name="catalogue")
        first = run_job(warehouse=warehouse, config=cfg, name="approvals")
        second = run_job(warehouse=warehouse, config=cfg, name="approvals")  # e.g. the run after a crash
    finally:
        server.shutdown()
    assert (first.status, second.status) == ("success", "success")
    assert (first.rows_rejected, second.rows_rejected) == (1, 0)  # the rerun re-reads it but adds nothing new
    with warehouse.engine.connect() as conn:
        quarantined = conn.scalar(text("SELECT COUNT(*) FROM etl_rejected_row WHERE dataset = 'approvals'"))
    assert quarantined == 1
