"""/healthz through the real Flask app (with the login in place): public, 200 when the warehouse answers and every
job loaded recently enough, 503 when it was never migrated, a job is stale or never succeeded, or the warehouse
cannot be reached, and never with the database URL, an error text or a traceback in the answer.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from dashboard.app import create_app
from models.config import Config, MonitoringSettings
from models.db import Warehouse
from models.migrate import prepare_warehouse
from tests.conftest import free_port

SECRET = "Zq8-not-to-be-shown"


def _client(config: Config, warehouse: Warehouse) -> FlaskClient:
    return create_app(config, warehouse=warehouse, allow_ephemeral_key=True).server.test_client()


def _now(config: Config) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)


def _run(warehouse: Warehouse, *, job: str, status: str, finished: dt.datetime) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(text("INSERT INTO etl_run (job, trigger, started_at, finished_at, status, rows_read, "
                          "rows_inserted, rows_updated, rows_rejected) VALUES (:job, 'schedule', :start, :end, "
                          ":status, 0, 0, 0, 0)"),
                     {"job": job, "start": finished - dt.timedelta(minutes=1), "end": finished, "status": status})


def _get(client: FlaskClient) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_healthz_is_public_and_answers_for_the_warehouse_and_each_jobs_last_success(
    database_url: str, config: Config,
) -> None:
    warehouse = Warehouse(database_url)
    client = _client(config, warehouse)
    assert client.get("/").status_code == 302, "the rest of the app still needs a login"

    status, body = _get(client)  # an empty database: reachable, never migrated
    assert status == 503 and body["status"] == "fail"
    assert body["warehouse"]["ok"] is False and body["warehouse"]["revision"] is None
    assert body["problems"] == ["warehouse: not migrated (run `bizenv db upgrade`)"]

    prepare_warehouse(warehouse=warehouse, config=config)
    with warehouse.engine.connect() as conn:
        revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
    status, body = _get(client)  # migrated, nothing loaded yet
    assert status == 503
    assert body["warehouse"] == {"ok": True, "engine": warehouse.engine.dialect.name, "revision": revision,
                                 "latest_revision": revision}
    assert set(body["etl"]) == set(config.jobs) == {"catalogue", "approvals", "hotline", "ratings", "county_figures"}
    assert body["problems"] == [f"etl {job}: never succeeded (limit {config.monitoring.limit_for(job)} min)"
                                for job in config.jobs]

    now = _now(config)
    for job in config.jobs:
        _run(warehouse, job=job, status="success", finished=now - dt.timedelta(minutes=5))
    status, body = _get(client)
    assert status == 200 and body["status"] == "ok" and body["problems"] == []
    for state in body["etl"].values():
        assert state["ok"] is True and state["last_run_status"] == "success"
        assert 5 <= state["age_minutes"] < 7, state  # five minutes, plus the time the test took
        assert state["last_success"] == (now - dt.timedelta(minutes=5)).isoformat(sep=" ")

    # approvals (limit 60 in config.yaml) last succeeded 90 minutes ago; its latest run failed since
    with warehouse.engine.begin() as conn:
        conn.execute(text("UPDATE etl_run SET finished_at = :t WHERE job = 'approvals'"),
                     {"t": now - dt.timedelta(minutes=90)})
    _run(warehouse, job="approvals", status="failed", finished=now - dt.timedelta(minutes=2))
    status, body = _get(client)
    assert config.monitoring.limit_for("approvals") == 60
    assert status == 503
    assert body["problems"] == ["etl approvals: last success 90 min ago (limit 60 min)"]
    assert body["etl"]["approvals"]["ok"] is False and body["etl"]["approvals"]["last_run_status"] == "failed"
    assert all(state["ok"] for job, state in body["etl"].items() if job != "approvals")
    only = client.get("/healthz?only=warehouse")  # what a load balancer asks: a late load elsewhere is no reason
    assert only.status_code == 200 and only.get_json()["etl"] is None and only.get_json()["warehouse"]["ok"]

    # the limit is configuration: two hours for approvals, and the same warehouse is healthy
    relaxed = config.model_copy(update={"monitoring": MonitoringSettings(max_etl_age_minutes=1560,
                                                                          job_max_age_minutes={"approvals": 120})})
    status, body = _get(_client(relaxed, warehouse))
    assert status == 200 and body["etl"]["approvals"]["max_age_minutes"] == 120
    warehouse.dispose()


@pytest.mark.parametrize("url", [
    pytest.param(f"postgresql://bizenv:{SECRET}@127.0.0.1:{free_port()}/bizenv", id="postgres-port-closed"),
    pytest.param("sqlite:///{tmp}/notes.db", id="sqlite-not-a-database"),
])
def test_healthz_answers_503_without_secrets_when_the_warehouse_is_unreachable(
    url: str, config: Config, tmp_path, caplog: pytest.LogCaptureFixture,
) -> None:
    url = url.format(tmp=tmp_path)
    (tmp_path / "notes.db").write_text(f"password={SECRET}\n" * 200, encoding="utf-8")
    warehouse = Warehouse(url)
    status, body = _get(_client(config, warehouse))
    assert status == 503
    assert body["status"] == "fail" and body["etl"] is None
    assert body["warehouse"]["ok"] is False and body["problems"] == ["warehouse: unreachable"]
    assert _client(config, warehouse).get("/healthz?only=warehouse").status_code == 503
    raw = _client(config, warehouse).get("/healthz").get_data(as_text=True)
    for leak in (SECRET, "127.0.0.1", "notes.db", str(tmp_path), "Traceback", "Error"):
        assert leak not in raw, leak
    assert "healthz: the warehouse cannot be queried" in caplog.text, "the server log keeps the details"
    warehouse.dispose()


def test_production_entry_point_serves_healthz_and_sees_the_client_behind_nginx(
    monkeypatch: pytest.MonkeyPatch, tmp_path, config: Config,
) -> None:
    """dashboard.wsgi as gunicorn loads it: /healthz is public, and the one X-Forwarded-For hop nginx sets is the
    client address the login limit and the audit log use (not nginx's own address)."""
    import importlib
    import re

    url = f"sqlite:///{tmp_path / 'wsgi.db'}"
    warehouse = Warehouse(url)
    prepare_warehouse(warehouse=warehouse, config=config)
    monkeypatch.setenv("BIZENV_DATABASE_URL", url)
    monkeypatch.setenv("BIZENV_SECRET_KEY", "0123456789abcdef" * 4)
    monkeypatch.setenv("BIZENV_ENV", "production")
    server = importlib.reload(importlib.import_module("dashboard.wsgi")).server
    client = server.test_client()
    status, body = _get(client)
    assert status == 503 and body["warehouse"]["ok"] is True  # migrated, nothing loaded yet

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    for forwarded in ("203.0.113.7", "6.6.6.6, 203.0.113.8"):  # a client's own header, then nginx's hop
        response = client.post("/login", data={"csrf_token": token, "username": "nobody", "password": "wrong"},
                               headers={"X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert response.status_code == 401
    with warehouse.engine.connect() as conn:
        ips = [r[0] for r in conn.execute(text("SELECT ip FROM audit_log WHERE action = 'login' ORDER BY id"))]
    assert ips == ["203.0.113.7", "203.0.113.8"]
    warehouse.dispose()
