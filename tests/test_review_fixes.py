"""Edge cases a review found: each test fails on the code before its fix."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from sqlalchemy import insert, text

from etl.datasets import approvals, service_items
from etl.datasets.base import Context, reject_frame, resolve_region
from etl.extract.http_api import HttpApiExtractor, SourceError
from etl.load import clear_dirty, dirty_pairs, mark_dirty
from models.calendar import get_calendar
from models.config import Config, HttpApiSource
from models.db import Warehouse
from models.kpis import refresh_kpi_marts
from models.regions import alias_map


def test_a_pair_marked_during_a_refresh_stays_pending(warehouse: Warehouse) -> None:
    with warehouse.engine.begin() as conn:
        mark_dirty(conn=conn, fact_table="fact_approval_case", pairs={("140702", "2026-02")})
    with warehouse.engine.begin() as conn:
        pending = dirty_pairs(conn=conn)
        with warehouse.engine.begin() as other:  # another run commits a page meanwhile
            mark_dirty(conn=other, fact_table="fact_approval_case", pairs={("140703", "2026-03")})
        clear_dirty(conn=conn, pending=pending)
    with warehouse.engine.connect() as conn:
        assert dirty_pairs(conn=conn) == {"fact_approval_case": {("140703", "2026-03")}}


def test_rejected_records_with_list_values_are_stored_as_json() -> None:
    raw = pd.DataFrame({"FJ": [[1, 2], []], "X": [None, 3]})
    out = reject_frame(raw, pd.Series(["missing_key", "missing_key"]), source="s", lines=pd.Series([1, 2]))
    assert [json.loads(r) for r in out["raw"]] == [{"FJ": [1, 2], "X": None}, {"FJ": [], "X": 3.0}]


def test_numeric_region_codes_with_a_null_on_the_page_resolve(config: Config) -> None:
    got = resolve_region(pd.Series([140702, None, 140726]), alias_map(config))
    assert got.tolist() == ["140702", pd.NA, "140703"]


def _ctx(config: Config) -> Context:
    return Context(config=config, aliases=alias_map(config), calendar=get_calendar(), run_id=1)


def test_unreadable_counts_are_quarantined_not_read_as_zero(config: Config) -> None:
    base = dict(SBLSH="C1", SXBM="I1", XZQHDM="140702", SLSJ="2026-03-02 09:00:00", BJSJ="2026-03-05 09:00:00",
                BJZT="已办结", ZTTS="三", PDCS=1, CNSX=5, GXSJ="2026-03-06 00:00:00")
    prepared = approvals.prepare(pd.DataFrame([base, {**base, "SBLSH": "C2", "ZTTS": "１"}]), source="t",
                                 ctx=_ctx(config))
    assert prepared.rejects["reason_code"].tolist() == ["invalid_number"]
    assert prepared.rows[["case_id", "suspended_days", "working_days"]].values.tolist() == [["C2", 1, 2]]


def test_catalogue_item_without_a_statutory_limit_is_refused(config: Config) -> None:
    raw = pd.DataFrame([dict(SXBM="I1", SXMC="事项", SSBMBM="D", SSBMMC="部门", FDSX="—", CNSX=50, SFJBJ="0",
                             GXSJ="2026-01-01 00:00:00")])
    prepared = service_items.prepare(raw, source="t", ctx=_ctx(config))
    assert prepared.rows.empty and prepared.rejects["reason_code"].tolist() == ["bad_limit"]


def test_on_time_rate_leaves_out_cases_without_a_promised_limit(warehouse: Warehouse, config: Config) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(text("INSERT INTO etl_run (job, trigger, started_at, status, rows_read, rows_inserted, "
                          "rows_updated, rows_rejected) "
                          "VALUES ('t', 'cli', '2026-03-06 00:00:00', 'success', 0, 0, 0, 0)"))
        run_id = conn.execute(text("SELECT MAX(id) FROM etl_run")).scalar()
        common = dict(region_code="140702", item_known=True, channel="window", accepted_at="2026-03-02 09:00:00",
                      completed_at="2026-03-04 09:00:00", status="completed", suspended_days=0, working_days=2,
                      visits=1, fully_online=False, accepted_period="2026-03", completed_period="2026-03",
                      row_hash="h", etl_run_id=run_id, source="t")
        conn.execute(text("INSERT INTO fact_approval_case (case_id, item_code, promised_days, region_code, item_known, "
                          "channel, accepted_at, completed_at, status, suspended_days, working_days, visits, "
                          "fully_online, accepted_period, completed_period, row_hash, etl_run_id, source) VALUES "
                          "(:case_id, :item_code, :promised_days, :region_code, :item_known, :channel, :accepted_at, "
                          ":completed_at, :status, :suspended_days, :working_days, :visits, :fully_online, "
                          ":accepted_period, :completed_period, :row_hash, :etl_run_id, :source)"),
                     [dict(common, case_id="A", item_code="I1", promised_days=5),
                      dict(common, case_id="B", item_code="X", promised_days=None)])
        refresh_kpi_marts(conn=conn, config=config, pairs={("140702", "2026-03")})
        rows = dict(((r[0], r[1]), (r[2], r[3])) for r in conn.execute(text(
            "SELECT region_code, kpi_code, value, sample_size FROM mart_kpi_monthly")))
    assert rows[("140702", "on_time_rate")] == (1.0, 1)
    assert rows[("140702", "avg_processing_days")] == (2.0, 2)


class _Capped(BaseHTTPRequestHandler):
    """A source that serves at most 2 records a page whatever size is asked, and says how many match."""

    rows = [{"ID": f"R{i}", "T": f"2026-01-01 00:00:0{i}"} for i in range(5)]

    def do_GET(self) -> None:  # noqa: N802
        q = parse_qs(urlsplit(self.path).query)
        if urlsplit(self.path).path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://203.0.113.9/elsewhere")
            self.end_headers()
            return
        since = q.get("updated_since", [""])[0]
        page = int(q["page"][0])
        match = [r for r in self.rows if r["T"] >= since]
        body = json.dumps({"data": {"total": len(match), "records": match[(page - 1) * 2:page * 2]}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def capped_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capped)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _extractor(url: str, path: str = "/rows") -> HttpApiExtractor:
    settings = HttpApiSource(kind="http_api", base_url=url, endpoints={"rows": path}, page_size=10, max_retries=0)
    return HttpApiExtractor(settings=settings, name="t", stream="rows", cursor_field="T", key_field="ID")


def test_a_source_that_caps_page_size_is_read_to_the_end(capped_url: str) -> None:
    ids = [i for page in _extractor(capped_url).pages(since=None) for i in page.frame["ID"]]
    assert ids == ["R0", "R1", "R2", "R3", "R4"]


def test_redirects_are_refused_so_the_token_stays_home(capped_url: str) -> None:
    with pytest.raises(SourceError, match="redirect to http://203.0.113.9/elsewhere"):
        list(_extractor(capped_url, "/moved").pages(since=None))


def test_demo_refuses_to_reset_a_warehouse_with_other_runs(warehouse: Warehouse, config: Config, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from etl.demo_build import DemoError, build_demo

    with warehouse.engine.begin() as conn:
        from models.ops import EtlRun

        conn.execute(insert(EtlRun).values(job="approvals", trigger="scheduler", started_at=dt.datetime(2026, 1, 1),
                                           status="success", rows_read=1, rows_inserted=1, rows_updated=0,
                                           rows_rejected=0))
    cfg = config.model_copy(update={
        "warehouse": config.warehouse.model_copy(update={"url": warehouse.url}),
        "demo": config.demo.model_copy(update={"sources_dir": str(tmp_path / "sources")}),
    })
    monkeypatch.delenv("BIZENV_DATABASE_URL", raising=False)
    with pytest.raises(DemoError, match="holds runs that are not the demo's"):
        build_demo(config=cfg, scale=0.01, months=1, end_month="2026-10", echo=lambda _m: None)
    assert not (tmp_path / "sources").exists()
