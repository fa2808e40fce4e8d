"""The `bizenv` command as an operator runs it: real subprocesses, a real config file, a real server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, free_port

BIZENV = [sys.executable, "-m", "bizenv.cli"]


def _run(args: list[str], *, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "BIZENV_DATABASE_URL"} | (env or {})
    return subprocess.run([*BIZENV, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=full_env)


def _config_copy(tmp_path: Path, mutate=None) -> Path:  # noqa: ANN001 - edits the parsed YAML
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["sources"]["approval_api"]["base_url"] = f"http://127.0.0.1:{free_port()}"
    if mutate:
        mutate(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_bad_config_stops_with_the_key_path(tmp_path: Path) -> None:
    cfg = _config_copy(tmp_path, lambda d: d["warehouse"].__setitem__("ulr", "sqlite:///x.db"))
    proc = _run(["--config", str(cfg), "db", "upgrade"])
    assert proc.returncode == 2
    assert "warehouse.ulr: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_db_upgrade_honours_database_url_env(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    proc = _run(["--config", str(_config_copy(tmp_path)), "db", "upgrade"], env={"BIZENV_DATABASE_URL": f"sqlite:///{db}"})
    assert proc.returncode == 0, proc.stderr
    assert db.is_file() and str(db) in proc.stdout
    assert not (tmp_path / "var" / "bizenv.db").exists()


def test_unknown_job_is_named(tmp_path: Path) -> None:
    proc = _run(["--config", str(_config_copy(tmp_path)), "etl", "run", "nosuchjob"])
    assert proc.returncode == 2
    assert "unknown job 'nosuchjob'" in proc.stderr and "approvals" in proc.stderr


@pytest.mark.slow
def test_demo_then_serve(tmp_path: Path) -> None:
    cfg = _config_copy(tmp_path)
    proc = _run(["--config", str(cfg), "demo", "--scale", "0.01", "--months", "2", "--no-serve"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "approvals: success" in proc.stdout and "demo ready" in proc.stdout
    assert (tmp_path / "var" / "bizenv.db").is_file()
    accounts = dict(re.findall(r"^  (demo_\w+)\s+\S+(?: \d+)?\s+(\S+)$", proc.stdout, re.MULTILINE))
    assert set(accounts) == {"demo_admin", "demo_leader", "demo_analyst", "demo_yuci"}, proc.stdout[-1500:]

    port = free_port()
    refused = _run(["--config", str(cfg), "serve", "--port", str(port)], env={"BIZENV_SECRET_KEY": ""})
    assert refused.returncode == 2 and "BIZENV_SECRET_KEY" in refused.stderr
    env = {k: v for k, v in os.environ.items() if k != "BIZENV_DATABASE_URL"} | {"BIZENV_SECRET_KEY": "k" * 40}
    server = subprocess.Popen([*BIZENV, "--config", str(cfg), "serve", "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        login_page = _get_when_up(f"{base}/login")
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{base}/_dash-layout", timeout=5)
        assert anonymous.value.code == 401
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.open(f"{base}/login").read().decode()).group(1)
        form = urllib.parse.urlencode({"username": "demo_leader", "password": accounts["demo_leader"],
                                       "csrf_token": token}).encode()
        browser.open(f"{base}/login", data=form, timeout=10)
        layout = browser.open(f"{base}/_dash-layout", timeout=10).read().decode("utf-8")
        page = json.dumps(json.loads(layout), ensure_ascii=False)
        assert "app-lang-store" in page and "晋中市营商环境监测平台" in page and "登录" in login_page
    finally:
        server.terminate()
        server.wait(timeout=10)
    shutil.rmtree(tmp_path / "var", ignore_errors=True)


def _get_when_up(url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read().decode("utf-8")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_status_and_rejects_after_a_load(tmp_path: Path) -> None:
    """An operator's view of a small load: every job listed, quarantined rows exportable to CSV."""
    from etl.demo.approval_api import serve_in_thread
    from tests.test_etl_approvals import BAD, GOOD, TAIL, _write_platform

    platform = tmp_path / "platform.db"
    _write_platform(platform, GOOD + [row for row, _ in BAD] + TAIL)
    server, url = serve_in_thread(db_path=platform)
    try:
        cfg = _config_copy(tmp_path, lambda d: d["sources"]["approval_api"].__setitem__("base_url", url))
        assert _run(["--config", str(cfg), "etl", "run", "catalogue", "approvals"]).returncode == 0
    finally:
        server.shutdown()
    status = _run(["--config", str(cfg), "etl", "status"])
    assert status.returncode == 0, status.stderr
    lines = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:] if line.strip()}
    assert lines["approvals"][1] == "success" and lines["approvals"][4:7] == ["14", "8", "6"]
    assert lines["catalogue"][1] == "success"
    out = tmp_path / "rejects.csv"
    rejects = _run(["--config", str(cfg), "etl", "rejects", "--csv", str(out)])
    assert rejects.returncode == 0 and "wrote 7 quarantined rows" in rejects.stdout  # 6 cases + 1 catalogue item
    text = out.read_text(encoding="utf-8-sig")
    assert "办结时间早于受理时间" in text and "completed before accepted" in text


def test_template_command_writes_the_county_workbook(tmp_path: Path) -> None:
    cfg = _config_copy(tmp_path)
    ok = _run(["--config", str(cfg), "etl", "template", "--region", "平遥县", "--month", "2026-11", "--out",
               str(tmp_path / "out")])
    assert ok.returncode == 0, ok.stderr
    written = tmp_path / "out" / "140728_平遥县_202611.xlsx"
    assert written.is_file() and str(written) in ok.stdout
    bad = _run(["--config", str(cfg), "etl", "template", "--region", "999999", "--month", "2026-11"])
    assert bad.returncode == 2 and "unknown region '999999'" in bad.stderr and "Traceback" not in bad.stderr


def test_demo_says_which_port_is_taken(tmp_path: Path) -> None:
    import socket

    cfg = _config_copy(tmp_path)
    port = int(yaml.safe_load(cfg.read_text(encoding="utf-8"))["sources"]["approval_api"]["base_url"].rsplit(":", 1)[1])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        proc = _run(["--config", str(cfg), "demo", "--scale", "0.01", "--months", "1", "--no-serve"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"port {port}" in proc.stderr and "sources.approval_api.base_url" in proc.stderr
