"""The demo approval platform API, served for real on a loopback socket and read with urllib."""

from __future__ import annotations

import json
import socket
import sqlite3
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from etl.demo.approval_api import serve_in_thread, start_process
from etl.demo.generator import JINZHONG_UNITS, generate_sources


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("api") / "sources"
    generate_sources(out_dir=out, units=JINZHONG_UNITS, start_month="2026-05", end_month="2026-06", scale=0.004)
    return out / "approval_platform.db"


@pytest.fixture(scope="module")
def base_url(db_path: Path) -> Iterator[str]:
    server, url = serve_in_thread(db_path=db_path)
    yield url
    server.shutdown()


def _get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8"))


def _db_rows(db_path: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, args).fetchall()


def test_healthz(base_url: str) -> None:
    assert _get(f"{base_url}/healthz") == (200, {"status": "ok"})


def test_pagination_covers_every_row_exactly_once(base_url: str, db_path: Path) -> None:
    (expected_total,) = _db_rows(db_path, "SELECT COUNT(*) FROM cases")[0]
    records, page = [], 1
    while True:
        status, body = _get(f"{base_url}/api/v1/cases?page={page}&size=137")
        assert status == 200 and body["code"] == 0 and body["msg"] == "success"
        assert body["data"]["total"] == expected_total
        assert (body["data"]["page"], body["data"]["size"]) == (page, 137)
        if not body["data"]["records"]:
            break
        records.extend(body["data"]["records"])
        page += 1
    assert page == -(-expected_total // 137) + 1
    columns = [r[1] for r in _db_rows(db_path, "PRAGMA table_info(cases)")]
    got = Counter(tuple(r[c] for c in columns) for r in records)
    assert len(records) == expected_total
    assert got == Counter(_db_rows(db_path, "SELECT * FROM cases"))
    assert max(got.values()) == 1
    stamps = [r["GXSJ"] for r in records]
    assert stamps == sorted(stamps)


def test_records_keep_types_and_chinese(base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/api/v1/cases?size=5") as resp:
        assert resp.headers["Content-Type"].startswith("application/json")
        raw = resp.read()
    assert "已办结".encode() in raw or "在办".encode() in raw
    record = json.loads(raw)["data"]["records"][0]
    assert isinstance(record["PDCS"], int) and isinstance(record["SXMC"], str)


def test_updated_since_is_inclusive(base_url: str, db_path: Path) -> None:
    stamps = [r[0] for r in _db_rows(db_path, "SELECT GXSJ FROM cases ORDER BY GXSJ")]
    cut = stamps[len(stamps) // 2]
    (n,) = _db_rows(db_path, "SELECT COUNT(*) FROM cases WHERE GXSJ >= ?", (cut,))[0]
    status, body = _get(f"{base_url}/api/v1/cases?" + urlencode({"updated_since": cut, "size": 10000}))
    assert status == 200
    assert body["data"]["total"] == n == len(body["data"]["records"])
    assert body["data"]["records"][0]["GXSJ"] == cut
    assert all(r["GXSJ"] >= cut for r in body["data"]["records"])


def test_totals_follow_the_export_when_it_changes_while_served(tmp_path: Path, db_path: Path) -> None:
    db = tmp_path / "copy.db"
    with sqlite3.connect(db_path) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    server, url = serve_in_thread(db_path=db)
    try:
        cut = _db_rows(db, "SELECT MAX(GXSJ) FROM cases")[0][0]
        query = f"{url}/api/v1/cases?" + urlencode({"updated_since": cut})
        (before,) = _db_rows(db, "SELECT COUNT(*) FROM cases WHERE GXSJ >= ?", (cut,))[0]
        assert _get(query)[1]["data"]["total"] == before
        with sqlite3.connect(db) as conn:  # a case updated after the last one, and one with no stamp at all
            conn.execute("INSERT INTO cases (SBLSH, GXSJ) VALUES ('NEW-1', '2099-01-01 00:00:00'), ('NEW-2', NULL)")
        status, body = _get(query)
        assert status == 200 and body["data"]["total"] == before + 1
        assert body["data"]["records"][-1]["SBLSH"] == "NEW-1"
        (everything,) = _db_rows(db, "SELECT COUNT(*) FROM cases")[0]
        assert _get(f"{url}/api/v1/cases?size=1")[1]["data"]["total"] == everything
    finally:
        server.shutdown()


def test_items_endpoint_and_page_past_end(base_url: str, db_path: Path) -> None:
    (n,) = _db_rows(db_path, "SELECT COUNT(*) FROM items")[0]
    status, body = _get(f"{base_url}/api/v1/items?size=10000")
    assert status == 200 and body["data"]["total"] == n == len(body["data"]["records"])
    assert {"SXBM", "SXMC", "SSBMBM", "SSBMMC", "FDSX", "CNSX", "SFJBJ", "GXSJ"} == set(body["data"]["records"][0])
    status, body = _get(f"{base_url}/api/v1/items?page=99&size=1000")
    assert status == 200 and body["data"]["records"] == [] and body["data"]["total"] == n


@pytest.mark.parametrize("query", ["page=0", "page=abc", "size=0", "size=10001", "updated_since=yesterday",
                                   "updated_since=2026-13-01", "pagesize=10", "page=1&page=2"])
def test_bad_params_are_400(base_url: str, query: str) -> None:
    status, body = _get(f"{base_url}/api/v1/cases?{query}")
    assert status == 400 and body["code"] == 400 and body["msg"]


def test_unknown_path_is_404(base_url: str) -> None:
    status, body = _get(f"{base_url}/api/v1/nothing")
    assert status == 404 and body["code"] == 404


def test_token_is_required_when_set(db_path: Path) -> None:
    server, url = serve_in_thread(db_path=db_path, token="s3cret")
    try:
        status, body = _get(f"{url}/api/v1/items")
        assert status == 401 and body["code"] == 401
        assert _get(f"{url}/api/v1/items", {"Authorization": "Bearer wrong"})[0] == 401
        assert _get(f"{url}/api/v1/items", {"Authorization": "Bearer s3cret"})[0] == 200
        assert _get(f"{url}/healthz")[0] == 200
    finally:
        server.shutdown()


def test_injected_failures_then_success(db_path: Path) -> None:
    server, url = serve_in_thread(db_path=db_path, failures={("cases", 3): 2})
    try:
        page3 = f"{url}/api/v1/cases?page=3&size=10"
        assert _get(page3)[0] == 503
        assert _get(f"{url}/api/v1/cases?page=2&size=10")[0] == 200
        status, body = _get(page3)
        assert status == 503 and body["code"] == 503
        status, body = _get(page3)
        assert status == 200 and len(body["data"]["records"]) == 10
    finally:
        server.shutdown()


def test_injected_delay_causes_client_timeout(db_path: Path) -> None:
    server, url = serve_in_thread(db_path=db_path, delays={("cases", 1): (1.0, 1)})
    try:
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            _get(f"{url}/api/v1/cases?page=1&size=5", timeout=0.3)
        assert _get(f"{url}/api/v1/cases?page=1&size=5", timeout=5)[0] == 200
    finally:
        server.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_process_serves_and_reports_busy_port(db_path: Path) -> None:
    port = _free_port()
    proc = start_process(db_path=db_path, port=port, token="tok")
    try:
        assert _get(f"http://127.0.0.1:{port}/api/v1/items?size=1")[0] == 401
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/items?size=1", {"Authorization": "Bearer tok"})
        assert status == 200 and len(body["data"]["records"]) == 1
        with pytest.raises(RuntimeError, match=str(port)):
            start_process(db_path=db_path, port=port, timeout=5)
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.stderr is not None
    assert b"GET /api" not in proc.stderr.read()
