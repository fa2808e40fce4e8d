"""`bizenv bench load` end to end, small: 2 users for a few seconds on the real topology, then nothing left behind.

The real thing runs: a PostgreSQL database of its own with a tiny demo in it, gunicorn with deploy/gunicorn.conf.py,
the scheduler, the approval API and `bizenv etl run`, driven over HTTP through the login form and Dash's endpoints.
Latency is not asserted (a shared machine decides it); what is: requests were made and counted, none failed, the
users logged in, the ETL run in the window succeeded, and every process and the database are gone afterwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bizenv.bench.load import add_source_cases, pg_database_exists
from tests.conftest import REPO


def _gone(pid: int) -> bool:
    """No process with that pid, or only a zombie nobody reaped yet (its process group then has no live member)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@pytest.mark.slow
@pytest.mark.postgres
def test_two_users_on_the_production_topology_leave_nothing_behind(postgres_admin_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIZENV_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bizenv.bench.load", "--users", "2", "--duration", "6", "--etl", "cli",
         "--scale", "0.01", "--months", "2", "--cache", "local", "--workers", "2", "--think", "0.5-1", "--ramp", "0.5",
         "--p95-target-ms", "0", "--pg-admin-url", postgres_admin_url, "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    summary = report["summary"]

    # Requests were made and counted, per type and in total, and none failed (non-2xx or a Dash callback error).
    kinds = {row["kind"]: row for row in summary["requests"]}
    assert summary["overall"]["count"] == sum(row["count"] for row in summary["requests"]) > 0
    assert summary["overall"]["errors"] == 0, summary["error_kinds"]
    assert {"GET /", "GET /_dash-layout", "GET /_dash-dependencies", "POST _pages_content.children +1"} <= set(kinds)
    assert any(k.startswith("POST overview-") for k in kinds)
    assert summary["overall"]["p50"] <= summary["overall"]["p95"] <= summary["overall"]["p99"]
    # Both users logged in through the form before the window, and their first page view was the overview.
    assert summary["before_window"]["logins"] == 2 and summary["before_window"]["logins_failed"] == 0
    assert summary["before_window"]["errors"] == 0
    assert {row["kind"] for row in summary["before_window"]["requests"]} == {"GET /login", "POST /login"}
    assert "overview" in {row["step"] for row in summary["steps"]}
    assert not [row for row in summary["steps"] if row["failed"]], summary["steps"]

    # The ETL load ran (the approvals stream re-read from the start) and succeeded, and it inserted the new cases
    # the run added to the source (a copy of a case the demo made invalid on purpose is quarantined instead).
    runs = report["etl_runs"]
    assert [r["job"] for r in runs] == ["approvals"] and runs[0]["status"] == "success", runs
    assert runs[0]["rows_read"] > 0
    assert report["source_changes"] == 100 and 0 < runs[0]["rows_inserted"] <= 100, runs

    # Whether it overlapped a six-second window is the machine's timing, not something to assert; anything else
    # that made the run fail is.
    problems = report["verdict"].removeprefix("FAILED: ").split("; ")
    assert proc.returncode == 0 or problems == ["no ETL run overlapped the window"], report["verdict"]

    # Every process it started is gone, and so is its database.
    started = {p["name"] for p in report["processes"]}
    assert started == {"approval API", "gunicorn", "scheduler", "etl run"}
    assert not [p for p in report["processes"] if p["left"] or not _gone(p["pid"])], report["processes"]
    assert report["database_dropped"].startswith("bizenv_load_")
    assert not pg_database_exists(postgres_admin_url, report["database_dropped"])


def test_new_source_cases_are_copies_of_the_latest_month_under_new_numbers(tmp_path: Path) -> None:
    db_path = tmp_path / "approval_platform.db"
    cols = ["SBLSH", "SXBM", "XZQHDM", "SBSJ", "BJZT", "YJSBH", "GXSJ"]
    old = [("14070220260912000001", "A1", "140702", "2026-09-12 09:00:00", "已办结", "KB1", "2026-10-01 00:00:00"),
           ("14070320261003000001", "A2", "140703", "2026-10-03 10:00:00", "已办结", "KB2", "2026-11-02 00:00:00"),
           ("14070320261004000002", "A3", "140703", "2026-10-04 11:00:00", "办理中", None, "2026-11-01 00:00:00"),
           ("14078120261020000003", "A4", "140781", "2026-10-20 15:00:00", "已办结", None, "2026-10-30 00:00:00")]
    with sqlite3.connect(db_path) as db:
        db.execute(f"CREATE TABLE cases ({', '.join(cols)})")
        db.executemany("INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?)", old)
    db.close()

    assert add_source_cases(db_path, count=0, seed=1) == 0
    assert add_source_cases(db_path, count=5, seed=1) == 3  # the latest month (2026-10) has three cases
    with sqlite3.connect(db_path) as db:
        rows = db.execute(f"SELECT {', '.join(cols)} FROM cases ORDER BY SBLSH").fetchall()
    db.close()
    new = [r for r in rows if r not in old]
    assert len(rows) == 7 and len({r[0] for r in rows}) == 7
    # Each new case is one of October's under the same region and day prefix, outside any bundle, updated as late
    # as the newest case so an incremental run picks it up too.
    by_prefix = {r[0][:14]: r for r in old[1:]}
    assert sorted(r[0][:14] for r in new) == sorted(by_prefix)
    for case in new:
        source = by_prefix[case[0][:14]]
        assert case[0][14] == "9" and case[1:5] == source[1:5] and case[5] is None
        assert case[6] == "2026-11-02 00:00:00"
