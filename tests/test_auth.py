"""The login wall, against the real Flask server of the Dash app with the test client, on a copy of the demo."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from dashboard.app import create_app
from dashboard.auth import InsecureSecretKey, secret_key
from models.accounts import add_user
from models.config import Config
from models.db import Warehouse

NOW = dt.datetime(2026, 11, 25, 9, 0)

PASSWORD = "correct horse battery"
YUCI, TAIGU = "140702", "140703"
MONTH = "2026-10"  # the demo's last month
XSS = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://x","y")'
DASH_ENDPOINTS = [("GET", "/_dash-layout"), ("GET", "/_dash-dependencies"), ("POST", "/_dash-update-component")]


def copy_demo(demo_site: tuple[Config, Warehouse], folder: Path) -> tuple[Config, Warehouse]:
    """A private copy of the session demo (the SQLite online backup API), so tests may add users to it."""
    cfg, wh = demo_site
    target = folder / "demo-copy.db"
    src = sqlite3.connect(wh.engine.url.database)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    url = f"sqlite:///{target}"
    return cfg.model_copy(update={"warehouse": cfg.warehouse.model_copy(update={"url": url})}), Warehouse(url)


def insert_like(session: Any, table: str, key: str, region: str, **values: Any) -> None:
    """A fact row in `region` copied from one of its real rows (so every NOT NULL column is filled), then changed."""
    row = dict(session.execute(text(f"SELECT * FROM {table} WHERE region_code = :r LIMIT 1"), {"r": region})
               .mappings().one())
    row.update(values)
    assert key in values
    cols = ", ".join(row)
    session.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in row)})"), row)


def insert_hostile_text(session: Any) -> None:
    """Yuci rows whose user text is an HTML injection or a spreadsheet formula, at the top of the drill-downs.

    The tickets were due on 1 Oct and are still open, so they are the latest of October's overdue tickets; the bad
    review is older than any demo rating and unrectified, so it heads the unrectified list.
    """
    for ticket_id, content in (("SEC-XSS-1", XSS), ("SEC-FORMULA-1", FORMULA)):
        insert_like(session, "fact_hotline_ticket", "ticket_id", YUCI, ticket_id=ticket_id, content=content,
                    status="in_progress", received_at=dt.datetime(2026, 10, 1, 0, 5), received_period=MONTH,
                    due_at=dt.datetime(2026, 10, 1, 0, 10), closed_at=None, row_hash=ticket_id)
    insert_like(session, "fact_rating", "rating_id", YUCI, rating_id="SEC-XSS-R1", comment=XSS, level=1,
                verified_bad=True, rectify_status="pending", rectified_at=None, rectify_working_days=None,
                rated_at=dt.datetime(2025, 8, 1, 9, 0), rated_period="2025-08", row_hash="SEC-XSS-R1")


def detail_ids(wh: Warehouse, region: str) -> set[str]:
    """Every case, rating and ticket id of a region, straight from the warehouse: what must never leak."""
    with wh.session() as s:
        return {r[0] for q in ("SELECT case_id FROM fact_approval_case WHERE region_code = :r",
                               "SELECT rating_id FROM fact_rating WHERE region_code = :r",
                               "SELECT ticket_id FROM fact_hotline_ticket WHERE region_code = :r")
                for r in s.execute(text(q), {"r": region})}


@pytest.fixture(scope="module")
def site(demo_site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Warehouse, object]]:
    cfg, wh = copy_demo(demo_site, tmp_path_factory.mktemp("auth"))
    with wh.session() as s:
        for name, role, region in (("lead", "leader", None), ("yuci", "county", "140702"),
                                   ("taigu", "county", "140703"), ("victim", "analyst", None),
                                   ("ana", "analyst", None), ("root", "admin", None)):
            add_user(session=s, username=name, password=PASSWORD, role=role, region_code=region,
                     unit_codes=cfg.unit_codes(), now=NOW)
        insert_hostile_text(s)
    app = create_app(cfg, warehouse=wh, allow_ephemeral_key=True)  # login required: the production default
    yield cfg, wh, app
    wh.dispose()


def _csrf(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD, token: str | None = None):  # noqa: ANN201
    token = _csrf(client) if token is None else token
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_anonymous_requests_get_no_data(site) -> None:
    _cfg, _wh, app = site
    client = app.server.test_client()
    page = client.get("/ranking")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/ranking")
    for method, path in DASH_ENDPOINTS:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401, path
        assert "140702" not in response.get_data(as_text=True)
    assert client.get("/login").status_code == 200


def test_login_needs_its_csrf_token(site) -> None:
    _cfg, _wh, app = site
    client = app.server.test_client()
    _csrf(client)
    response = login(client, "lead", token="forged")
    assert response.status_code == 400 and client.get("/_dash-layout").status_code == 401


def test_a_good_login_opens_the_app_with_security_headers(site) -> None:
    _cfg, _wh, app = site
    client = app.server.test_client()
    response = login(client, "lead")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/_dash-layout").status_code == 200
    client.get("/logout")
    assert client.get("/_dash-layout").status_code == 401


def test_the_sixth_wrong_password_is_refused_with_429(site) -> None:
    _cfg, _wh, app = site
    client = app.server.test_client()
    codes = [login(client, "victim", "wrong password!").status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert login(client, "victim").status_code == 429  # locked even with the right password


def test_open_redirects_are_refused(site) -> None:
    _cfg, _wh, app = site
    client = app.server.test_client()
    token = _csrf(client)
    response = client.post("/login?next=//evil.example/x", data={"username": "lead", "password": PASSWORD,
                                                                  "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_secret_key_must_be_set_outside_demo_and_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIZENV_SECRET_KEY", raising=False)
    with pytest.raises(InsecureSecretKey, match="BIZENV_SECRET_KEY"):
        secret_key(allow_ephemeral=False)
    monkeypatch.setenv("BIZENV_SECRET_KEY", "changeme")
    with pytest.raises(InsecureSecretKey):
        secret_key(allow_ephemeral=False)
    monkeypatch.setenv("BIZENV_SECRET_KEY", "k" * 40)
    assert secret_key(allow_ephemeral=False) == "k" * 40


def test_production_refuses_to_start_without_a_secret_key(demo_site, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, wh = demo_site
    monkeypatch.delenv("BIZENV_SECRET_KEY", raising=False)
    monkeypatch.setenv("BIZENV_ENV", "production")
    with pytest.raises(InsecureSecretKey, match="BIZENV_SECRET_KEY"):
        create_app(cfg, warehouse=wh, allow_ephemeral_key=True)  # not even the demo's per-process key
    monkeypatch.setenv("BIZENV_SECRET_KEY", "p" * 40)
    assert create_app(cfg, warehouse=wh).server.secret_key == "p" * 40


# ---- forged Dash requests: built from what the browser sends ----------------------------------------------------


def logged_in(app, username: str) -> FlaskClient:  # noqa: ANN001
    client = app.server.test_client()
    assert login(client, username).status_code == 302
    return client


def find_callback(client: FlaskClient, output_part: str) -> dict:
    """The callback whose output names `output_part`, from /_dash-dependencies as this user's browser reads it."""
    deps = client.get("/_dash-dependencies").get_json()
    found = [d for d in deps if output_part in d["output"]]
    assert len(found) == 1, [d["output"] for d in found]
    return found[0]


def _concrete(cid: Any, match: Mapping[str, Any]) -> Any:
    """A pattern id with its wildcards (["MATCH"]) filled in, as the renderer sends it; a plain id unchanged."""
    if isinstance(cid, str):
        return json.loads(cid) if cid.startswith("{") else cid
    return {k: match[k] if isinstance(v, list) else v for k, v in cid.items()}


def _key(cid: Any) -> str:
    return cid if isinstance(cid, str) else cid["type"]


def forge(client: FlaskClient, dep: dict, values: Mapping[tuple[str, str], Any], *,
          match: Mapping[str, Any] | None = None):  # noqa: ANN201
    """POST /_dash-update-component in the renderer's JSON shape; `values` by (id or pattern type, property)."""
    match = match or {}
    spec = dep["output"]
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    outputs = []
    for part in parts:
        cid, prop = part.rsplit(".", 1)
        outputs.append({"id": _concrete(cid, match), "property": prop.split("@")[0]})

    def items(deps: list[dict]) -> list[dict]:
        out = []
        for d in deps:
            cid = _concrete(d["id"], match)
            out.append({"id": cid, "property": d["property"], "value": values.get((_key(cid), d["property"]))})
        return out

    inputs, state = items(dep["inputs"]), items(dep["state"])
    first = inputs[0]
    changed = json.dumps(first["id"], separators=(",", ":"), sort_keys=True) if isinstance(first["id"], dict) \
        else first["id"]
    body = {"output": spec, "outputs": outputs if len(outputs) > 1 or spec.startswith("..") else outputs[0],
            "inputs": inputs, "state": state, "changedPropIds": [f"{changed}.{first['property']}"]}
    return client.post("/_dash-update-component", json=body)


def strings(node: Any) -> set[str]:
    """Every string anywhere in a JSON value (grid rows, figure data, texts)."""
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set().union(*(strings(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(strings(v) for v in node)) if node else set()
    return set()


DRILL_TABLES = ("county-slowest", "county-overdue-cases", "county-bad-reviews", "county-overdue-tickets")


class _Drill:
    """The county profile's four drill-down callbacks (one per table) for one request's worth of answers."""

    def __init__(self, responses: list) -> None:
        self.responses = responses
        self.status_code = max(r.status_code for r in responses)

    def get_json(self) -> list:
        return [r.get_json() for r in self.responses]


def drill(client: FlaskClient, region: str) -> _Drill:
    """Every drill-down table's callback for a region and the demo's last month, as the page fires them."""
    values = {("county-region-dropdown", "value"): region, ("county-month-dropdown", "value"): MONTH,
              ("app-lang-store", "data"): "zh"}
    return _Drill([forge(client, find_callback(client, f"{table}-div.children"), values) for table in DRILL_TABLES])


def test_a_forged_drill_down_for_another_county_gets_none_of_its_rows(site) -> None:
    _cfg, wh, app = site
    taigu_ids = detail_ids(wh, TAIGU)
    assert len(taigu_ids) > 100
    # The same request from a city analyst does carry Taigu's rows: the forged one is well formed, and there is data.
    leaked_to_analyst = strings(drill(logged_in(app, "ana"), TAIGU).get_json()) & taigu_ids
    assert leaked_to_analyst
    # Yuci's bureau asking for Taigu (the county profile offers only Yuci in its dropdown; this is forged).
    client = logged_in(app, "yuci")
    response = drill(client, TAIGU)
    assert response.status_code == 200
    assert not strings(response.get_json()) & taigu_ids
    # …while its own county's drill-down still works.
    own = strings(drill(client, YUCI).get_json())
    assert own & detail_ids(wh, YUCI) and not own & taigu_ids


def download(client: FlaskClient, table: str, fmt: str, filters: Mapping[str, Any], lang: str = "zh"):  # noqa: ANN201
    """The table download callback, with the filters store forged as the caller likes."""
    dep = find_callback(client, f'"format":"{fmt}","table":["MATCH"],"type":"table-download"')
    return forge(client, dep, {("table-download-button", "n_clicks"): 1, ("table-filters-store", "data"): filters,
                               ("app-lang-store", "data"): lang,
                               ("table-download-button", "id"): {"type": "table-download-button", "table": table,
                                                                 "format": fmt}},
                 match={"table": table})


def download_file(response) -> tuple[str, bytes] | None:  # noqa: ANN001
    """(file name, bytes) of a download callback's answer, or None when it sent no file."""
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    for props in response.get_json()["response"].values():
        data = props.get("data")
        if data:
            raw = base64.b64decode(data["content"]) if data.get("base64") else data["content"].encode()
            return data["filename"], raw
    return None


def download_note(response) -> str:  # noqa: ANN001
    if response.status_code == 204:
        return ""
    return " ".join(str(p.get("children") or "") for p in response.get_json()["response"].values())


def csv_rows(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


TICKETS = {"region": TAIGU, "period": MONTH}


def test_a_forged_download_for_another_county_gets_none_of_its_rows(site) -> None:
    _cfg, wh, app = site
    taigu_ids = detail_ids(wh, TAIGU)
    # Control: an analyst's download of Taigu's overdue tickets holds Taigu's tickets.
    _name, raw = download_file(download(logged_in(app, "ana"), "county-overdue-tickets", "csv", TICKETS))
    assert {v for r in csv_rows(raw) for v in r.values()} & taigu_ids
    client = logged_in(app, "yuci")
    # The county profile's tickets table: the source reads Yuci's scope and answers with an empty file.
    found = download_file(download(client, "county-overdue-tickets", "csv", TICKETS))
    assert found is None or not csv_rows(found[1])
    # The approvals page's overdue cases: the read refuses, so no file at all and a note that says why.
    response = download(client, "approvals-overdue", "xlsx", {"region": TAIGU, "start": MONTH, "end": MONTH})
    assert download_file(response) is None and "无权" in download_note(response)
    assert TAIGU not in response.get_data(as_text=True)
    assert audit_rows(wh, "yuci")[-1] == {"success": False, "table": "approvals-overdue", "format": "xlsx",
                                          "rows": 0, "reason": "scope"}


def test_a_county_user_still_sees_every_county_kpi_and_the_ranking(site) -> None:
    cfg, _wh, app = site
    client = logged_in(app, "yuci")
    counties = set(cfg.unit_codes())
    assert len(counties) == 11
    # The ranking page's table callback: all 11 counties, each with a rank.
    dep = find_callback(client, "ranking-table-div.children")
    response = forge(client, dep, {("ranking-month-dropdown", "value"): MONTH, ("app-lang-store", "data"): "zh"})
    assert response.status_code == 200
    grid = _component(response.get_json(), "ranking-table-grid")
    assert {r["region_code"] for r in grid["rowData"]} == counties
    assert sorted(r["rank"] for r in grid["rowData"] if r["rank"] is not None)[0] == 1
    # The overview's county comparison: one bar per county with its value.
    dep = find_callback(client, "overview-county-graph.figure")
    response = forge(client, dep, {("overview-month-dropdown", "value"): MONTH,
                                   ("overview-kpi-dropdown", "value"): "on_time_rate",
                                   ("app-lang-store", "data"): "en"})
    figure = response.get_json()["response"]["overview-county-graph"]["figure"]
    bars = [(y, x) for trace in figure["data"] for y, x in zip(trace["y"], trace["x"], strict=True)]
    assert len(bars) == 11 and all(x is not None for _y, x in bars)
    assert {y for y, _x in bars} == {u.short_en for u in cfg.city.units}


def _component(node: Any, cid: str) -> dict:
    """The props of the component with id `cid` anywhere in a callback response."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == cid:
            return node["props"]
        for value in node.values():
            found = _component(value, cid)
            if found:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _component(value, cid)
            if found:
                return found
    return {}


def test_an_xlsx_export_holds_a_formula_ticket_as_text(site) -> None:
    import openpyxl

    _cfg, _wh, app = site
    response = download(logged_in(app, "ana"), "county-overdue-tickets", "xlsx", {"region": YUCI, "period": MONTH})
    name, raw = download_file(response)
    assert name.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(raw)).active
    cells = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert len(cells) == 1
    assert cells[0].value == "'" + FORMULA and cells[0].data_type == "s"  # text with the apostrophe, not a formula
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]


# ---- exports: who may download, and the audit entry of each download --------------------------------------------


def audit_rows(wh: Warehouse, username: str) -> list[dict]:
    with wh.session() as s:
        rows = s.execute(text("SELECT action, success, details FROM audit_log WHERE username = :u "
                              "AND action = 'export' ORDER BY id"), {"u": username}).mappings().all()
    return [{"success": bool(r["success"]), **json.loads(r["details"])} for r in rows]


def test_every_download_is_audited_with_its_table_format_and_row_count(site) -> None:
    _cfg, wh, app = site
    before = len(audit_rows(wh, "ana"))
    client = logged_in(app, "ana")
    _name, raw = download_file(download(client, "county-overdue-tickets", "csv", {"region": YUCI, "period": MONTH}))
    rows = csv_rows(raw)
    assert rows
    _name, raw = download_file(download(client, "county-overdue-tickets", "xlsx", {"region": YUCI, "period": MONTH}))
    entries = audit_rows(wh, "ana")[before:]
    assert entries == [
        {"success": True, "table": "county-overdue-tickets", "format": "csv", "rows": len(rows)},
        {"success": True, "table": "county-overdue-tickets", "format": "xlsx", "rows": len(rows)},
    ]


def test_a_leader_reads_but_may_not_download(site) -> None:
    _cfg, wh, app = site
    client = logged_in(app, "lead")
    response = download(client, "county-overdue-tickets", "csv", {"region": YUCI, "period": MONTH})
    assert download_file(response) is None
    assert "只读" in download_note(response)  # said politely, in the reader's language
    response = download(client, "ranking-table", "xlsx", {"period": MONTH}, lang="en")
    assert download_file(response) is None and "read-only" in download_note(response)
    assert audit_rows(wh, "lead")[-2:] == [
        {"success": False, "table": "county-overdue-tickets", "format": "csv", "rows": 0, "reason": "role"},
        {"success": False, "table": "ranking-table", "format": "xlsx", "rows": 0, "reason": "role"},
    ]


def test_a_county_bureau_downloads_its_own_scope(site) -> None:
    cfg, wh, app = site
    client = logged_in(app, "yuci")
    _name, raw = download_file(download(client, "county-overdue-tickets", "csv", {"region": YUCI, "period": MONTH}))
    ids = {r[next(iter(r))] for r in csv_rows(raw)}  # the first column is the ticket id
    assert {"SEC-XSS-1", "SEC-FORMULA-1"} <= ids <= detail_ids(wh, YUCI)
    # The ranking (every county's, visible to every role) downloads whole.
    _name, raw = download_file(download(client, "ranking-table", "csv", {"period": MONTH}))
    assert len(csv_rows(raw)) == len(cfg.unit_codes())
    entries = audit_rows(wh, "yuci")
    assert entries[-2:] == [
        {"success": True, "table": "county-overdue-tickets", "format": "csv", "rows": len(ids)},
        {"success": True, "table": "ranking-table", "format": "csv", "rows": 11},
    ]


def test_without_the_login_wall_downloads_write_no_audit(site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Page tests build the app without login: there is no user to audit, so nothing is written (and nothing fails)."""
    import dashboard.tables as tables
    from models.scope import Viewer

    cfg, wh, _app = site
    app = create_app(cfg, warehouse=wh, login_required=False)
    with wh.session() as s:
        count = s.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    monkeypatch.setattr(tables, "current_viewer", lambda: Viewer(role="analyst"))
    button = {"type": "table-download-button", "table": "ranking-table", "format": "csv"}
    with app.server.test_request_context("/"):
        file, note = tables.download(1, {"period": MONTH}, "zh", button)
    assert file["filename"].endswith(".csv") and note == ""
    with wh.session() as s:
        assert s.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == count


def test_a_shared_link_survives_the_login_and_dash_scripts_are_allowed(site) -> None:
    _cfg, _wh, app = site
    client = app.server.test_client()
    link = f"/county?region={YUCI}&month={MONTH}"
    gate = client.get(link)
    assert gate.status_code == 302
    login_url = gate.headers["Location"]
    page = client.get(login_url).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', page).group(1).replace("&amp;", "&")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(action, data={"username": "yuci", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == link
    # The CSP names each of Dash's inline scripts by one single-quoted hash (a doubled quote voids it, and the
    # browser would then block the scripts that start the app).
    csp = client.get(link).headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+);", csp).group(1).split()
    assert script_src[0] == "'self'" and len(script_src) > 1
    assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", h) for h in script_src[1:]), script_src


# ---- the account read behind every request -----------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """The account memo's clock, moved by hand (no sleeping, nothing timed)."""
    from dashboard import auth

    now = {"t": 1_000_000.0}
    monkeypatch.setattr(auth, "_clock", lambda: now["t"])
    return now


def test_a_page_burst_reads_the_account_once_and_a_disabled_account_is_out_within_the_ttl(
        site, clock: dict[str, float], monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import auth
    from models.accounts import set_disabled

    _cfg, wh, app = site
    with wh.session() as s:
        add_user(session=s, username="leaving", password=PASSWORD, role="analyst", region_code=None,
                 unit_codes=_cfg.unit_codes(), now=NOW)
    reads = []
    real = auth.get_user
    monkeypatch.setattr(auth, "get_user", lambda **kw: reads.append(kw["user_id"]) or real(**kw))
    client = app.server.test_client()
    assert login(client, "leaving").status_code == 302
    reads.clear()
    for _ in range(6):  # a page's callbacks, fired together
        assert client.get("/_dash-layout").status_code == 200
    assert len(reads) == 1

    with wh.session() as s:
        set_disabled(session=s, username="leaving", disabled=True)
    clock["t"] += auth.ACCOUNT_TTL_SECONDS  # the memo's entry is now too old to use
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert client.get(path).status_code == 401, path
    assert client.get("/ranking").status_code == 302
    assert len(reads) == 2  # read once more, found disabled, and that answer is reused too


def test_the_account_memo_never_gives_one_session_another_account(site, clock: dict[str, float]) -> None:
    from flask_login import current_user

    _cfg, _wh, app = site
    first, second = app.server.test_client(), app.server.test_client()
    assert login(first, "yuci").status_code == 302 and login(second, "taigu").status_code == 302
    for _ in range(2):  # interleaved, all within one memo period
        for client, name, region in ((first, "yuci", "140702"), (second, "taigu", "140703")):
            with client:
                assert client.get("/_dash-layout").status_code == 200
                assert (current_user.username, current_user.viewer.region_code) == (name, region)
