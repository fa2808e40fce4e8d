"""The audit-log page (admins only) and "run now" on the data-operations page, against the real Flask server.

A private copy of the session demo with one user per role; requests are built as the browser sends them (the
helpers of tests/test_auth.py), so a forged callback or download gets exactly what the server would answer.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import dash
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from dashboard.app import create_app
from dashboard.etl_runner import runner_for
from models.accounts import add_user
from models.config import Config
from models.db import Warehouse
from models.scope import Viewer
from tests.conftest_dashboard import all_text, component_ids
from tests.test_auth import (
    NOW,
    PASSWORD,
    XSS,
    _component,
    copy_demo,
    download,
    download_file,
    find_callback,
    forge,
    logged_in,
    login,
    strings,
)

USERS = (("au_root", "admin", None), ("au_ana", "analyst", None), ("au_lead", "leader", None),
         ("au_yuci", "county", "140702"))
ADMINS_ONLY = {"zh": "审计日志仅对管理员开放", "en": "open to administrators only"}


def _page(name: str):  # noqa: ANN202
    return sys.modules[dash.page_registry[f"dashboard.pages.{name}"]["module"]]


@pytest.fixture(scope="module")
def site(demo_site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Warehouse, object]]:
    cfg, wh = copy_demo(demo_site, tmp_path_factory.mktemp("audit"))
    # The demo approval API is not running here: fail at once instead of retrying for 15 s.
    api = cfg.sources["approval_api"].model_copy(update={"max_retries": 0, "timeout_seconds": 5})
    cfg = cfg.model_copy(update={"sources": {**cfg.sources, "approval_api": api}})
    with wh.session() as s:
        for name, role, region in USERS:
            add_user(session=s, username=name, password=PASSWORD, role=role, region_code=region,
                     unit_codes=cfg.unit_codes(), now=NOW)
    app = create_app(cfg, warehouse=wh, allow_ephemeral_key=True)
    yield cfg, wh, app
    runner_for(app.server).wait(60)
    wh.dispose()


def audit_table(client: FlaskClient, *, user: str = "__all__", action: str = "__all__", since: str | None = None,
                lang: str = "zh"):  # noqa: ANN201
    dep = find_callback(client, "audit-table-container.children")
    return forge(client, dep, {("audit-user-dropdown", "value"): user, ("audit-action-dropdown", "value"): action,
                               ("audit-since-input", "value"): since, ("app-lang-store", "data"): lang})


def grid_rows(response) -> list[dict]:  # noqa: ANN001
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return _component(response.get_json(), "audit-log-grid").get("rowData") or []


def open_page(client: FlaskClient, path: str, lang: str = "zh"):  # noqa: ANN201
    """The pages router's answer for a path: the page layout this user gets."""
    dep = find_callback(client, "_pages_content.children")
    return forge(client, dep, {("_pages_location", "pathname"): path, ("_pages_location", "search"): "",
                               ("app-lang-store", "data"): lang})


def etl_runs(wh: Warehouse, trigger: str = "ui") -> list[dict]:
    with wh.session() as s:
        return [dict(r) for r in s.execute(text("SELECT id, job, trigger, status, error FROM etl_run "
                                                "WHERE trigger = :t ORDER BY id"), {"t": trigger}).mappings()]


def audit_entries(wh: Warehouse, username: str, action: str) -> list[dict]:
    with wh.session() as s:
        rows = s.execute(text("SELECT success, ip, details FROM audit_log WHERE username = :u AND action = :a "
                              "ORDER BY id"), {"u": username, "a": action}).mappings().all()
    return [{"success": bool(r["success"]), "ip": r["ip"], **json.loads(r["details"])} for r in rows]


# ---- the audit log ------------------------------------------------------------------------------------------------


def test_an_admin_reads_logins_and_logouts_with_user_and_ip(site) -> None:
    _cfg, _wh, app = site
    visitor = logged_in(app, "au_ana")
    visitor.get("/logout")
    client = logged_in(app, "au_root")
    page = open_page(client, "/audit")
    assert _component(page.get_json(), "audit-denied-text")["is_open"] is False
    assert "au_ana" in {o["value"] for o in _component(page.get_json(), "audit-user-dropdown")["options"]}
    rows = grid_rows(audit_table(client, user="au_ana"))
    assert [(r["action_text"], r["username"], r["ip"], r["result"]) for r in rows[:2]] == [
        ("退出", "au_ana", "127.0.0.1", "成功"), ("登录", "au_ana", "127.0.0.1", "成功")]
    assert rows[0]["at"] >= rows[1]["at"]  # newest first
    # The action filter, in English.
    rows = grid_rows(audit_table(client, action="logout", lang="en"))
    assert rows and {r["action_text"] for r in rows} == {"sign-out"}
    assert "au_ana" in {r["username"] for r in rows}


def test_entries_are_plain_text(site) -> None:
    _cfg, _wh, app = site
    login(app.server.test_client(), XSS, "wrong password!")  # a failed sign-in whose username is markup
    rows = grid_rows(audit_table(logged_in(app, "au_root"), action="login"))
    hostile = [r for r in rows if r["username"] == XSS]
    assert hostile and hostile[0]["result"] == "失败" and hostile[0]["details_text"] == "reason=unknown_user"
    column_defs = _component(audit_table(logged_in(app, "au_root")).get_json(), "audit-log-grid")["columnDefs"]
    assert not [d for d in column_defs if "cellRenderer" in d or "dangerously_allow_code" in json.dumps(d)]


@pytest.mark.parametrize("username", ["au_ana", "au_lead", "au_yuci"])
def test_other_roles_get_the_admins_only_note_and_no_rows(site, username: str) -> None:
    _cfg, wh, app = site
    client = logged_in(app, username)
    page = open_page(client, "/audit")
    body = page.get_data(as_text=True)
    assert ADMINS_ONLY["zh"] in body and "127.0.0.1" not in body
    assert _component(page.get_json(), "audit-filters-card")["style"] == {"display": "none"}
    assert [o["value"] for o in _component(page.get_json(), "audit-user-dropdown")["options"]] == ["__all__"]
    # A forged table callback: the read refuses, the answer holds no entry.
    response = audit_table(client, action="login")
    assert response.status_code == 200
    assert grid_rows(response) == [] and response.get_json()["response"]["audit-table-container"]["children"] is None
    assert ADMINS_ONLY["zh"] in response.get_data(as_text=True)
    everyone = {name for name, _role, _region in USERS}
    assert not (strings(response.get_json()) & (everyone - {username}))
    # A forged download of the table: no file, and nothing of the log in the answer.
    for fmt in ("csv", "xlsx"):
        response = download(client, "audit-log", fmt, {"action": "login"})
        assert response.status_code in (200, 204)
        assert download_file(response) is None
        assert "127.0.0.1" not in response.get_data(as_text=True)
    assert wh is not None


def test_an_admin_downloads_the_log(site) -> None:
    _cfg, _wh, app = site
    name, raw = download_file(download(logged_in(app, "au_root"), "audit-log", "csv", {"action": "login"}))
    assert name.endswith(".csv") and "au_root" in raw.decode("utf-8-sig")


# ---- run now ------------------------------------------------------------------------------------------------------


def run_now(client: FlaskClient, job: str, lang: str = "zh", *, clicks: int = 1):  # noqa: ANN201
    """The run-now callback as a click sends it (`clicks=0`: as the polling interval sends it)."""
    dep = find_callback(client, "dataops-run-status-text.children")
    return forge(client, dep, {("dataops-run-button", "n_clicks"): clicks, ("dataops-run-interval", "n_intervals"): 3,
                               ("app-lang-store", "data"): lang, ("dataops-run-job-dropdown", "value"): job,
                               ("dataops-run-done-store", "data"): 0})


def status_text(response) -> str:  # noqa: ANN001
    return str(response.get_json()["response"]["dataops-run-status-text"]["children"])


def test_an_analyst_runs_a_job_now(site) -> None:
    _cfg, wh, app = site
    before = len(etl_runs(wh))
    client = logged_in(app, "au_ana")
    response = run_now(client, "catalogue")
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer["dataops-run-interval"]["disabled"] is False  # polling while it runs
    state = runner_for(app.server).wait(60)
    assert state.status == "failed" and state.job == "catalogue"  # the demo API is not running in tests
    runs = etl_runs(wh)[before:]
    assert [(r["job"], r["trigger"], r["status"]) for r in runs] == [("catalogue", "ui", "failed")]
    assert "approval_api" in runs[0]["error"]
    entries = audit_entries(wh, "au_ana", "etl_run")
    assert entries[-2]["stage"] == "started" and entries[-2]["job"] == "catalogue"
    assert entries[-1]["job"] == "catalogue" and entries[-1]["status"] == "failed" and entries[-1]["rows"] == 0
    assert entries[-1]["success"] is False and entries[-1]["ip"] == "127.0.0.1" and entries[-1]["run_id"]
    # The next poll reports the end, stops polling and tells the runs table to read again.
    answer = run_now(client, "catalogue", "en", clicks=0).get_json()["response"]
    assert answer["dataops-run-interval"]["disabled"] is True
    assert answer["dataops-run-status-text"]["children"].startswith("catalogue failed:")
    assert answer["dataops-run-done-store"]["data"] == state.generation
    # An admin sees the run in the audit log.
    rows = grid_rows(audit_table(logged_in(app, "au_root"), action="etl_run", user="au_ana"))
    assert "job=catalogue" in rows[0]["details_text"] and "status=failed" in rows[0]["details_text"]


@pytest.mark.parametrize(("username", "lang"), [("au_lead", "zh"), ("au_yuci", "en")])
def test_a_leader_or_county_run_now_starts_nothing(site, username: str, lang: str) -> None:
    _cfg, wh, app = site
    runner_for(app.server).wait(60)
    before, runs_before = runner_for(app.server).state(), etl_runs(wh)
    client = logged_in(app, username)
    response = run_now(client, "catalogue", lang)
    assert response.status_code == 200
    assert ("只能查看" if lang == "zh" else "read-only") in status_text(response)
    answer = response.get_json()["response"]
    assert answer["dataops-run-button"]["disabled"] is True and answer["dataops-run-interval"]["disabled"] is True
    assert runner_for(app.server).wait(5) == before  # nothing started
    assert etl_runs(wh) == runs_before
    assert audit_entries(wh, username, "etl_run")[-1] == {"success": False, "ip": "127.0.0.1", "job": "catalogue",
                                                         "trigger": "ui", "reason": "role"}


# ---- rendering, both languages, callback ids --------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_app(site):
    cfg, wh, _app = site
    return create_app(cfg, warehouse=wh, login_required=False)


def _callback_ids(app, prefix: str) -> set[str]:  # noqa: ANN001
    """Every component id the app's callbacks name that starts with `prefix`."""
    ids = set()
    for key, spec in app.callback_map.items():
        parts = [key.strip(".")] if not key.startswith("..") else key[2:-2].split("...")
        names = [p.rsplit(".", 1)[0] for p in parts] + [i["id"] for i in spec["inputs"] + spec["state"]]
        ids |= {n for n in names if isinstance(n, str) and n.startswith(prefix)}
    return ids


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_audit_page_renders(page_app, monkeypatch, lang) -> None:
    page = _page("audit")
    monkeypatch.setattr(page, "current_viewer", lambda: Viewer(role="admin"))
    with page_app.server.test_request_context("/"):
        tree = page.layout(lang=lang, action="login", since="2020-01-01")
        out = page.render_audit("__all__", "login", "2020-01-01", lang)
    ids = component_ids(tree)
    assert _callback_ids(page_app, "audit-") - ids == set()
    assert ("审计日志" if lang == "zh" else "Audit log") == out[0]
    assert "audit-log-grid" in component_ids(out[-1])
    words = all_text(out[-1])
    assert ("登录" if lang == "zh" else "sign-in") in words
    assert ADMINS_ONLY[lang] in out[2]  # the note's text follows the language (shown to other roles only)
    # Any other role: the note, the same ids (the filters hidden, with no user to choose), and no rows.
    monkeypatch.setattr(page, "current_viewer", lambda: Viewer(role="analyst"))
    with page_app.server.test_request_context("/"):
        denied = page.layout(lang=lang)
        out = page.render_audit("__all__", "__all__", None, lang)
    assert component_ids(denied) == ids and ADMINS_ONLY[lang] in all_text(denied)
    assert out[-1] is None and out[-2] == ""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dataops_run_card_renders(page_app, monkeypatch, lang) -> None:
    page = _page("dataops")
    monkeypatch.setattr(page, "current_viewer", lambda: Viewer(role="analyst"))
    with page_app.server.test_request_context("/"):
        tree = page.layout(lang=lang)
        out = page.run_control(0, 0, lang, "catalogue", None)
    ids = component_ids(tree)
    assert _callback_ids(page_app, "dataops-") - ids == set()
    assert out[0] == ("立即运行" if lang == "zh" else "Run now")
    assert out[4] is True and out[5] is False  # idle: no polling, the button enabled
    monkeypatch.setattr(page, "current_viewer", lambda: Viewer(role="leader"))
    with page_app.server.test_request_context("/"):
        out = page.run_control(0, 0, lang, "catalogue", None)
    assert out[5] is True and ("只能查看" if lang == "zh" else "read-only") in out[3]
