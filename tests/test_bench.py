"""`bizenv bench` at a tiny scale, as a real subprocess: every figure is in the JSON and adds up with the warehouse.

No timing is asserted: only that the counts match the warehouse the run leaves behind, that each ratio is the
quotient of the figures it is printed beside, and that the KPI answered three ways is the one SQL gives.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bizenv.bench.child import in_child, peak_rss_mb
from models.config import load_config

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def _touched(megabytes: int) -> bytearray:
    block = bytearray(megabytes * MB)
    block[::4096] = b"\x01" * len(block[::4096])
    return block


def _hold(megabytes: int) -> dict:
    """Touch `megabytes` of memory in a child, so its peak RSS is at least that."""
    return {"held": len(_touched(megabytes)) // MB}


def test_child_peak_rss_is_its_own_not_the_parents() -> None:
    block = _touched(400)  # held while the children start: a child's ru_maxrss on Linux would start at it
    assert peak_rss_mb() >= 400
    idle = in_child(_hold, megabytes=1)
    busy = in_child(_hold, megabytes=300)
    assert len(block) == 400 * MB and busy["held"] == 300
    assert 0 < idle["rss_before_mb"] <= idle["peak_rss_mb"] < 400, idle
    assert busy["peak_rss_mb"] >= idle["peak_rss_mb"] + 250, (idle, busy)


def _fork_and_hold(megabytes: int) -> dict:
    """Touch `megabytes` in a forked grandchild (as the ETL's producer is forked from the job), and wait for it."""
    pid = os.fork()
    if pid == 0:
        _touched(megabytes)
        os._exit(0)
    os.waitpid(pid, 0)
    return {}


def test_the_forked_producers_peak_is_reported_beside_the_jobs() -> None:
    forked = in_child(_fork_and_hold, megabytes=300)
    assert forked["peak_rss_mb"] < 250 <= forked["children_peak_rss_mb"] - 50, forked
    alone = in_child(_hold, megabytes=1)
    assert alone["children_peak_rss_mb"] == 0, alone


def _printed_row(stdout: str, label: str) -> list[str]:
    line = next(line for line in stdout.splitlines() if line.startswith(label))
    return re.split(r"\s{2,}", line.strip())


def _number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("×"))


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    """One tiny run of the cheap sections (no bulletin), kept in a work folder to check against."""
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "BIZENV_DATABASE_URL"}
    cmd = [sys.executable, "-m", "bizenv.cli", "--config", str(REPO / "config.yaml"), "bench", "--scale", "0.005",
           "--months", "2", "--sections", "etl,marts,dashboard", "--pages", "overview", "--runs", "2",
           "--cache", "cold", "--kpi-runs", "3", "--workdir", str(folder / "work"), "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text(encoding="utf-8")), proc.stdout, folder / "work" / "warehouse.db"


def test_etl_rows_match_the_warehouse_and_ratios_are_quotients(bench_run: tuple[dict, str, Path]) -> None:
    result, stdout, db_path = bench_run
    config = load_config(REPO / "config.yaml")
    etl = result["etl"]
    assert [j["job"] for j in etl["jobs"]] == sorted(config.jobs, key=lambda n: config.jobs[n].dataset
                                                     != "service_items")
    new_day = {j["job"]: j for j in result["marts"]["new_day"]["jobs"]}
    with sqlite3.connect(db_path) as db:
        for job in etl["jobs"]:
            assert job["status"] == "success", job
            in_table = db.execute(f"SELECT COUNT(*) FROM {job['table']}").fetchone()[0]
            # the table as the full load left it: the new day's inserts came afterwards
            assert job["rows"] == in_table - new_day[job["job"]]["rows_inserted"], job
            assert job["limit"]["rows"] == job["indexed"]["rows"] == job["naive"]["rows"] == job["rows"]
            assert math.isclose(job["rows_per_s"], job["rows"] / job["seconds"])
            for kind in ("limit", "indexed", "naive"):
                assert math.isclose(job[kind]["rows_per_s"], job[kind]["rows"] / job[kind]["seconds"])
                if job["rows"]:
                    assert math.isclose(job[f"ratio_{kind}"], job["rows_per_s"] / job[kind]["rows_per_s"])
            assert 0 < job["rss_before_mb"] <= job["peak_rss_mb"] < 8192
            if job["job"] in ("approvals", "hotline", "ratings"):  # a producer process was forked and reaped
                assert 0 < job["children_peak_rss_mb"] < 8192, job
        assert db.execute("SELECT COUNT(*) FROM etl_run WHERE trigger <> 'bench'").fetchone()[0] == 0
    for name in ("catalogue", "approvals", "hotline", "ratings"):
        assert next(j for j in etl["jobs"] if j["job"] == name)["rows"] > 0, name
    total = etl["total"]
    assert total["rows"] == sum(j["rows"] for j in etl["jobs"])
    assert math.isclose(total["ratio_limit"], total["rows_per_s"] / total["limit"]["rows_per_s"])
    assert math.isclose(total["ratio_naive"], total["rows_per_s"] / total["naive"]["rows_per_s"])
    assert math.isclose(total["ratio_indexed"], total["rows_per_s"] / total["indexed"]["rows_per_s"])
    # the printed ratio is the quotient of the printed rates (rounded as printed)
    row = _printed_row(stdout, "all jobs")
    rate, limit, naive, ratio_limit, ratio_naive = (_number(c) for c in row[4:5] + row[7:11])
    assert _number(row[1]) == total["rows"]
    assert math.isclose(ratio_limit, rate / limit, rel_tol=0.05)
    assert math.isclose(ratio_naive, rate / naive, rel_tol=0.05)


def test_marts_refresh_covers_the_new_days_pairs(bench_run: tuple[dict, str, Path]) -> None:
    result, stdout, db_path = bench_run
    marts = result["marts"]
    assert marts["rebuild"]["rows"] > 0 and marts["rebuild"]["seconds"] > 0
    day = marts["new_day"]
    assert day["day"] == result["params"]["new_day"] and not day["failed"]
    assert day["rows_read"] > 0
    assert day["rows_loaded"] == sum(j["rows_inserted"] + j["rows_updated"] for j in day["jobs"])
    refresh = marts["refresh"]
    run_ids = ",".join(str(j["run_id"]) for j in day["jobs"])
    with sqlite3.connect(db_path) as db:
        for table, period in (("fact_approval_case", "completed_period"), ("fact_rating", "rated_period"),
                              ("fact_hotline_ticket", "received_period")):
            pairs = db.execute(f"SELECT COUNT(*) FROM (SELECT DISTINCT region_code, {period} FROM {table} "
                               f"WHERE etl_run_id IN ({run_ids}) AND {period} IS NOT NULL)").fetchone()[0]
            assert refresh["tables"].get(table, {"pairs": 0})["pairs"] == pairs, table
        assert db.execute("SELECT COUNT(*) FROM etl_dirty_period").fetchone()[0] == 0  # the refresh cleared them
    assert refresh["pairs"] == sum(t["pairs"] for t in refresh["tables"].values()) > 0
    assert result["params"]["new_day"][:7] in refresh["periods"]
    assert refresh["rows"] > 0 and refresh["regions"] <= 11
    assert "incremental refresh" in stdout and f"{refresh['pairs']} (region, month) pairs" in stdout


def test_dashboard_figures_and_the_kpi_answered_three_ways(bench_run: tuple[dict, str, Path]) -> None:
    result, stdout, db_path = bench_run
    dash = result["dashboard"]
    timed = [c for c in dash["callbacks"] if "median_ms" in c]
    assert timed and {c["page"] for c in dash["callbacks"]} == {"overview"}
    for c in timed:
        assert c["status"] == 200 and c["runs"] == 2 and c["cache"] == "cold"
        assert 0 <= c["median_ms"] <= c["p95_ms"]
    kpi = dash["kpi"]
    assert kpi["agree_duckdb"] and kpi["agree_pandas"] and kpi["regions"] == 12
    for kind in ("duckdb", "pandas"):
        assert math.isclose(kpi[f"ratio_{kind}"], kpi[kind]["median_ms"] / kpi["mart"]["median_ms"])
    with sqlite3.connect(db_path) as db:
        on_time, judgeable, rows = db.execute(
            "SELECT SUM(working_days <= promised_days), COUNT(*), (SELECT COUNT(*) FROM fact_approval_case) "
            "FROM fact_approval_case WHERE status = 'completed' AND completed_period = ? "
            "AND promised_days IS NOT NULL AND working_days IS NOT NULL", (kpi["month"],)).fetchone()
    assert judgeable > 0 and kpi["fact_rows"] == rows
    assert math.isclose(kpi["answer"]["140700"]["on_time_rate"], on_time / judgeable)
    goals = {g["goal"]: g for g in result["goals"]}
    assert goals["mart_vs_duckdb"]["value"] == kpi["ratio_duckdb"]
    assert goals["etl_vs_limit"]["value"] == result["etl"]["total"]["ratio_limit"]
    assert goals["etl_vs_to_sql"]["value"] == result["etl"]["total"]["ratio_naive"]
    assert all(g["met"] == (g["value"] >= g["least"]) for g in goals.values())
    assert "bulletin" not in result and "Bulletin" not in stdout
    loads = dash["browser"]  # the overview in Chromium: loaded twice after one untimed load
    assert set(loads["pages"]) == {"/"} and len(loads["pages"]["/"]["samples_ms"]) == 2
    assert 0 < loads["pages"]["/"]["median_ms"] <= loads["pages"]["/"]["max_ms"] < 60_000
    assert "Full page loads in headless Chromium" in stdout
