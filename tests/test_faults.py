"""Faults an operator will meet (issue 8), each made real and checked from outside:

- the warehouse connection is dropped (`pg_terminate_backend`) in the middle of a page transaction;
- the dashboard reads and signs users in while an ETL process writes to the same SQLite file;
- the bulletin archive cannot be written (its folder is a file; the disk fills up mid-write);
- a start-up command meets a bad configuration key.

kill -9 of a load is in test_fault_kill.py, a scheduler killed and restarted around a fire in test_scheduler.py.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from etl.demo.approval_api import serve_in_thread
from etl.jobs import run_job
from etl.scheduler import fire
from models.config import Config
from models.db import Warehouse
from models.migrate import prepare_warehouse
from tests.conftest import REPO, create_pg_database, drop_pg_database
from tests.test_etl_approvals import CASE_COLS, _case, _config_for, _write_platform

REGIONS = ["140702", "140703", "140721", "140722", "140723", "140724", "140725", "140727", "140728", "140729",
           "140781"]
GXSJ = CASE_COLS.index("GXSJ")


def _ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def make_cases(n: int, *, page_size: int, updated_from: dt.datetime, accepted_from: dt.datetime,
               prefix: str = "F") -> tuple[list[tuple], set[str]]:
    """n approval cases with distinct, increasing GXSJ; about 1 in 97 completes before it was accepted (bad).

    No bad row ends a page (row (page_size - 1)·k), where the keyset paging re-reads it. Returns rows, bad ids.
    """
    rows, bad = [], set()
    for i in range(n):
        cid, item, region = f"{prefix}{i:06d}", ("I1", "I2", "I3")[i % 3], REGIONS[i % len(REGIONS)]
        accepted = accepted_from + dt.timedelta(days=i % 40, minutes=i % 480)
        completed = accepted + dt.timedelta(days=i % 9, hours=2)
        updated = _ts(updated_from + dt.timedelta(seconds=i + 1))
        if i % 97 == 41 and i % (page_size - 1):
            rows.append(_case(cid, item, region, _ts(accepted), _ts(accepted - dt.timedelta(days=1)), updated=updated))
            bad.add(cid)
        else:
            rows.append(_case(cid, item, region, _ts(accepted), _ts(completed), cnsx=1 + i % 6, updated=updated))
    return rows, bad


def _rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


# ---- the warehouse connection drops in the middle of a page transaction (PostgreSQL) -----------------------------

DROP_CASES, DROP_PAGE = 1_800, 300  # 6 pages
DROP_LOCK_KEY = 80_088  # the advisory lock the test holds while the ETL's page transaction waits on it
# Fired after each write of facts, inside the page transaction: once two pages have committed (the committed cursor
# is past page 2's first rows), the transaction waits for the test's lock, with its page's facts merged.
HOLD_FUNCTION = f"""
CREATE FUNCTION fault_hold_page() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM etl_cursor WHERE source = 'approval_api' AND stream = 'cases'
               AND value >= :after) THEN
        PERFORM pg_advisory_xact_lock_shared({DROP_LOCK_KEY});
    END IF;
    RETURN NULL;
END $$
"""
HOLD_TRIGGER = ("CREATE TRIGGER fault_hold_page AFTER INSERT OR UPDATE ON fact_approval_case "
                "FOR EACH STATEMENT EXECUTE FUNCTION fault_hold_page()")


@pytest.fixture
def pg_pair(postgres_admin_url: str) -> Iterator[tuple[str, str]]:
    """Two empty PostgreSQL databases: the warehouse under test and one for the uninterrupted reference run."""
    made = [create_pg_database(postgres_admin_url) for _ in range(2)]
    try:
        yield made[0][1], made[1][1]
    finally:
        for name, _ in made:
            drop_pg_database(postgres_admin_url, name)


def _committed_state(engine: Engine) -> dict[str, list[tuple]]:
    """What page transactions write, as committed."""
    return {
        "facts": _rows(engine, "SELECT case_id, row_hash, etl_run_id FROM fact_approval_case ORDER BY case_id"),
        "rejects": _rows(engine, "SELECT id, run_id, reason_code, raw FROM etl_rejected_row "
                                 "WHERE dataset = 'approvals' ORDER BY id"),
        "dirty": _rows(engine, "SELECT fact_table, region_code, period FROM etl_dirty_period ORDER BY 1, 2, 3"),
        "cursor": _rows(engine, "SELECT value, run_id FROM etl_cursor "
                                "WHERE source = 'approval_api' AND stream = 'cases'"),
    }


def _held_backend(engine: Engine, timeout: float) -> tuple[int, str | None, bool]:
    """The backend waiting on the test's advisory lock: (pid, its transaction id, whether it wrote the fact table)."""
    sql = text("""
        SELECT a.pid, a.backend_xid::text,
               EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted
                       AND l.relation = 'fact_approval_case'::regclass AND l.mode = 'RowExclusiveLock')
        FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.wait_event = 'advisory'
    """)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            found = conn.execute(sql).all()
        if found:
            assert len(found) == 1, found
            return tuple(found[0])
        time.sleep(0.01)
    raise AssertionError(f"no ETL transaction reached the held page within {timeout} s")


def test_dropped_connection_mid_page_fails_the_run_cleanly_and_the_next_fire_succeeds(
    pg_pair: tuple[str, str], config: Config, tmp_path: Path
) -> None:
    url, reference_url = pg_pair
    rows, bad = make_cases(DROP_CASES, page_size=DROP_PAGE, updated_from=dt.datetime(2026, 3, 1),
                           accepted_from=dt.datetime(2025, 11, 3, 9))
    platform = tmp_path / "platform.db"
    _write_platform(platform, rows)
    server, api = serve_in_thread(db_path=platform)
    wh = Warehouse(url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    holder = admin.connect()  # holds the advisory lock; a session-level lock lives as long as this connection
    try:
        cfg = _config_for(config, api, page_size=DROP_PAGE)
        prepare_warehouse(warehouse=wh, config=cfg)
        assert run_job(warehouse=wh, config=cfg, name="catalogue").status == "success"
        after_two_pages = rows[DROP_PAGE + 5][GXSJ]  # page 2 ends at row 2·(DROP_PAGE - 1)
        with admin.connect() as conn:
            conn.exec_driver_sql(HOLD_FUNCTION.replace(":after", f"'{after_two_pages}'"))
            conn.exec_driver_sql(HOLD_TRIGGER)
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": DROP_LOCK_KEY})
        outcome: list[object] = []
        job = threading.Thread(target=lambda: outcome.append(fire(config=cfg, warehouse=wh, name="approvals")))
        job.start()
        try:
            pid, xid, wrote_facts = _held_backend(admin, timeout=20)
            assert xid and wrote_facts, "the held transaction must already have merged facts"
            before = _committed_state(admin)
            assert 0 < len(before["facts"]) < DROP_CASES - len(bad)
            with admin.connect() as conn:
                assert conn.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        finally:
            holder.execute(text("SELECT pg_advisory_unlock_all()"))
            job.join(30)
        assert not job.is_alive(), "the job hung after its connection was dropped"
        with admin.connect() as conn:
            conn.execute(text("DROP TRIGGER fault_hold_page ON fact_approval_case"))
            conn.execute(text("DROP FUNCTION fault_hold_page()"))
            assert conn.scalar(text("SELECT txid_status(CAST(:x AS bigint))"), {"x": xid}) == "aborted"

        # --- the run failed cleanly: recorded with its error, its lease given back, nothing of the page kept ---
        (summary,) = outcome
        runs = _rows(admin, "SELECT id, job, trigger, status, finished_at, error FROM etl_run ORDER BY id")
        failed = runs[-1]
        assert failed[1:4] == ("approvals", "scheduler", "failed") and failed[4] is not None, runs
        assert summary is not None and (summary.run_id, summary.status) == (failed[0], "failed")
        error = failed[5]
        assert "terminating connection due to administrator command" in error, error
        assert "warehouse" in error and "[SQL:" not in error and "[parameters:" not in error, error
        assert _rows(admin, "SELECT name FROM etl_lock") == []
        after = _committed_state(admin)
        assert after == before, "the dropped page left something behind"
        (cursor, _), = after["cursor"]
        upto = [r for r in rows if r[GXSJ] <= cursor]
        assert [f[0] for f in after["facts"]] == sorted(r[0] for r in upto if r[0] not in bad)
        assert sorted(r[0] for r in upto if r[0] in bad) == sorted(_reject_case_ids(after["rejects"]))

        # --- the next fire succeeds and ends where an uninterrupted run ends ---
        again = fire(config=cfg, warehouse=wh, name="approvals")
        assert again is not None and again.status == "success", again
        resumed = _committed_state(admin)
        assert resumed["dirty"] == []
        assert [f[0] for f in resumed["facts"]] == sorted(r[0] for r in rows if r[0] not in bad)
        assert sorted(_reject_case_ids(resumed["rejects"])) == sorted(bad)

        ref = Warehouse(reference_url)
        try:
            prepare_warehouse(warehouse=ref, config=cfg)
            assert [run_job(warehouse=ref, config=cfg, name=n).status for n in ("catalogue", "approvals")] == [
                "success", "success"]
            marts = "SELECT region_code, period, kpi_code, value, sample_size FROM mart_kpi_monthly ORDER BY 1, 2, 3"
            facts = "SELECT case_id, row_hash, working_days, completed_period FROM fact_approval_case ORDER BY 1"
            assert _rows(admin, facts) == _rows(ref.engine, facts)
            assert _rows(admin, marts) and _rows(admin, marts) == _rows(ref.engine, marts)
        finally:
            ref.dispose()
    finally:
        holder.close()
        admin.dispose()
        wh.dispose()
        server.shutdown()


def _reject_case_ids(rejects: list[tuple]) -> list[str]:
    import json

    return [json.loads(raw)["SBLSH"] for _, _, _, raw in rejects]


# ---- the dashboard reads, and users sign in, while an ETL process writes the same SQLite file ---------------------

BUSY_CASES, BUSY_PAGE, BUSY_DELAY = 1_200, 100, 0.1  # 12 page transactions, over a second or two
BUSY_MONTH = "2026-10"
LEADER, PASSWORD = "busy_leader", "correct horse battery"


def _callback(outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]]) -> dict:
    """A /_dash-update-component body in the renderer's shape."""
    spec = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".." if len(outputs) > 1 else \
        f"{outputs[0][0]}.{outputs[0][1]}"
    outs = [{"id": i, "property": p} for i, p in outputs]
    return {"output": spec, "outputs": outs if len(outs) > 1 else outs[0],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"], "state": []}


LANG_INPUT = ("app-lang-store", "data", "zh")
CALLBACKS = {  # overview callbacks, each of which reads the warehouse in one statement
    "cards": _callback([("overview-cards-heading-text", "children"), ("overview-cards-row", "children"),
                        ("overview-summary-text", "children")],
                       [("overview-month-dropdown", "value", BUSY_MONTH), LANG_INPUT]),
    "county": _callback([("overview-county-title-text", "children"), ("overview-county-graph", "figure"),
                         ("overview-county-graph", "style")],
                        [("overview-month-dropdown", "value", BUSY_MONTH),
                         ("overview-kpi-dropdown", "value", "on_time_rate"), LANG_INPUT]),
    "asof": _callback([("overview-asof-text", "children")], [LANG_INPUT]),
}


def _answer(client, name: str) -> object:  # noqa: ANN001 - a Flask test client
    """One callback's response, or raises with what went wrong."""
    response = client.post("/_dash-update-component", json=CALLBACKS[name])
    body = response.get_data(as_text=True)
    if response.status_code != 200 or "locked" in body:
        raise AssertionError(f"{name}: HTTP {response.status_code}: {body[:300]}")
    return response.get_json()["response"]


def _logged_in(app, username: str):  # noqa: ANN001, ANN202 - the Dash app; returns a Flask test client
    from tests.test_auth import login

    client = app.server.test_client()
    response = login(client, username, PASSWORD)
    if response.status_code != 302:
        raise AssertionError(f"login: HTTP {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return client


def test_dashboard_reads_and_logins_meet_no_lock_while_the_etl_writes(
    demo_site: tuple[Config, Warehouse], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.app import create_app
    from models.accounts import add_user
    from tests.test_auth import copy_demo

    monkeypatch.setenv("BIZENV_CACHE", "off")  # every callback reads the warehouse, none the read cache
    cfg, wh = copy_demo(demo_site, tmp_path)
    with wh.session() as s:
        add_user(session=s, username=LEADER, password=PASSWORD, role="leader", region_code=None,
                 unit_codes=cfg.unit_codes(), now=dt.datetime(2026, 11, 25, 9))
        cursor = s.scalar(text("SELECT value FROM etl_cursor WHERE source = 'approval_api' AND stream = 'cases'"))
    rows, bad = make_cases(BUSY_CASES, page_size=BUSY_PAGE, accepted_from=dt.datetime(2026, 9, 1, 9),
                           updated_from=dt.datetime.fromisoformat(cursor) + dt.timedelta(days=1))
    good = sorted((r[GXSJ], r[0]) for r in rows if r[0] not in bad)
    platform = tmp_path / "platform.db"
    _write_platform(platform, rows)
    server, api = serve_in_thread(db_path=platform, delays={("cases", 1): BUSY_DELAY})
    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    raw["sources"]["approval_api"].update(base_url=api, page_size=BUSY_PAGE)
    raw["warehouse"]["url"] = wh.url
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")

    app = create_app(cfg, warehouse=wh, allow_ephemeral_key=True)  # login required, as in production
    readers = [_logged_in(app, LEADER) for _ in range(3)]
    before = {name: _answer(readers[0], name) for name in CALLBACKS}
    errors: list[str] = []
    seen: dict[str, list[object]] = {name: [] for name in CALLBACKS}
    loads: list[int] = []  # facts of this load seen by single-statement reads, in order
    logins: list[float] = []
    stop = threading.Event()

    def guarded(fn):  # noqa: ANN001, ANN202
        def run() -> None:
            try:
                while not stop.is_set():
                    fn()
            except Exception as exc:  # noqa: BLE001 - every failure is a finding
                errors.append(f"{fn.__name__}: {exc.__class__.__name__}: {exc}")
        return threading.Thread(target=run, name=fn.__name__)

    def reader(client) -> object:  # noqa: ANN001
        def read_pages() -> None:
            for name in CALLBACKS:
                seen[name].append(_answer(client, name))
            time.sleep(0.02)  # several users reading, not a flood that starves the ETL of the two cores
        return read_pages

    def sign_in_and_out() -> None:  # writes the account row and the audit log
        started = time.monotonic()
        client = _logged_in(app, LEADER)
        logins.append(time.monotonic() - started)
        assert client.get("/logout").status_code == 302
        time.sleep(0.2)

    def count_loaded() -> None:
        """In one statement, so in one snapshot: the facts of this load against the saved cursor."""
        with wh.engine.connect() as conn:
            n, at = conn.execute(text(
                "SELECT (SELECT COUNT(*) FROM fact_approval_case WHERE case_id LIKE 'F%'), "
                "(SELECT value FROM etl_cursor WHERE source = 'approval_api' AND stream = 'cases')")).one()
        expected = sum(1 for g, _ in good if g <= at)
        assert n == expected, f"{n} facts loaded but {expected} good rows up to the cursor {at}"
        loads.append(n)
        time.sleep(0.01)

    threads = [guarded(reader(c)) for c in readers] + [guarded(sign_in_and_out), guarded(count_loaded)]
    env = {k: v for k, v in os.environ.items() if k not in ("BIZENV_DATABASE_URL", "BIZENV_CONFIG")}
    for t in threads:
        t.start()
    etl_started = time.monotonic()
    try:
        etl = subprocess.run([sys.executable, "-m", "bizenv.cli", "--config", str(cfg_path), "etl", "run",
                              "approvals"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    finally:
        etl_seconds = time.monotonic() - etl_started
        stop.set()
        for t in threads:
            t.join(30)
        server.shutdown()
    after = {name: _answer(readers[0], name) for name in CALLBACKS}
    with wh.engine.connect() as conn:
        loaded = conn.scalar(text("SELECT COUNT(*) FROM fact_approval_case WHERE case_id LIKE 'F%'"))
    wh.dispose()

    assert etl.returncode == 0 and "approvals: success" in etl.stdout, etl.stdout + etl.stderr
    assert errors == []
    # The reads really overlapped the load: some saw it half done, and users signed in meanwhile.
    assert any(0 < n < len(good) for n in loads), f"no read saw the load in progress: {sorted(set(loads))}"
    assert loaded == len(good)
    assert len(logins) >= 3, logins
    # Every answer is the page as it was before the load or as it is after it, never a mix.
    assert before["cards"] != after["cards"] and before["county"] != after["county"]
    for name, answers in seen.items():
        assert len(answers) >= 3, (name, len(answers))
        strays = [a for a in answers if a not in (before[name], after[name])]
        assert not strays, f"{name}: {len(strays)} answers neither before nor after the load"
    print(f"{sum(map(len, seen.values()))} callbacks, {len(loads)} counts, {len(logins)} sign-ins "
          f"(slowest {max(logins):.2f} s) during the {etl_seconds:.1f} s load")



# ---- the bulletin archive cannot be written ------------------------------------------------------------------------

REPORT_MONTH = "2026-10"
FULL_DISK_SCRIPT = """
import resource, sys
from bizenv.bulletin.errors import BulletinError
from bizenv.bulletin.service import archive_bulletin, build_bulletin
from models.config import load_config
from models.db import Warehouse

config = load_config(sys.argv[1])
warehouse = Warehouse(config.database_url())
with warehouse.session() as session:
    built = build_bulletin(session=session, config=config, period=sys.argv[2], formats=["xlsx"])
size = len(built.files["xlsx"])
print(size, flush=True)
# The disk "fills up" half way through the file: the kernel writes what fits, then refuses the rest (EFBIG).
resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, resource.RLIM_INFINITY))
try:
    with warehouse.session() as session:
        archive_bulletin(session=session, config=config, built=built)
except BulletinError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
"""


def _site_config(demo_site: tuple[Config, Warehouse], tmp_path: Path, archive_dir: Path) -> tuple[Path, Warehouse]:
    """A config file over a private copy of the demo warehouse, archiving into `archive_dir`."""
    from tests.test_auth import copy_demo

    cfg, wh = copy_demo(demo_site, tmp_path)
    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    raw["warehouse"]["url"] = wh.url
    raw["bulletin"]["archive_dir"] = str(archive_dir)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, wh


def _archived(wh: Warehouse) -> list[tuple]:
    return _rows(wh.engine, "SELECT period, region_code, format, version, path FROM report_archive ORDER BY id")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("BIZENV_DATABASE_URL", "BIZENV_CONFIG")}


def test_an_unwritable_archive_fails_the_report_with_a_clear_error(
    demo_site: tuple[Config, Warehouse], tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the archive's folder should be")  # refused even to root, unlike chmod
    cfg_path, wh = _site_config(demo_site, tmp_path, blocker / "reports")
    proc = subprocess.run([sys.executable, "-m", "bizenv.cli", "--config", str(cfg_path), "report", "--month",
                           REPORT_MONTH, "--format", "xlsx"], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    folder = blocker / "reports" / REPORT_MONTH / "140700"
    assert f"The bulletin could not be written to the archive ({folder}): Not a directory" in proc.stderr
    assert f"通报无法写入归档目录（{folder}）" in proc.stderr and "bulletin.archive_dir" in proc.stderr
    assert _archived(wh) == [] and blocker.read_text().startswith("a file")
    wh.dispose()


def test_a_disk_full_mid_write_leaves_no_half_written_file_and_the_next_build_archives_it_whole(
    demo_site: tuple[Config, Warehouse], tmp_path: Path
) -> None:
    archive = tmp_path / "reports"
    cfg_path, wh = _site_config(demo_site, tmp_path, archive)
    proc = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, str(cfg_path), REPORT_MONTH], cwd=REPO,
                          env=_env() | {"PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    size = int(proc.stdout.split()[0])
    folder = archive / REPORT_MONTH / "140700"
    assert f"The bulletin could not be written to the archive ({folder}): File too large" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert folder.is_dir(), "the write got as far as the archive's folder"
    assert [p for p in archive.rglob("*") if p.is_file()] == [], "a partial file was left in the archive"
    assert _archived(wh) == []

    # With room again, the same build is archived whole, as version 1.
    from bizenv.bulletin.service import generate_bulletins
    from models.config import load_config

    config = load_config(cfg_path)
    (entry,) = generate_bulletins(warehouse=wh, config=config, period=REPORT_MONTH, region_codes=["140700"],
                                  formats=["xlsx"])
    files = [p for p in archive.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [entry.filename] and entry.version == 1
    assert files[0].stat().st_size == entry.size_bytes and abs(entry.size_bytes - size) < size // 4
    assert len(_archived(wh)) == 1
    wh.dispose()


# ---- a bad configuration key at start-up ---------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "section", "typo"), [
    ("serve", "dashboard", "titel_zh"),
    ("scheduler", "jobs.approvals", "shedule"),
    ("wsgi", "warehouse", "ulr"),
])
def test_each_entry_point_stops_on_a_bad_key_and_names_it(tmp_path: Path, entry: str, section: str,
                                                          typo: str) -> None:
    from tests.conftest import free_port

    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    node = raw
    for part in section.split("."):
        node = node[part]
    node[typo] = "x"
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = _env() | {"BIZENV_SECRET_KEY": "k" * 40, "BIZENV_CONFIG": str(cfg_path)}
    port = str(free_port())
    command = {
        "serve": [sys.executable, "-m", "bizenv.cli", "serve", "--port", port],
        "scheduler": [sys.executable, "-m", "bizenv.cli", "scheduler"],
        "wsgi": [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "dashboard.wsgi:server"],
    }[entry]
    proc = subprocess.run(command, cwd=tmp_path, env=env | {"PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"{cfg_path}: {section}.{typo}: unknown key" in output
    if entry != "wsgi":  # gunicorn prints the worker's traceback; the bizenv commands print the message alone
        assert proc.returncode == 2 and "Traceback" not in output
