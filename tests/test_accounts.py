"""Accounts, password hashing, lockout and the audit log, on both engines, and the `bizenv users` commands."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from bizenv.cli import main
from models.accounts import (
    AccountError,
    add_user,
    audit,
    authenticate,
    count_recent_failures,
    hash_password,
    read_audit,
    reset_password,
    set_disabled,
    verify_password,
)
from models.config import Config
from models.db import Warehouse
from models.scope import Viewer

NOW = dt.datetime(2026, 11, 25, 9, 0)
PASSWORD = "correct horse battery"


def test_hashes_are_salted_and_not_the_password() -> None:
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a != b and PASSWORD not in a and a.startswith("scrypt$")
    assert verify_password(PASSWORD, a) and verify_password(PASSWORD, b)
    assert not verify_password("correct horse batterY", a) and not verify_password(PASSWORD, "garbage")


def test_accounts_check_role_region_and_password(warehouse: Warehouse, config: Config) -> None:
    units = config.unit_codes()
    with warehouse.session() as s:
        user = add_user(session=s, username="yuci", password=PASSWORD, role="county", region_code="140702",
                        unit_codes=units, now=NOW)
        assert user.viewer() == Viewer(role="county", region_code="140702")
        for kwargs, message in [
            (dict(username="yuci", role="leader", region_code=None), "already exists"),
            (dict(username="z", role="county", region_code=None), "needs --region"),
            (dict(username="z", role="leader", region_code="140702"), "only a county account"),
            (dict(username="z", role="boss", region_code=None), "unknown role"),
        ]:
            with pytest.raises(AccountError, match=message):
                add_user(session=s, password=PASSWORD, unit_codes=units, now=NOW, **kwargs)
        with pytest.raises(AccountError, match="at least 10"):
            add_user(session=s, username="z", password="short", role="leader", region_code=None,
                     unit_codes=units, now=NOW)


def test_the_fifth_failure_locks_the_account_until_the_lock_ends(warehouse: Warehouse, config: Config) -> None:
    login = dict(max_failures=5, lock_minutes=15)
    with warehouse.session() as s:
        add_user(session=s, username="lead", password=PASSWORD, role="leader", region_code=None,
                 unit_codes=config.unit_codes(), now=NOW)
        for i in range(5):
            assert authenticate(session=s, username="lead", password="wrong", now=NOW, **login).reason == \
                "bad_password", i
        # locked now, even with the right password
        assert authenticate(session=s, username="lead", password=PASSWORD, now=NOW, **login).reason == "locked"
        later = NOW + dt.timedelta(minutes=16)
        result = authenticate(session=s, username="lead", password=PASSWORD, now=later, **login)
        assert result.reason == "ok" and result.user.last_login_at == later
        assert authenticate(session=s, username="nobody", password=PASSWORD, now=NOW, **login).reason == \
            "unknown_user"
        set_disabled(session=s, username="lead", disabled=True)
        assert authenticate(session=s, username="lead", password=PASSWORD, now=later, **login).reason == "disabled"
        set_disabled(session=s, username="lead", disabled=False)
        reset_password(session=s, username="lead", password="another long one", now=later)
        assert authenticate(session=s, username="lead", password="another long one", now=later, **login).user


def test_only_an_admin_reads_the_audit_log(warehouse: Warehouse) -> None:
    with warehouse.session() as s:
        audit(session=s, action="login", success=False, now=NOW, username="x", ip="10.0.0.9", details={"why": "pw"})
        audit(session=s, action="login", success=True, now=NOW, username="x", ip="10.0.0.9")
        audit(session=s, action="export", success=True, now=NOW + dt.timedelta(seconds=1), username="x",
              details={"table": "approvals-overdue"})
    with warehouse.session() as s:
        entries = read_audit(session=s, viewer=Viewer(role="admin"))
        assert [e.action for e in entries] == ["export", "login", "login"]
        assert [e.action for e in read_audit(session=s, viewer=Viewer(role="admin"), action="export")] == ["export"]
        assert count_recent_failures(session=s, ip="10.0.0.9", since=NOW - dt.timedelta(minutes=1)) == 1
        for role in ("leader", "analyst"):
            with pytest.raises(PermissionError):
                read_audit(session=s, viewer=Viewer(role=role))


def test_users_commands(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("BIZENV_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "pingyao", "--role", "county", "--region", "140728", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "pingyao", "--role", "leader", "--password-stdin"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "disable", "pingyao"]) == 0
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pingyao" in listing and "disabled" in listing and "scrypt" not in listing
    assert main(["audit", "--action", "user_add"]) == 0
    assert "pingyao" in capsys.readouterr().out
