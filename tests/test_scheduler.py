"""The scheduler process: warehouse leases keep two schedulers from running one job at once, on both engines."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text

from etl import jobs
from etl.lock import acquire, job_lease, release, renew
from etl.scheduler import (
    LEASE_TTL_SECONDS,
    MISFIRE_GRACE_SECONDS,
    build_scheduler,
    fire,
    lease_name,
    next_runs,
    recent_fires,
)
from etl.sqlview import run_sql_view_job
from models.config import Config, FilesSource, JobSettings, SqlViewSource
from models.db import Warehouse

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeRunner:
    """A job runner that sleeps, counts its runs, and crashes for the jobs named in `crash`."""

    def __init__(self, *, seconds: float = 0.0, crash: tuple[str, ...] = ()) -> None:
        self.seconds, self.crash = seconds, crash
        self.runs: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, *, warehouse, config, name, job, summary, progress) -> None:  # noqa: ANN001 - runner protocol
        with self._lock:
            self.runs.append(name)
        time.sleep(self.seconds)
        if name in self.crash:
            raise RuntimeError(f"{name} blew up")
        summary.rows_read += 1


def _config(config: Config, tmp_path: Path, **schedules: str) -> Config:
    """Jobs on a fake `files` source (run by FakeRunner) plus one on a SQL view that does not exist."""
    sources = {"inbox": FilesSource(kind="files", path=str(tmp_path)),
               "gone": SqlViewSource(kind="sql_view", url=f"sqlite:///{tmp_path / 'gone.db'}", view="v_gone")}
    job_map = {name: JobSettings(source="gone" if name == "broken_view" else "inbox", dataset="approvals",
                                 schedule=cron) for name, cron in schedules.items()}
    return config.model_copy(update={"sources": sources, "jobs": job_map})


def _runs(wh: Warehouse) -> list[tuple]:
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT job, trigger, status, error FROM etl_run ORDER BY id"))]


def test_two_schedulers_never_run_the_same_job_at_once(
    warehouse: Warehouse, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner(seconds=1.0)
    monkeypatch.setitem(jobs.RUNNERS, "files", runner)
    cfg = _config(config, tmp_path, slow="0 3 * * *")
    start = threading.Barrier(2)
    results: list[object] = []

    def scheduler_fire() -> None:
        start.wait()
        results.append(fire(config=cfg, warehouse=warehouse, name="slow"))

    threads = [threading.Thread(target=scheduler_fire) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert runner.runs == ["slow"]
    assert sorted(r is None for r in results) == [False, True]
    assert _runs(warehouse) == [("slow", "scheduler", "success", None)]
    # The lease was released: the next fire runs at once, without waiting for it to expire.
    assert fire(config=cfg, warehouse=warehouse, name="slow").status == "success"
    assert runner.runs == ["slow", "slow"]


def test_lease_is_exclusive_until_it_expires_then_taken_over(warehouse: Warehouse) -> None:
    eng, name, now = warehouse.engine, "job:approvals", dt.datetime(2026, 11, 25, 2, 0, 0)
    assert acquire(engine=eng, name=name, holder="a", ttl_seconds=60, now=now)
    assert not acquire(engine=eng, name=name, holder="b", ttl_seconds=60, now=now + dt.timedelta(seconds=59))
    assert renew(engine=eng, name=name, holder="a", ttl_seconds=60, now=now + dt.timedelta(seconds=30))
    assert not acquire(engine=eng, name=name, holder="b", ttl_seconds=60, now=now + dt.timedelta(seconds=89))
    assert acquire(engine=eng, name=name, holder="b", ttl_seconds=60, now=now + dt.timedelta(seconds=91))  # expired
    assert not renew(engine=eng, name=name, holder="a", ttl_seconds=60)  # a lost it
    assert not release(engine=eng, name=name, holder="a")  # and cannot free b's lease
    assert release(engine=eng, name=name, holder="b")
    with job_lease(engine=eng, name=name, holder="c", ttl_seconds=60) as held:
        assert held
        with job_lease(engine=eng, name=name, holder="d", ttl_seconds=60) as other:
            assert not other
    with warehouse.engine.connect() as conn:
        assert conn.scalar(text("SELECT COUNT(*) FROM etl_lock")) == 0


def test_a_dead_schedulers_expired_lease_does_not_block_the_job(
    warehouse: Warehouse, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    monkeypatch.setitem(jobs.RUNNERS, "files", runner)
    cfg = _config(config, tmp_path, nightly="0 3 * * *")
    long_ago = dt.datetime(2026, 1, 1, 3, 0, 0)
    assert acquire(engine=warehouse.engine, name=lease_name("nightly"), holder="dead-host:1:x",
                   ttl_seconds=LEASE_TTL_SECONDS, now=long_ago)
    assert fire(config=cfg, warehouse=warehouse, name="nightly").status == "success"
    assert runner.runs == ["nightly"]


def test_build_scheduler_sets_safe_defaults_and_one_cron_trigger_per_job(config: Config, tmp_path: Path) -> None:
    cfg = _config(config, tmp_path, catalogue="5 2 * * *", approvals="*/15 * * * *")
    scheduler = build_scheduler(config=cfg, warehouse=Warehouse(f"sqlite:///{tmp_path / 'wh.db'}"), blocking=False)
    assert str(scheduler.timezone) == "Asia/Shanghai"
    scheduler.start(paused=True)
    try:
        by_id = {j.id: j for j in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(by_id) == {"catalogue", "approvals"}
    for name, job in by_id.items():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, MISFIRE_GRACE_SECONDS)
        assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Asia/Shanghai"
        assert job.kwargs["name"] == name and job.func is fire
    assert str(by_id["catalogue"].trigger) == str(CronTrigger.from_crontab("5 2 * * *", timezone=SHANGHAI))
    now = dt.datetime(2026, 11, 25, 2, 7, tzinfo=SHANGHAI)
    assert next_runs(config=cfg, now=now) == [("approvals", dt.datetime(2026, 11, 25, 2, 15, tzinfo=SHANGHAI)),
                                              ("catalogue", dt.datetime(2026, 11, 26, 2, 5, tzinfo=SHANGHAI))]


def test_failing_jobs_are_recorded_and_the_other_job_still_runs(
    warehouse: Warehouse, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner(crash=("crash",))
    monkeypatch.setitem(jobs.RUNNERS, "files", runner)
    monkeypatch.setitem(jobs.RUNNERS, "sql_view", run_sql_view_job)
    cfg = _config(config, tmp_path, broken_view="0 3 * * *", crash="0 3 * * *", healthy="0 3 * * *")
    scheduler = build_scheduler(config=cfg, warehouse=warehouse, blocking=False)
    scheduler.start()
    try:
        for job in scheduler.get_jobs():
            job.modify(next_run_time=dt.datetime.now(SHANGHAI))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(r[2] != "running" for r in _runs(warehouse)) < 3:
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    runs = {r[0]: r for r in _runs(warehouse)}
    assert set(runs) == {"broken_view", "crash", "healthy"}
    assert runs["healthy"][1:] == ("scheduler", "success", None)
    assert runs["crash"][2:] == ("failed", "RuntimeError: crash blew up")
    assert runs["broken_view"][2] == "failed"
    assert f"sqlite:///{tmp_path / 'gone.db'}#v_gone" in runs["broken_view"][3]
    assert "SQLite source file not found" in runs["broken_view"][3]
    # Nothing holds a lease afterwards, so the failed jobs are simply tried again at their next fire.
    again = fire(config=cfg, warehouse=warehouse, name="broken_view")
    assert again is not None and (again.status, again.error) == ("failed", runs["broken_view"][3])
    assert [r[0] for r in _runs(warehouse)].count("broken_view") == 2


SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
from models.config import load_config
from models.db import Warehouse
from etl.scheduler import run_scheduler
cfg = load_config(sys.argv[1])
never_soon = {k: v.model_copy(update={"schedule": "0 3 1 1 *"}) for k, v in cfg.jobs.items()}
run_scheduler(config=cfg.model_copy(update={"jobs": never_soon}), warehouse=Warehouse(sys.argv[2]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_scheduler_process_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(REPO / "config.yaml"),
                             f"sqlite:///{tmp_path / 'wh.db'}"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "scheduler started" in line or not line:
                break
        assert any("scheduler started" in line for line in lines), "".join(lines)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + out
    assert proc.returncode == 0, output
    assert "scheduler stopped" in output and "Traceback" not in output


# ---- a scheduler started or restarted within the grace period of fires it missed ---------------------------------

def _just_missed(now: dt.datetime) -> tuple[str, list[dt.datetime]]:
    """A daily cron whose three fires are the last three whole minutes up to `now`; no other fire is near.

    (Minutes × hours: the other combinations are about an hour away, far outside the grace period.)
    """
    last = now.replace(second=0, microsecond=0)
    fires = [last - dt.timedelta(minutes=k) for k in (2, 1, 0)]
    minutes = ",".join(sorted({str(f.minute) for f in fires}, key=int))
    hours = ",".join(sorted({str(f.hour) for f in fires}, key=int))
    return f"{minutes} {hours} * * *", fires


def test_recent_fires_are_those_within_the_grace_period_and_a_new_scheduler_starts_due(
    config: Config, tmp_path: Path
) -> None:
    at = dt.datetime(2026, 11, 25, 10, 0, 30, tzinfo=SHANGHAI)
    assert recent_fires(schedule="*/15 * * * *", timezone="Asia/Shanghai", now=at) == [at.replace(second=0)]
    assert recent_fires(schedule="*/15 * * * *", timezone="Asia/Shanghai", now=at + dt.timedelta(minutes=6)) == []
    schedule, fires = _just_missed(at)
    assert schedule == "0,58,59 9,10 * * *" and [f.strftime("%H:%M") for f in fires] == ["09:58", "09:59", "10:00"]
    assert recent_fires(schedule=schedule, timezone="Asia/Shanghai", now=at) == fires
    assert recent_fires(schedule=schedule, timezone="Asia/Shanghai", now=at.replace(tzinfo=None)) == fires
    assert MISFIRE_GRACE_SECONDS >= 180  # all three are in it
    # Started then, a scheduler has the job due at the oldest missed fire (APScheduler coalesces the three into one
    # run), and the other job at its next fire as usual.
    cfg = _config(config, tmp_path, missed=schedule, later="30 3 * * *")
    scheduler = build_scheduler(config=cfg, warehouse=Warehouse(f"sqlite:///{tmp_path / 'wh.db'}"), blocking=False,
                                now=at + dt.timedelta(minutes=1))
    scheduler.start(paused=True)
    try:
        due = {j.id: j.next_run_time for j in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert due["missed"] == fires[0]
    assert due["later"] > dt.datetime.now(SHANGHAI)


def _scheduled_runs(wh: Warehouse) -> list[tuple]:
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, job, status FROM etl_run WHERE trigger = 'scheduler' ORDER BY id"))]


def _start_and_settle(schedulers: list, timeout: float = 20) -> None:  # noqa: ANN001 - BackgroundSchedulers
    """Start each scheduler and wait until each has handled its start-up fire (run, skipped or missed)."""
    done = [threading.Event() for _ in schedulers]
    for scheduler, event in zip(schedulers, done, strict=True):
        scheduler.add_listener(lambda _e, ev=event: ev.set(), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    for scheduler in schedulers:
        scheduler.start()
    try:
        for event in done:
            assert event.wait(timeout), "a scheduler never handled its missed fire"
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)


def test_missed_fires_run_once_coalesced_and_never_again_after_restarts(
    warehouse: Warehouse, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner(seconds=0.3)
    monkeypatch.setitem(jobs.RUNNERS, "files", runner)
    schedule, _fires = _just_missed(dt.datetime.now(SHANGHAI))
    cfg = _config(config, tmp_path, missed=schedule)
    # The first start after three missed fires runs the job once, not three times.
    _start_and_settle([build_scheduler(config=cfg, warehouse=warehouse, blocking=False)])
    assert runner.runs == ["missed"]
    first = _scheduled_runs(warehouse)
    assert [r[1:] for r in first] == [("missed", "success")]
    # A restart, then two schedulers started at once: the fire already ran, so none of them runs it again.
    _start_and_settle([build_scheduler(config=cfg, warehouse=warehouse, blocking=False)])
    _start_and_settle([build_scheduler(config=cfg, warehouse=warehouse, blocking=False) for _ in range(2)])
    assert runner.runs == ["missed"] and _scheduled_runs(warehouse) == first
    # `fire` called without `scheduled` (not a cron fire: tests, a hand-made call) runs regardless.
    assert fire(config=cfg, warehouse=warehouse, name="missed").status == "success"
    assert runner.runs == ["missed", "missed"]


def test_a_lease_left_by_a_killed_process_on_this_host_is_taken_over_at_once(warehouse: Warehouse) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    eng, name, host = warehouse.engine, "job:approvals", socket.gethostname()
    assert acquire(engine=eng, name=name, holder=f"{host}:{dead_pid}:aaaa", ttl_seconds=LEASE_TTL_SECONDS)
    assert acquire(engine=eng, name=name, holder=f"{host}:{os.getpid()}:bbbb", ttl_seconds=LEASE_TTL_SECONDS)
    # A live holder keeps it, on this host or (unknowable) on another.
    assert not acquire(engine=eng, name=name, holder=f"{host}:{os.getpid()}:cccc", ttl_seconds=LEASE_TTL_SECONDS)
    assert release(engine=eng, name=name, holder=f"{host}:{os.getpid()}:bbbb")
    assert acquire(engine=eng, name=name, holder=f"elsewhere:{dead_pid}:dddd", ttl_seconds=LEASE_TTL_SECONDS)
    assert not acquire(engine=eng, name=name, holder=f"{host}:{os.getpid()}:eeee", ttl_seconds=LEASE_TTL_SECONDS)


def _wait_for(path: Path, needle: str, proc: subprocess.Popen, timeout: float = 30) -> str:
    """The process's output once it holds `needle`; fails with the output if it exits or times out first."""
    deadline = time.monotonic() + timeout
    while True:
        out = path.read_text(encoding="utf-8", errors="replace")
        if needle in out:
            return out
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"never saw {needle!r} (exit {proc.returncode})\n{out[-4000:]}")
        time.sleep(0.05)


def test_scheduler_killed_mid_run_and_restarted_within_the_missed_fire_runs_it_once(
    config: Config, tmp_path: Path
) -> None:
    """Real `bizenv scheduler` processes: the first is started just after three fires (none of which ran) and is
    killed with -9 in the middle of the one run it makes of them; the restarted one takes over the dead process's
    lease at once, sees that the fire already ran, and does not run it again."""
    import yaml

    from etl.demo.approval_api import serve_in_thread
    from tests.test_etl_approvals import BAD, GOOD, TAIL, _write_platform

    platform = tmp_path / "platform.db"
    _write_platform(platform, GOOD + [row for row, _ in BAD] + TAIL)  # 15 cases: 5 pages of 3
    server, url = serve_in_thread(db_path=platform, delays={("cases", 1): 0.4})
    schedule, _fires = _just_missed(dt.datetime.now(SHANGHAI))
    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    raw["sources"]["approval_api"].update(base_url=url, page_size=3, max_retries=1)
    for name, job in raw["jobs"].items():  # only approvals fires: every other job once a year
        job["schedule"] = schedule if name == "approvals" else "0 3 1 1 *"
    raw["bulletin"]["enabled"] = False
    db = tmp_path / "wh.db"
    raw["warehouse"]["url"] = f"sqlite:///{db}"
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("BIZENV_DATABASE_URL", "BIZENV_CONFIG")}
    wh = Warehouse(f"sqlite:///{db}")

    def start(tag: str) -> tuple[subprocess.Popen, Path]:
        log_path = tmp_path / f"{tag}.log"
        with log_path.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "bizenv.cli", "-v", "--config", str(cfg_path),
                                     "scheduler"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        return proc, log_path

    procs: list[subprocess.Popen] = []
    try:
        first, first_log = start("first")
        procs.append(first)
        _wait_for(first_log, "job approvals started", first)
        deadline = time.monotonic() + 30
        while True:  # kill it once a page has committed: a run half done
            with wh.engine.connect() as conn:
                pages = conn.scalar(text("SELECT COUNT(*) FROM etl_cursor WHERE stream = 'cases'"))
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert pages, "no page committed"
        first.kill()
        first.wait(10)
        killed = _scheduled_runs(wh)
        assert [r[1:] for r in killed] == [("approvals", "running")], first_log.read_text()[-3000:]
        with wh.engine.connect() as conn:
            assert conn.scalar(text("SELECT holder FROM etl_lock")).split(":")[1] == str(first.pid)

        second, second_log = start("second")
        procs.append(second)
        out = _wait_for(second_log, "not run twice", second)
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0, second_log.read_text()[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        server.shutdown()
    assert f"taken over from {socket.gethostname()}:{first.pid}:" in out  # not blocked for the lease's 2 hours
    assert f"already ran (run {killed[0][0]})" in out
    assert _scheduled_runs(wh) == killed, "the restarted scheduler ran the fire a second time"
    with wh.engine.connect() as conn:
        assert conn.scalar(text("SELECT COUNT(*) FROM etl_lock")) == 0  # released on the clean stop
    wh.dispose()
