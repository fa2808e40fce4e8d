"""The login wall, against the real Flask server of the Dash app with the test client, on a copy of the demo."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from dashboard.app import create_app
from dashboard.auth import InsecureSecretKey, secret_key
from models.accounts import add_user
from models.config import Config
from models.db import Warehouse

NOW = dt.datetime(2026, 11, 25, 9, 0)

PASSWORD = "correct horse battery"
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


@pytest.fixture(scope="module")
def site(demo_site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Warehouse, object]]:
    cfg, wh = copy_demo(demo_site, tmp_path_factory.mktemp("auth"))
    with wh.session() as s:
        for name, role, region in (("lead", "leader", None), ("yuci", "county", "140702"),
                                   ("taigu", "county", "140703"), ("victim", "analyst", None)):
            add_user(session=s, username=name, password=PASSWORD, role=role, region_code=region,
                     unit_codes=cfg.unit_codes(), now=NOW)
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
