"""The scheduler process: warehouse leases keep two schedulers from running one job at once, on both engines."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
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
