"""`bizenv bench load`: logged-in users on the production topology, on loopback, while an ETL load runs.

    bizenv bench load --users 50 --duration 60

What it starts (each in its own process group, stopped in `finally`, also on Ctrl+C or SIGTERM):

- a warehouse of its own: a PostgreSQL database `bizenv_load_<pid>` on the local server (dropped at the end), or a
  SQLite file with `--engine sqlite`, filled by `bizenv demo --scale S --months M --no-serve`;
- gunicorn with `deploy/gunicorn.conf.py` on a free loopback port (`dashboard.wsgi:server`);
- Redis as the shared read cache when it answers (`--cache redis`; its keys are deleted at the end);
- `bizenv scheduler` on the same config, and the demo's approval API process for the ETL to read from.

Before the window the approvals cursor is cleared, so the ETL run in the window re-reads the whole approvals
stream (fetch, validate, stage, merge: a catch-up load, the heaviest the scheduler does), and `--etl-changes`
new cases (default 100) are added to the source, as the platform's next increment would deliver them: the run
inserts them and refreshes their marts, which moves the facts version and makes every cached KPI read stale at
once (a run that changed nothing would leave the cache warm, and test less). `--etl scheduler` (the default)
gives the approvals job a one-minute cron and starts the window so that the fire lands a fifth of the way in;
`--etl cli` starts `bizenv etl run approvals` as the window opens instead (its run begins once the command has
started); `--etl none` runs no ETL.

The users: accounts made for the run (`models.accounts.add_user`), a mix of leaders, county bureaus and city staff,
each logged in through the real form (CSRF token, session cookie) before the window opens, then looping over
overview → ranking → county profile → a month change → an export (CSV or XLSX of a drill-down table; leaders
read only and skip it), with a think time between steps. A page is loaded as Chromium loads it (checked against
a recording of the same steps): GET the page, `/_dash-layout` and `/_dash-dependencies`, then
`/_dash-update-component` for the callbacks the renderer fires, wave by wave, with payloads built from the real
dependency list and the components the server returned (up to six requests at once, as a browser does). Any
non-2xx answer, an answer that is not a Dash callback response, a page that is not the app (e.g. a redirect to
the login), a download without a file, or a timeout is an error.

Reported: p50/p95/p99 per request type, per page view (first request to last callback), per twelfth of the window
and overall; the server-side latency from gunicorn's access log; throughput, errors, the ETL runs that overlapped
the window, Redis hits and misses, and the CPU the web server and the load generator used. The users' choices
and think times are fixed by the seed; the timings are the machine's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import re
import runpy
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import yaml

from models.config import Config, HttpApiSource

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MIX = "county:5,staff:3,leader:2"  # half county bureaus, three in ten city staff, two in ten leaders
ROLE_ACCOUNTS = {"leader": "leader", "county": "county", "staff": "analyst"}  # simulated role -> account role
LOCATION_PROPS = ("pathname", "search", "hash", "href")
MAX_CONNECTIONS_PER_USER = 6  # what a browser opens to one host
KEEPALIVE_REUSE_SECONDS = 30.0  # a browser reuses an idle connection (gunicorn keeps one open 75 s)
MAX_WAVES = 12
ETL_FRACTION = 0.2  # where in the window the ETL run starts
NEVER_CRON = "0 0 1 1 *"  # a schedule that does not fire during a run (midnight on New Year's day)


class LoadError(Exception):
    """The load test cannot run as asked; the message says why."""


# ---- options -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What the run was asked for."""

    users: int = 50
    duration: float = 60.0
    engine: str = "postgresql"
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL
    cache: str = "auto"  # auto | redis | local | off
    redis_url: str = DEFAULT_REDIS_URL
    etl: str = "scheduler"  # scheduler | cli | none
    etl_changes: int = 100  # new cases at the source for the run in the window
    scale: float = 0.02
    months: int = 12
    workers: int | None = None
    threads: int | None = None
    think: tuple[float, float] = (3.0, 8.0)
    mix: dict[str, int] = field(default_factory=lambda: parse_mix(DEFAULT_MIX))
    ramp: float | None = None
    seed: int = 20240329
    timeout: float = 30.0
    etl_wait: float = 180.0
    p95_target_ms: float = 300.0
    workdir: Path | None = None
    keep: bool = False
    json_path: Path | None = None


def _think(value: str) -> tuple[float, float]:
    low, _, high = value.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds as MIN-MAX, e.g. 3-8, got {value!r}") from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {value!r}")
    return pair


def parse_mix(value: str) -> dict[str, int]:
    """`county:5,staff:3,leader:2` as {role: weight}; roles: county (a county bureau), staff (city bureau staff,
    the analyst role) and leader."""
    mix: dict[str, int] = {}
    for part in value.split(","):
        role, _, weight = part.strip().partition(":")
        if role not in ROLE_ACCOUNTS or not weight.strip().isdigit() or int(weight) < 0:
            raise argparse.ArgumentTypeError(f"expected ROLE:WEIGHT,… with roles {', '.join(ROLE_ACCOUNTS)}, "
                                             f"got {part!r}")
        mix[role] = mix.get(role, 0) + int(weight)
    mix = {role: weight for role, weight in mix.items() if weight}
    if not mix:
        raise argparse.ArgumentTypeError("the mix needs at least one role with a weight above 0")
    return mix


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of `bizenv bench load`."""
    parser.add_argument("--users", type=int, default=50, help="simulated logged-in users (default 50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of measured load (default 60)")
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql",
                        help="warehouse engine (default postgresql: a database of its own on the local server)")
    parser.add_argument("--pg-admin-url", default=os.environ.get("BIZENV_LOAD_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL),
                        help="PostgreSQL URL allowed to create and drop databases (default: %(default)s)")
    parser.add_argument("--cache", choices=("auto", "redis", "local", "off"), default="auto",
                        help="read cache: Redis shared by the workers, per-worker memory, or none (default: Redis "
                             "when it answers, else local)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis for --cache redis (default: %(default)s)")
    parser.add_argument("--etl", choices=("scheduler", "cli", "none"), default="scheduler",
                        help="how the ETL load in the window starts: a one-minute cron of `bizenv scheduler` (the "
                             "window is aligned to its fire, up to a minute of waiting), `bizenv etl run` started "
                             "as the window opens, or none (default scheduler)")
    parser.add_argument("--etl-changes", type=int, default=100, metavar="N",
                        help="new cases added to the source before the window, so the ETL run changes facts and "
                             "marts and the cached KPI reads go cold (0: it re-reads unchanged rows; default 100)")
    parser.add_argument("--scale", type=float, default=0.02, help="demo volume (default 0.02)")
    parser.add_argument("--months", type=int, default=12, help="demo months (default 12)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: deploy/gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: the config's)")
    parser.add_argument("--think", type=_think, default=(3.0, 8.0), metavar="MIN-MAX",
                        help="seconds a user reads a page before the next step, uniform (default 3-8)")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX), metavar="ROLE:W,…",
                        help=f"users by role: county (a county bureau), staff (city staff), leader "
                             f"(default {DEFAULT_MIX})")
    parser.add_argument("--ramp", type=float, default=None,
                        help="seconds over which the users log in, before the window (default: 0.2 s a user, "
                             "2 to 30)")
    parser.add_argument("--seed", type=int, default=20240329, help="seed of the users' choices and think times")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as failed")
    parser.add_argument("--p95-target-ms", type=float, default=300.0,
                        help="exit 1 when the overall p95 is above this (0: no target; default 300)")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the run's files (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (config, logs, sources)")
    parser.add_argument("--json", dest="json_path", type=Path, default=None, help="also write the report as JSON")


def options_from(args: argparse.Namespace) -> Options:
    """The parsed command line as Options, checked."""
    if args.users < 1 or args.duration <= 0:
        raise LoadError("--users must be at least 1 and --duration positive")
    if args.etl_changes < 0:
        raise LoadError("--etl-changes must be 0 or more")
    return Options(users=args.users, duration=args.duration, engine=args.engine, pg_admin_url=args.pg_admin_url,
                   cache=args.cache, redis_url=args.redis_url, etl=args.etl, etl_changes=args.etl_changes,
                   scale=args.scale, months=args.months,
                   workers=args.workers, threads=args.threads, think=tuple(args.think), mix=dict(args.mix),
                   ramp=args.ramp,
                   seed=args.seed, timeout=args.timeout, p95_target_ms=args.p95_target_ms, workdir=args.workdir,
                   keep=args.keep, json_path=args.json_path)


# ---- processes -----------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bizenv_command() -> list[str]:
    """The `bizenv` console script of this interpreter's environment (or the module when it is not installed)."""
    script = Path(sys.executable).with_name("bizenv")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bizenv.cli import main; sys.exit(main())"]


@dataclass
class Child:
    """A process the run started, in its own session (so its whole group can be stopped), logging to a file."""

    name: str
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, cmd: Sequence[str], *, env: dict[str, str], log: Path) -> Child:
    """Start a command in a new session with stdout and stderr going to `log`."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(cmd), env=env, cwd=str(REPO), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return Child(name, proc, log)


def group_alive(pgid: int) -> bool:
    """Whether any process of a process group is still there (zombies of our own children count as gone)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_children(children: Sequence[Child], *, grace: dict[str, float], default_grace: float = 15.0) -> None:
    """SIGTERM every child's process group at once, wait for each up to its grace, then SIGKILL what is left."""
    for child in children:
        if child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        deadline = time.monotonic() + grace.get(child.name, default_grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        while group_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_alive(child.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=5)


def stop_child(child: Child, *, grace: float) -> None:
    """Stop one child's process group (see stop_children)."""
    stop_children([child], grace={child.name: grace})


def wait_http(url: str, *, child: Child, timeout: float) -> None:
    """Wait until `url` answers 200, or raise with the child's log when it exits or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise LoadError(f"{child.name} exited with code {child.proc.returncode}:\n{child.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise LoadError(f"{child.name} did not answer {url} within {timeout:.0f} s:\n{child.tail()}")


def wait_log(child: Child, pattern: str, *, timeout: float) -> None:
    """Wait until the child's log holds `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pattern in child.tail(200):
            return
        if child.proc.poll() is not None:
            raise LoadError(f"{child.name} exited with code {child.proc.returncode}:\n{child.tail()}")
        time.sleep(0.2)
    raise LoadError(f"{child.name} did not log {pattern!r} within {timeout:.0f} s:\n{child.tail()}")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores so far (/proc/stat), to tell the machine's load over the window."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def pressure_totals() -> dict[str, float]:
    """Microseconds some task waited for CPU, memory or I/O so far (Linux PSI, /proc/pressure; empty elsewhere)."""
    out = {}
    for resource in ("cpu", "memory", "io"):
        try:
            lines = Path(f"/proc/pressure/{resource}").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            kind, *fields = line.split()
            total = next((f.split("=", 1)[1] for f in fields if f.startswith("total=")), None)
            if total is not None:
                out[f"{resource} {kind}"] = float(total)
    return out


def cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of a group (Linux /proc; 0 elsewhere)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ...; utime, stime are 14 and 15
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# ---- the warehouse and its config ----------------------------------------------------------------------------------


@dataclass
class Site:
    """Everything the run set up: where it lives, what it started, and how to undo it."""

    workdir: Path
    config_path: Path
    database_url: str
    env: dict[str, str]
    api_token: str
    pg_database: str | None = None
    cache: str = "local"
    redis_prefix: str | None = None
    children: list[Child] = field(default_factory=list)
    base_url: str = ""
    web: Child | None = None
    workers: int = 1
    etl_job: str = "approvals"


def create_pg_database(admin_url: str, name: str) -> str:
    """Create an empty database next to the admin URL's and return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    if admin.get_driver_name() in ("", "psycopg2"):
        admin = admin.set(drivername="postgresql+psycopg")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure: say where and why
        raise LoadError(f"cannot create database {name} through {admin.render_as_string()}: {exc}") from exc
    finally:
        engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin_url: str, name: str) -> None:
    """Drop the run's database, closing whatever still holds a connection to it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    if admin.get_driver_name() in ("", "psycopg2"):
        admin = admin.set(drivername="postgresql+psycopg")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def pg_database_exists(admin_url: str, name: str) -> bool:
    """Whether a database of that name is on the server (the test checks the run dropped its own)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    if admin.get_driver_name() in ("", "psycopg2"):
        admin = admin.set(drivername="postgresql+psycopg")
    engine = create_engine(admin)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}))
    finally:
        engine.dispose()


def etl_job_name(config: Config) -> str:
    """The approvals job: the one that reads an HTTP API's cases (the heaviest and most frequent load)."""
    for name, job in config.jobs.items():
        if isinstance(config.sources.get(job.source), HttpApiSource) and job.stream == "cases":
            return name
    raise LoadError("the config has no job reading cases from an http_api source; the ETL load needs one")


def load_config_for(config: Config, *, workdir: Path, database_url: str, etl: str, job: str) -> Config:
    """The config the run's processes share: its own sources, API port, warehouse, archive and schedules."""
    from etl.demo_build import demo_wired

    sources_dir = workdir / "sources"
    api = {name: src.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}"})
           for name, src in config.sources.items() if isinstance(src, HttpApiSource)}
    jobs = {name: j.model_copy(update={"schedule": "* * * * *" if (etl == "scheduler" and name == job)
                                       else NEVER_CRON}) for name, j in config.jobs.items()}
    dashboard = config.dashboard
    if getattr(dashboard, "geojson", None):
        dashboard = dashboard.model_copy(update={"geojson": str(config.resolve_path(dashboard.geojson))})
    wired = config.model_copy(update={
        "sources": {**config.sources, **api}, "jobs": jobs, "dashboard": dashboard,
        "warehouse": config.warehouse.model_copy(update={"url": database_url}),
        "demo": config.demo.model_copy(update={"sources_dir": str(sources_dir)}),
        "bulletin": config.bulletin.model_copy(update={"enabled": False, "archive_dir": str(workdir / "reports")}),
    })
    return demo_wired(wired, sources_dir)


def write_config(config: Config, path: Path) -> None:
    """The config as YAML that `load_config` reads back to the same values."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True, sort_keys=False),
                    encoding="utf-8")


def redis_ready(url: str) -> str | None:
    """None when the redis client is installed and the server answers, else why not."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed (pip install -e '.[redis]')"
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {url} does not answer: {exc}"
    return None


def cache_key_prefix(config_path: Path, database_url: str) -> str:
    """The read-cache key prefix the web workers compute for this config and warehouse (dashboard.context)."""
    import flask

    from dashboard.context import install_context
    from models.config import load_config
    from models.db import Warehouse

    saved = os.environ.get("BIZENV_CACHE")
    os.environ["BIZENV_CACHE"] = "off"
    warehouse = Warehouse(database_url)
    try:
        return install_context(flask.Flask("bizenv-load-prefix"), config=load_config(config_path),
                               warehouse=warehouse).key_prefix
    finally:
        warehouse.dispose()
        if saved is None:
            os.environ.pop("BIZENV_CACHE", None)
        else:
            os.environ["BIZENV_CACHE"] = saved


def redis_hits(url: str) -> tuple[int, int] | None:
    """(keyspace hits, misses) of the Redis server so far, or None when it cannot be read."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2)
        stats = client.info("stats")
        client.close()
        return int(stats["keyspace_hits"]), int(stats["keyspace_misses"])
    except Exception:  # noqa: BLE001 - a figure for the report, never a reason to fail the run
        return None


def delete_redis_keys(url: str, prefix: str) -> dict[str, int]:
    """Delete the run's cache keys; returns how many there were per read (the key's name part)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    counts: dict[str, int] = {}
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"*{prefix}:*", count=1000):  # flask-caching puts its own prefix first
        name = key.decode("utf-8", "replace").split(f"{prefix}:", 1)[-1].split(":", 1)[0]
        counts[name] = counts.get(name, 0) + 1
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
    client.close()
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class Account:
    """A simulated user's account."""

    index: int
    role: str  # leader | county | staff
    username: str
    region: str | None


def role_pattern(mix: dict[str, int]) -> list[str]:
    """One cycle of roles with the mix's weights, interleaved (county:5,staff:3,leader:2 -> county staff county
    leader county staff county leader county staff), so any number of users keeps the proportions closely."""
    total = sum(mix.values())
    placed: list[tuple[float, int, str]] = []
    for order, (role, weight) in enumerate(mix.items()):
        placed += [((k + 0.5) / weight, order, role) for k in range(weight)]
    return [role for _pos, _order, role in sorted(placed)][:total]


def plan_accounts(config: Config, users: int, mix: dict[str, int]) -> list[Account]:
    """The users by role, cycling through the mix; county users spread over the counties in config order."""
    codes = config.unit_codes()
    pattern = role_pattern(mix)
    out = []
    counties = 0
    for i in range(users):
        role = pattern[i % len(pattern)]
        region = None
        if role == "county":
            region = codes[counties % len(codes)]
            counties += 1
        out.append(Account(i, role, f"load_{role}_{i + 1:03d}", region))
    return out


def create_accounts(*, database_url: str, config: Config, accounts: Sequence[Account], password: str) -> None:
    """The run's accounts, through the same service function as `bizenv users add`."""
    from models.accounts import add_user
    from models.db import Warehouse

    now = dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)
    warehouse = Warehouse(database_url)
    try:
        with warehouse.session() as session:
            for a in accounts:
                add_user(session=session, username=a.username, password=password, role=ROLE_ACCOUNTS[a.role],
                         region_code=a.region, unit_codes=config.unit_codes(), now=now,
                         display_name=f"load test {a.role} {a.index + 1}")
    finally:
        warehouse.dispose()


def clear_cursor(*, database_url: str, config: Config, job: str) -> int:
    """Forget the job's source cursor, so its next run re-reads the whole stream; returns the last run id so far."""
    from sqlalchemy import delete, func, select

    from models.db import Warehouse
    from models.ops import EtlCursor, EtlRun

    spec = config.jobs[job]
    warehouse = Warehouse(database_url)
    try:
        with warehouse.session() as session:
            session.execute(delete(EtlCursor).where(EtlCursor.source == spec.source,
                                                    EtlCursor.stream == (spec.stream or "")))
            return int(session.scalar(select(func.coalesce(func.max(EtlRun.id), 0))) or 0)
    finally:
        warehouse.dispose()


def add_source_cases(db_path: Path, *, count: int, seed: int) -> int:
    """Copy `count` cases of the source's latest month under new case numbers (no 一件事 bundle), updated now.

    What the platform's next increment delivers: the ETL run inserts them and refreshes their regions' marts for
    that month, so it changes facts (the facts version moves) rather than only re-reading unchanged rows.
    Returns how many were added.
    """
    if count <= 0:
        return 0
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        cols = [row[1] for row in db.execute("PRAGMA table_info(cases)")]
        latest, stamp = db.execute("SELECT MAX(substr(SBSJ, 1, 7)), MAX(GXSJ) FROM cases").fetchone()
        rows = db.execute("SELECT * FROM cases WHERE substr(SBSJ, 1, 7) = ? ORDER BY SBLSH", (latest,)).fetchall()
        taken = {r[0] for r in db.execute("SELECT SBLSH FROM cases")}
        new = []
        for i, row in enumerate(random.Random(seed).sample(rows, min(count, len(rows)))):
            case = dict(zip(cols, row, strict=True))
            case.update(SBLSH=f"{case['SBLSH'][:-6]}9{i:05d}", YJSBH=None, GXSJ=stamp)
            if case["SBLSH"] not in taken:
                new.append(tuple(case[c] for c in cols))
        db.executemany(f"INSERT INTO cases ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", new)
    return len(new)


def etl_runs_since(*, database_url: str, after_id: int) -> list[dict[str, Any]]:
    """The ETL runs recorded after `after_id`."""
    from sqlalchemy import select

    from models.db import Warehouse
    from models.ops import EtlRun

    warehouse = Warehouse(database_url)
    try:
        with warehouse.session() as session:
            rows = session.scalars(select(EtlRun).where(EtlRun.id > after_id).order_by(EtlRun.id)).all()
            return [{"id": r.id, "job": r.job, "trigger": r.trigger, "status": r.status, "started_at": r.started_at,
                     "finished_at": r.finished_at, "rows_read": r.rows_read, "rows_inserted": r.rows_inserted,
                     "rows_updated": r.rows_updated, "error": r.error} for r in rows]
    finally:
        warehouse.dispose()


# ---- the topology --------------------------------------------------------------------------------------------------


Echo = Callable[[str], None]


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("BIZENV_CACHE", "BIZENV_CACHE_REDIS_URL", "BIZENV_DATABASE_URL", "BIZENV_CONFIG"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def set_up(options: Options, config: Config, *, site: Site, echo: Echo) -> None:
    """Database, config, demo build, accounts-to-be and the cache choice; fills `site` as it goes."""
    job = etl_job_name(config)
    site.etl_job = job
    site.workers = options.workers or int(runpy.run_path(str(GUNICORN_CONF))["workers"])
    if options.engine == "postgresql":
        site.pg_database = f"bizenv_load_{os.getpid()}"
        site.database_url = create_pg_database(options.pg_admin_url, site.pg_database)
    else:
        site.database_url = f"sqlite:///{site.workdir / 'warehouse.db'}"
    wired = load_config_for(config, workdir=site.workdir, database_url=site.database_url, etl=options.etl, job=job)
    write_config(wired, site.config_path)
    site.env.update(BIZENV_CONFIG=str(site.config_path), BIZENV_DATABASE_URL=site.database_url,
                    BIZENV_SECRET_KEY=secrets.token_hex(32), BIZENV_APPROVAL_API_TOKEN=site.api_token)
    for src in wired.sources.values():
        if isinstance(src, HttpApiSource) and src.token_env:
            site.env[src.token_env] = site.api_token
    if options.cache == "off":
        site.env["BIZENV_CACHE"] = "off"
        site.cache = "off"
    elif options.cache in ("auto", "redis"):
        why = redis_ready(options.redis_url)
        if why is None:
            site.env["BIZENV_CACHE_REDIS_URL"] = options.redis_url
            site.cache = "redis"
        elif options.cache == "redis":
            raise LoadError(why)
        else:
            echo(f"  read cache: per-worker memory ({why})")
            site.cache = "local"
    echo(f"  building the demo warehouse (scale {options.scale}, {options.months} months) in "
         f"{_safe_url(site.database_url)} ...")
    started = time.monotonic()
    demo = spawn("bizenv demo", [*bizenv_command(), "--config", str(site.config_path), "demo", "--scale",
                                 str(options.scale), "--months", str(options.months), "--no-serve"],
                 env=site.env, log=site.workdir / "demo.log")
    try:
        code = demo.proc.wait(timeout=3600)
    finally:
        stop_child(demo, grace=10)  # its approval API too, if it was interrupted half-way
    if code != 0:
        raise LoadError(f"`bizenv demo` failed with code {code}:\n{demo.tail(20)}")
    echo(f"  demo built in {time.monotonic() - started:.0f} s")
    if site.cache == "redis":
        site.redis_prefix = cache_key_prefix(site.config_path, site.database_url)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def start_services(options: Options, *, site: Site, echo: Echo) -> None:
    """The approval API, gunicorn and the scheduler, each in its own process group; returns when they answer."""
    from models.config import load_config

    config = load_config(site.config_path)
    api_name, api = next((n, s) for n, s in config.sources.items() if isinstance(s, HttpApiSource))
    api_port = int(api.base_url.rsplit(":", 1)[1].split("/")[0])
    api_child = spawn("approval API", [sys.executable, "-m", "etl.demo.approval_api", "--db",
                                       str(site.workdir / "sources" / "approval_platform.db"), "--port",
                                       str(api_port), "--token-env", api.token_env or "BIZENV_APPROVAL_API_TOKEN"],
                      env=site.env, log=site.workdir / "approval_api.log")
    site.children.append(api_child)
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "-b", f"127.0.0.1:{port}",
           "--access-logfile", str(site.workdir / "access.log"), "--error-logfile", str(site.workdir / "web.log"),
           "--graceful-timeout", "10", "--name", "bizenv-load-web"]
    cmd += ["--workers", str(site.workers)]
    if options.threads:
        cmd += ["--threads", str(options.threads)]
    if _gunicorn_has("control_socket_disable"):
        cmd.append("--no-control-socket")  # another gunicorn on this machine keeps its own control socket
    web = spawn("gunicorn", [*cmd, "dashboard.wsgi:server"], env=site.env, log=site.workdir / "web.out")
    site.children.append(web)
    site.web = web
    site.base_url = f"http://127.0.0.1:{port}"
    scheduler = spawn("scheduler", [*bizenv_command(), "--config", str(site.config_path), "scheduler"],
                      env=site.env, log=site.workdir / "scheduler.log")
    site.children.append(scheduler)
    wait_http(f"http://127.0.0.1:{api_port}/healthz", child=api_child, timeout=30)
    wait_http(f"{site.base_url}/healthz", child=web, timeout=90)
    deadline = time.monotonic() + 60
    while _worker_count(site) < site.workers and time.monotonic() < deadline:
        time.sleep(0.2)
    wait_log(scheduler, "scheduler started", timeout=60)
    echo(f"  gunicorn on {site.base_url} ({_worker_count(site)} workers), scheduler and {api_name} API running")


def _gunicorn_has(setting: str) -> bool:
    try:
        from gunicorn.config import Config as GunicornConfig
    except ImportError:
        return False
    return setting in GunicornConfig().settings


def _worker_count(site: Site) -> int:
    if site.web is None:
        return 0
    return sum(1 for stat in Path("/proc").glob("[0-9]*/stat") if _ppid(stat) == site.web.pid)


def _ppid(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def tear_down(options: Options, site: Site, *, echo: Echo, report: dict[str, Any]) -> None:
    """Stop every process group the run started (last started first), drop the database and the cache keys."""
    stop_children(list(reversed(site.children)), grace={"scheduler": options.etl_wait, "etl run": options.etl_wait})
    report["processes"] = [{"name": c.name, "pid": c.pid, "returncode": c.proc.returncode,
                            "left": group_alive(c.pid)} for c in site.children]
    if site.redis_prefix:
        with contextlib.suppress(Exception):
            keys = delete_redis_keys(options.redis_url, site.redis_prefix)
            report["redis_keys_deleted"] = sum(keys.values())
            report["redis_keys_by_read"] = keys
    if site.pg_database:
        try:
            drop_pg_database(options.pg_admin_url, site.pg_database)
            report["database_dropped"] = site.pg_database
        except Exception as exc:  # noqa: BLE001
            echo(f"warning: could not drop database {site.pg_database}: {exc}")
    left = [c.name for c in site.children if group_alive(c.pid)]
    if left:
        echo(f"warning: still running after the stop: {', '.join(left)}")


# ---- HTTP: one simulated browser -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: what it was, when it started (monotonic s), how long it took, and whether it failed."""

    kind: str
    start: float
    ms: float
    status: int
    error: str | None
    nbytes: int


@dataclass(frozen=True, slots=True)
class StepSample:
    """One page view or action of a user, from its first request to its last answer."""

    step: str
    start: float
    ms: float
    ok: bool


@dataclass
class Reply:
    """A response, read whole."""

    status: int
    headers: http.client.HTTPMessage | None
    body: bytes
    error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class Browser:
    """One user's HTTP client: a cookie jar and up to six keep-alive connections, like a browser's for one host."""

    def __init__(self, host: str, port: int, *, samples: list[Sample], timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.samples = samples
        self.cookies: dict[str, str] = {}
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS_PER_USER)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            while self._idle:
                conn, last = self._idle.pop()
                if time.monotonic() - last < KEEPALIVE_REUSE_SECONDS:
                    return conn, True
                conn.close()
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout), False

    def _release(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.append((conn, time.monotonic()))

    def close(self) -> None:
        with self._lock:
            for conn, _ in self._idle:
                conn.close()
            self._idle.clear()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"User-Agent": "bizenv-bench-load", "Accept": "*/*", "Accept-Encoding": "identity"}
        with self._lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**headers, **(extra or {})}

    def _keep_cookies(self, message: http.client.HTTPMessage) -> None:
        for header in message.get_all("Set-Cookie") or []:
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            with self._lock:
                if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = value.strip()

    def request(self, method: str, path: str, *, kind: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, check: Callable[[Reply], str | None] | None = None) -> Reply:
        """Send one request and record it; `check` returns an error text for an answer that is not right."""
        with self._slots:
            start = time.monotonic()
            for attempt in (0, 1):
                conn, reused = self._connection()
                start = time.monotonic()
                try:
                    conn.request(method, path, body=body, headers=self._headers(headers))
                    resp = conn.getresponse()
                    data = resp.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                    conn.close()
                    if reused and attempt == 0:
                        continue  # the server closed an idle keep-alive connection: a browser retries too
                    reply, error = Reply(0, None, b""), f"{type(exc).__name__}: {exc}"
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    reply, error = Reply(0, None, b""), f"{type(exc).__name__}: {exc}"
                    break
                self._keep_cookies(resp.msg)
                if resp.will_close:
                    conn.close()
                else:
                    self._release(conn)
                reply = Reply(resp.status, resp.msg, data)
                error = check(reply) if check else (None if 200 <= resp.status < 300 else _http_error(reply))
                break
        ms = (time.monotonic() - start) * 1000.0
        self.samples.append(Sample(kind, start, ms, reply.status, error, len(reply.body)))
        reply.error = error
        return reply


def _http_error(reply: Reply) -> str:
    text = reply.body[:160].decode("utf-8", "replace").replace("\n", " ").strip()
    return f"HTTP {reply.status}" + (f": {text}" if text else "")


# ---- Dash: a renderer that fires the callbacks Chromium fires ------------------------------------------------------


def id_key(cid: Any) -> str:
    """A component id as one string: itself, or a dict id as JSON with sorted keys (as Dash writes it)."""
    return cid if isinstance(cid, str) else json.dumps(cid, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Callback:
    """One entry of /_dash-dependencies."""

    index: int
    spec: str
    outputs: tuple[tuple[str, str], ...]
    inputs: tuple[tuple[str, str], ...]
    state: tuple[tuple[str, str], ...]
    prevent_initial_call: bool
    clientside: bool
    pattern: bool

    @property
    def label(self) -> str:
        """A short, stable name: the first output and how many more (a download: its format)."""
        if self.pattern:
            first = json.loads(self.outputs[0][0])
            return f"download {first.get('format', '')}".strip()
        cid, prop = self.outputs[0]
        more = len(self.outputs) - 1
        return f"{cid}.{prop}" + (f" +{more}" if more else "")


def _split_outputs(spec: str) -> tuple[tuple[str, str], ...]:
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    out = []
    for part in parts:
        cid, _, prop = part.rpartition(".")
        out.append((cid, prop.split("@")[0]))
    return tuple(out)


class Graph:
    """The app's callbacks, indexed by input; parsed once per run from the first /_dash-dependencies answer."""

    def __init__(self, deps: list[dict[str, Any]]) -> None:
        self.callbacks: list[Callback] = []
        self.by_input: dict[tuple[str, str], list[Callback]] = {}
        for i, dep in enumerate(deps):
            ins = tuple((id_key(d["id"]), d["property"]) for d in dep["inputs"])
            cb = Callback(index=i, spec=dep["output"], outputs=_split_outputs(dep["output"]), inputs=ins,
                          state=tuple((id_key(d["id"]), d["property"]) for d in dep.get("state", [])),
                          prevent_initial_call=bool(dep.get("prevent_initial_call")),
                          clientside=bool(dep.get("clientside_function")),
                          pattern=any(c.startswith("{") for c, _ in ins) or dep["output"].lstrip(".").startswith("{"))
            self.callbacks.append(cb)
            for item in ins:
                self.by_input.setdefault(item, []).append(cb)

    def server_side(self, cb: Callback) -> bool:
        return not cb.clientside and not cb.pattern

    def download(self, fmt: str) -> Callback | None:
        """The table download callback of one format."""
        for cb in self.callbacks:
            if cb.pattern and any(json.loads(c).get("type") == "table-download-button" and
                                  json.loads(c).get("format") == fmt for c, _ in cb.inputs if c.startswith("{")):
                return cb
        return None


_GRAPHS: dict[bytes, Graph] = {}
_GRAPHS_LOCK = threading.Lock()


def graph_for(body: bytes) -> Graph:
    """The callback graph of a /_dash-dependencies answer (every user gets the same one: parse it once)."""
    with _GRAPHS_LOCK:
        graph = _GRAPHS.get(body)
        if graph is None:
            graph = _GRAPHS[body] = Graph(json.loads(body))
        return graph


def walk_components(tree: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(id key, type, props) of every component with an id in a JSON layout."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            props = item.get("props")
            if "namespace" in item and "type" in item and isinstance(props, dict):
                if "id" in props and props["id"] is not None:
                    yield id_key(props["id"]), item["type"], props
                stack.extend(v for v in props.values() if isinstance(v, (list, dict)))
            else:
                stack.extend(v for v in item.values() if isinstance(v, (list, dict)))


class Run:
    """The shared state of one load run: when the window is, the samples, and the pool for concurrent callbacks."""

    def __init__(self, *, host: str, port: int, options: Options, start: float) -> None:
        self.host, self.port, self.options = host, port, options
        self.start = start
        self.end = start + options.duration
        self.samples: list[Sample] = []
        self.steps: list[StepSample] = []
        self.logins: list[StepSample] = []
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=min(256, max(8, options.users * 3)),
                                       thread_name_prefix="load-req")

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() >= self.end


class PageState:
    """What one browser tab holds for a page: component props, which callbacks fire, and their answers."""

    def __init__(self, graph: Graph, browser: Browser, run: Run, *, path: str, search: str, end_id: str | None) -> None:
        self.graph, self.browser, self.run = graph, browser, run
        self.path, self.search, self.end_id = path, search, end_id
        self.props: dict[str, dict[str, Any]] = {}
        self.types: dict[str, str] = {}
        self.children_of: dict[str, set[str]] = {}
        self.errors = 0

    # components

    def _location_props(self) -> dict[str, Any]:
        return {"pathname": self.path, "search": self.search, "hash": "",
                "href": f"http://{self.browser.host}:{self.browser.port}{self.path}{self.search}"}

    def add_tree(self, tree: Any) -> set[str]:
        """Record the components of a layout; a Location takes the address bar's values as it mounts."""
        added = set()
        for key, kind, props in walk_components(tree):
            self.props[key] = dict(props)
            self.types[key] = kind
            if kind == "Location":
                self.props[key].update(self._location_props())
            added.add(key)
        return added

    def _remove(self, keys: set[str]) -> None:
        for key in keys:
            self.props.pop(key, None)
            self.types.pop(key, None)
            self._remove(self.children_of.pop(key, set()))

    def value(self, key: str, prop: str) -> Any:
        return self.props.get(key, {}).get(prop)

    # which callbacks fire

    def initial(self, added: set[str]) -> dict[int, list[str]]:
        """Callbacks the renderer fires when components appear: those touching them, unless prevented.

        A `prevent_initial_call` callback still fires when one of its inputs is a Location that just mounted
        (the Location reports the address bar), as Chromium shows for the pages' URL callbacks and the router.
        """
        out: dict[int, list[str]] = {}
        for cb in self.graph.callbacks:
            if not self.graph.server_side(cb):
                continue
            if not any(c in added for c, _ in cb.outputs + cb.inputs):
                continue
            if not any(c in self.props for c, _ in cb.outputs) or all(c not in self.props for c, _ in cb.inputs):
                continue  # its outputs are on another page, or none of its inputs is here
            located = [f"{c}.{p}" for c, p in cb.inputs
                       if c in added and self.types.get(c) == "Location" and p in LOCATION_PROPS]
            if cb.prevent_initial_call and not located:
                continue
            out[cb.index] = located
        return out

    def _ready(self, pending: dict[int, list[str]]) -> list[int]:
        """Callbacks none of whose inputs another pending callback is about to change."""
        ready = []
        for i in pending:
            cb = self.graph.callbacks[i]
            others = {o for j in pending if j != i for o in self.graph.callbacks[j].outputs}
            if not any(item in others for item in cb.inputs if item not in cb.outputs):
                ready.append(i)
        return ready

    # requests

    def payload(self, cb: Callback, changed: list[str], match: dict[str, Any] | None = None) -> dict[str, Any]:
        """The POST body the renderer sends for a callback."""
        def concrete(cid: str) -> Any:
            if not cid.startswith("{"):
                return cid
            pattern = json.loads(cid)
            return {k: (match or {}).get(k) if isinstance(v, list) else v for k, v in pattern.items()}

        def items(specs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
            out = []
            for cid, prop in specs:
                real = concrete(cid)
                value = real if prop == "id" and isinstance(real, dict) else self.value(id_key(real), prop)
                out.append({"id": real, "property": prop, "value": value})
            return out

        outputs = [{"id": concrete(c), "property": p} for c, p in cb.outputs]
        return {"output": cb.spec, "outputs": outputs if cb.spec.startswith("..") else outputs[0],
                "inputs": items(cb.inputs), "changedPropIds": changed, "state": items(cb.state)}

    def post(self, cb: Callback, body: dict[str, Any], *, want_file: bool = False) -> tuple[Any, bool]:
        """POST one callback: (the parsed answer or None for a 204, whether it failed; failures are recorded)."""
        path = "/_dash-update-component" + (f"?{urlencode({'endId': self.end_id})}" if self.end_id else "")
        parsed: list[Any] = [None]

        def check(reply: Reply) -> str | None:
            if reply.status == 204:
                return "no file (204)" if want_file else None
            if reply.status != 200:
                return _http_error(reply)
            try:
                data = reply.json()
            except ValueError:
                return "a callback answer that is not JSON"
            if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
                return "a callback answer without 'response'"
            if want_file and not any(isinstance(p, dict) and isinstance(p.get("data"), dict) and
                                     p["data"].get("filename") and p["data"].get("content")
                                     for p in data["response"].values()):
                return "a download answer without a file"
            parsed[0] = data
            return None

        reply = self.browser.request("POST", path, kind=f"POST {cb.label}", body=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, check=check)
        return parsed[0], reply.error is not None

    def apply(self, data: Any) -> tuple[list[tuple[str, str]], set[str], str | None]:
        """Put an answer's values in place: (props changed, components added, a new address for the router)."""
        changed: list[tuple[str, str]] = []
        added: set[str] = set()
        reroute = None
        if not data:
            return changed, added, reroute
        updates = dict(data.get("response") or {})
        for key, props in (data.get("sideUpdate") or {}).items():
            updates.setdefault(key, {}).update(props)
        for raw_key, props in updates.items():
            key = id_key(json.loads(raw_key)) if raw_key.startswith("{") else raw_key
            for prop, value in props.items():
                self.props.setdefault(key, {})[prop] = value
                changed.append((key, prop))
                if prop == "children":
                    self._remove(self.children_of.pop(key, set()))
                    new = self.add_tree(value)
                    self.children_of[key] = new
                    added |= new
                if (self.types.get(key) == "Location" and prop in ("search", "pathname", "href")
                        and self.value(key, "refresh") == "callback-nav"):
                    reroute = str(value) if prop != "pathname" else None
        return changed, added, reroute

    def fire(self, pending: dict[int, list[str]], *, block_first: bool = True) -> None:
        """Fire callbacks in waves, as the renderer does, following what their answers change."""
        block = block_first
        for _ in range(MAX_WAVES):
            if not pending or self.run.over():
                return
            ready = self._ready(pending) if block else list(pending)
            wave = [(self.graph.callbacks[i], pending.pop(i)) for i in (ready or list(pending))]
            bodies = [self.payload(cb, changed) for cb, changed in wave]
            answers = list(self.run.pool.map(self.post, [cb for cb, _ in wave], bodies))
            for (cb, _), (data, failed) in zip(wave, answers, strict=True):
                self.errors += failed
                changed, added, reroute = self.apply(data)
                for key, prop in changed:
                    for dep in self.graph.by_input.get((key, prop), []):
                        if dep is not cb and self.graph.server_side(dep):
                            pending.setdefault(dep.index, []).append(f"{key}.{prop}")
                for i, located in self.initial(added).items():
                    pending.setdefault(i, located)
                if reroute is not None:
                    self._reroute(reroute, pending)
            block = True

    def _reroute(self, search: str, pending: dict[int, list[str]]) -> None:
        """A `callback-nav` Location changed the address: the router renders the page again for it."""
        self.search = search if not search or search.startswith("?") else f"?{search}"
        router = self.props.get("_pages_location")
        if router is None:
            return
        router.update(self._location_props())
        for dep in self.graph.by_input.get(("_pages_location", "search"), []):
            if self.graph.server_side(dep):
                pending.setdefault(dep.index, []).append("_pages_location.search")

    # what a user does

    def change(self, cid: str, prop: str, value: Any) -> None:
        """The reader picks a value: every callback with that input fires at once, then what follows."""
        self.props.setdefault(cid, {})[prop] = value
        pending = {cb.index: [f"{cid}.{prop}"] for cb in self.graph.by_input.get((cid, prop), [])
                   if self.graph.server_side(cb)}
        self.fire(pending, block_first=False)

    def download(self, table: str, fmt: str) -> bool:
        """Click a table's download button; True when a file came back."""
        cb = self.graph.download(fmt)
        button = {"format": fmt, "table": table, "type": "table-download-button"}
        if cb is None or id_key(button) not in self.props:
            return False
        self.props[id_key(button)]["n_clicks"] = (self.value(id_key(button), "n_clicks") or 0) + 1
        body = self.payload(cb, [f"{id_key(button)}.n_clicks"], match={"table": table})
        _data, failed = self.post(cb, body, want_file=True)
        self.errors += failed
        return not failed


def _page_check(reply: Reply) -> str | None:
    if reply.status != 200:
        where = reply.headers.get("Location") if reply.headers else None
        return f"HTTP {reply.status}" + (f" to {where}" if where else "")
    if b"_dash-config" not in reply.body:
        return "not the dashboard page"
    return None


def _json_check(reply: Reply) -> str | None:
    if reply.status != 200:
        return _http_error(reply)
    try:
        json.loads(reply.body)
    except ValueError:
        return "not JSON"
    return None


END_ID = re.compile(rb'"end_id":\s*"([^"]+)"')


def open_page(browser: Browser, run: Run, address: str) -> PageState | None:
    """Load a page as a browser does: the page, the layout, the callbacks, then every callback it fires."""
    path, _, query = address.partition("?")
    page = browser.request("GET", address, kind=f"GET {path}", check=_page_check)
    if page.status != 200:
        return None
    match = END_ID.search(page.body)
    pending_deps = run.pool.submit(browser.request, "GET", "/_dash-dependencies", kind="GET /_dash-dependencies",
                                   check=_json_check)  # the renderer asks for both at once
    layout = browser.request("GET", "/_dash-layout", kind="GET /_dash-layout", check=_json_check)
    deps = pending_deps.result()
    if layout.status != 200 or deps.status != 200:
        return None
    state = PageState(graph_for(deps.body), browser, run, path=path, search=f"?{query}" if query else "",
                      end_id=match.group(1).decode() if match else None)
    added = state.add_tree(layout.json())
    state.fire(state.initial(added), block_first=False)
    return state


# ---- users ---------------------------------------------------------------------------------------------------------


CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


def log_in(browser: Browser, account: Account, password: str) -> bool:
    """The real login form: GET it for the CSRF token, POST it, expect the redirect into the app."""
    form = browser.request("GET", "/login", kind="GET /login")
    token = CSRF.search(form.body)
    if form.status != 200 or token is None:
        return False
    body = urlencode({"csrf_token": token.group(1).decode(), "username": account.username,
                      "password": password}).encode()

    def check(reply: Reply) -> str | None:
        return None if reply.status in (302, 303) else f"login refused: {_http_error(reply)}"

    reply = browser.request("POST", "/login?lang=zh", kind="POST /login", body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, check=check)
    return reply.status in (302, 303)


DRILL_TABLES = ("county-slowest", "county-overdue-cases", "county-bad-reviews", "county-overdue-tickets")


class User:
    """One simulated reader: logs in, then loops over the navigation until the window closes."""

    def __init__(self, account: Account, run: Run, *, password: str, units: Sequence[str], login_at: float) -> None:
        self.account, self.run, self.password, self.units = account, run, password, list(units)
        self.login_at = login_at
        self.rng = random.Random(run.options.seed * 1009 + account.index)
        self.browser = Browser(run.host, run.port, samples=run.samples, timeout=run.options.timeout)
        self.county: PageState | None = None

    def _think(self) -> None:
        low, high = self.run.options.think
        self.run.stop.wait(min(self.rng.uniform(low, high), max(0.0, self.run.end - time.monotonic())))

    def _county_address(self) -> str:
        if self.account.role == "county":
            return "/county"
        return f"/county?region={self.rng.choice(self.units)}"

    def _visit(self, address: str) -> bool:
        state = open_page(self.browser, self.run, address)
        self.county = state if address.startswith("/county") else None
        return state is not None and state.errors == 0

    def _change_month(self) -> bool:
        state = self.county
        if state is None:
            return False
        options = state.value("county-month-dropdown", "options") or []
        values = [o["value"] if isinstance(o, dict) else o for o in options]
        current = state.value("county-month-dropdown", "value")
        others = [v for v in values if v != current]
        if not others:
            return True
        before = state.errors
        state.change("county-month-dropdown", "value", others[0])  # the month before: options are newest first
        return state.errors == before

    def _export(self) -> bool:
        state = self.county
        if state is None:
            return False
        return state.download(self.rng.choice(DRILL_TABLES), self.rng.choice(("csv", "xlsx")))

    def flow(self) -> list[tuple[str, Callable[[], bool]]]:
        steps = [("overview", lambda: self._visit("/")), ("ranking", lambda: self._visit("/ranking")),
                 ("county", lambda: self._visit(self._county_address())), ("month change", self._change_month)]
        if self.account.role != "leader":  # leaders read only
            steps.append(("export", self._export))
        return steps

    def __call__(self) -> None:
        """Log in before the window; start reading at a random moment of the first think time; loop until it ends."""
        try:
            self.run.stop.wait(max(0.0, self.login_at - time.monotonic()))
            if self.run.over():
                return
            start = time.monotonic()
            ok = log_in(self.browser, self.account, self.password)
            self.run.logins.append(StepSample("login", start, (time.monotonic() - start) * 1000.0, ok))
            if not ok:
                return
            first = self.run.start + self.rng.uniform(0.0, self.run.options.think[1])
            self.run.stop.wait(max(0.0, first - time.monotonic()))
            while not self.run.over():
                for name, action in self.flow():
                    if self.run.over():
                        break
                    start = time.monotonic()
                    ok = action()
                    if start < self.run.end:
                        self.run.steps.append(StepSample(name, start, (time.monotonic() - start) * 1000.0, ok))
                    self._think()
        finally:
            self.browser.close()


# ---- statistics and the report -------------------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max (interpolated between samples; the only sample when there is one)."""
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    if len(values) == 1:
        v = float(values[0])
        return {"p50": v, "p95": v, "p99": v, "max": v}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": float(max(values))}


def _by_kind(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.kind, []).append(s)
    return [{"kind": kind, "count": len(rows), "errors": sum(1 for s in rows if s.error),
             **percentiles([s.ms for s in rows])} for kind, rows in sorted(groups.items())]


def _timeline(run: Run, inside: Sequence[Sample]) -> list[dict[str, Any]]:
    """Requests, p50, p95 and errors per slice of the window (twelve slices), to see the ETL's and the ramp's effect."""
    width = max(1.0, run.options.duration / 12)
    slices: dict[int, list[Sample]] = {}
    for s in inside:
        slices.setdefault(int((s.start - run.start) // width), []).append(s)
    return [{"from_s": i * width, "to_s": min((i + 1) * width, run.options.duration), "count": len(rows),
             "errors": sum(1 for s in rows if s.error), **percentiles([s.ms for s in rows])}
            for i, rows in sorted(slices.items())]


def summarise(run: Run) -> dict[str, Any]:
    """Per request type, per step, per slice of time and overall: counts, errors and latency, within the window.

    The logins happen before the window (the users are logged in when it opens); they are summarised apart, and
    their errors count.
    """
    inside = [s for s in run.samples if run.start <= s.start < run.end]
    before = [s for s in run.samples if s.start < run.start]
    steps: dict[str, list[StepSample]] = {}
    for s in run.steps:
        if run.start <= s.start < run.end:
            steps.setdefault(s.step, []).append(s)
    step_rows = [{"step": name, "count": len(rows), "failed": sum(1 for s in rows if not s.ok),
                  **percentiles([s.ms for s in rows])} for name, rows in steps.items()]
    errors: dict[str, int] = {}
    for s in [*before, *inside]:
        if s.error:
            text = f"{s.kind}: {s.error}"[:240]
            errors[text] = errors.get(text, 0) + 1
    overall = {"count": len(inside), "errors": sum(1 for s in inside if s.error),
               **percentiles([s.ms for s in inside])}
    callbacks = [s.ms for s in inside if s.kind.startswith("POST ") and s.kind != "POST /login"]
    return {"requests": _by_kind(inside), "steps": step_rows, "overall": overall,
            "callbacks": {"count": len(callbacks), **percentiles(callbacks)},
            "before_window": {"requests": _by_kind(before), "errors": sum(1 for s in before if s.error),
                              "logins": len(run.logins), "logins_failed": sum(1 for s in run.logins if not s.ok),
                              **percentiles([s.ms for s in run.logins])},
            "timeline": _timeline(run, inside),
            "throughput_rps": len(inside) / run.options.duration,
            "page_views": sum(r["count"] for r in step_rows if r["step"] in ("overview", "ranking", "county")),
            "error_kinds": errors}


ACCESS_LINE = re.compile(r'\[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) \S+ (\d+)ms')


def server_latency(access_log: Path, *, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """p50/p95/p99 of the time gunicorn's workers spent per request (its access log), for the window's requests.

    The client's figures include waiting for the load generator's own share of the cores; these do not.
    """
    values = []
    try:
        lines = access_log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {"count": 0, **percentiles([])}
    for line in lines:
        m = ACCESS_LINE.search(line)
        if not m:
            continue
        try:
            at = dt.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            continue
        if start <= at < end:
            values.append(float(m.group(5)))
    return {"count": len(values), **percentiles(values)}


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"  # NaN -> "-"


def format_report(report: dict[str, Any]) -> str:
    """The report as text: the set-up, the ETL, then latency per request type, per step and overall."""
    s = report["summary"]
    mix = ", ".join(f"{role} {weight}" for role, weight in report["mix"].items())
    lines = [f"bizenv bench load: {report['users']} users ({mix}; think {report['think_s'][0]:g}–"
             f"{report['think_s'][1]:g} s) for {report['duration']:.0f} s on {report['topology']}"]
    lines.append(f"machine: {report['machine']}")
    for run in report.get("etl_runs", []):
        lines.append(f"ETL in the window: {run['job']} ({run['trigger']}, run {run['id']}) {run['status']}, "
                     f"read {run['rows_read']:,}, inserted {run['rows_inserted']:,}, updated {run['rows_updated']:,}; "
                     f"{run['from_s']:+.0f} s to {run['to_s']:+.0f} s of the window"
                     + (f" — {run['error']}" if run.get("error") else ""))
    if report.get("etl") != "none" and not report.get("etl_runs"):
        lines.append("ETL in the window: none ran")
    if report.get("etl") != "none":
        lines.append(f"source: {report.get('source_changes') or 0:,} new cases delivered for the run in the window "
                     "(--etl-changes)")
    head = f"{'request':<58}{'count':>7}{'errors':>7}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}  ms"
    lines += ["", head, "-" * len(head)]
    for row in s["requests"]:
        lines.append(f"{row['kind'][:57]:<58}{row['count']:>7,}{row['errors']:>7,}{_fmt(row['p50']):>7}"
                     f"{_fmt(row['p95']):>7}{_fmt(row['p99']):>7}{_fmt(row['max']):>7}")
    o = s["overall"]
    lines.append(f"{'all requests':<58}{o['count']:>7,}{o['errors']:>7,}{_fmt(o['p50']):>7}{_fmt(o['p95']):>7}"
                 f"{_fmt(o['p99']):>7}{_fmt(o['max']):>7}")
    c = s["callbacks"]
    lines.append(f"{'  of which Dash callbacks':<58}{c['count']:>7,}{'':>7}{_fmt(c['p50']):>7}{_fmt(c['p95']):>7}"
                 f"{_fmt(c['p99']):>7}{_fmt(c['max']):>7}")
    head = (f"{'step (first request to last answer)':<58}{'count':>7}{'failed':>7}{'p50':>7}{'p95':>7}{'p99':>7}"
            f"{'max':>7}")
    lines += ["", head, "-" * len(head)]
    for row in s["steps"]:
        lines.append(f"{row['step']:<58}{row['count']:>7,}{row['failed']:>7,}{_fmt(row['p50']):>7}"
                     f"{_fmt(row['p95']):>7}{_fmt(row['p99']):>7}{_fmt(row['max']):>7}")
    head = f"{'slice of the window':<58}{'count':>7}{'errors':>7}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}"
    lines += ["", head, "-" * len(head)]
    for row in s["timeline"]:
        etl = any(r["from_s"] < row["to_s"] and r["to_s"] > row["from_s"] for r in report.get("etl_runs", []))
        name = f"{row['from_s']:>4.0f}–{row['to_s']:<4.0f} s" + ("  (ETL running)" if etl else "")
        lines.append(f"{name:<58}{row['count']:>7,}{row['errors']:>7,}{_fmt(row['p50']):>7}{_fmt(row['p95']):>7}"
                     f"{_fmt(row['p99']):>7}{_fmt(row['max']):>7}")
    b = s["before_window"]
    server = report.get("server", {})
    lines += ["", f"before the window: {b['logins']} logins ({b['logins_failed']} failed), p50 {_fmt(b['p50'])} ms, "
                  f"p95 {_fmt(b['p95'])} ms (scrypt on the server); {b['errors']} request error(s)",
              f"server side (gunicorn access log, the window's {server.get('count', 0):,} requests): "
              f"p50 {_fmt(server.get('p50', float('nan')))}, p95 {_fmt(server.get('p95', float('nan')))}, "
              f"p99 {_fmt(server.get('p99', float('nan')))} ms",
              *([f"read cache (Redis, the whole server's keyspace): {report['redis']['hits']:,} hits, "
                 f"{report['redis']['misses']:,} misses ({report['redis']['hit_rate']:.0%} hits) in the window"]
                if report.get("redis") else []),
              f"throughput {s['throughput_rps']:.1f} requests/s, {s['page_views']:,} page views; errors "
              f"{o['errors']:,}; CPU over the window: web server {report.get('web_cpu_share') or 0:.0%}, this load "
              f"generator {report.get('client_cpu_share') or 0:.0%}, the whole machine (PostgreSQL, Redis, the ETL "
              f"and anything else running) {report.get('machine_busy_share') or 0:.0%} of its cores"]
    stalls = report.get("pressure") or {}
    if stalls:
        lines.append("share of the window some task waited (Linux PSI): " + ", ".join(
            f"{k} {v:.0%}" for k, v in stalls.items() if not k.startswith("cpu full")))
    for text, n in list(s["error_kinds"].items())[:15]:
        lines.append(f"  {n:>5} × {text}")
    if report.get("verdict"):
        lines += ["", report["verdict"]]
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (dt.datetime, Path)):
        return str(value)
    return value


# ---- the run -------------------------------------------------------------------------------------------------------


SETTLE_SECONDS = 3.0  # between the last login's start and the window


def window_start(options: Options, *, prelude: float, echo: Echo) -> float:
    """When the window opens (monotonic), at least `prelude` s from now; with `--etl scheduler`, placed so that the
    next fire of the one-minute cron lands a fifth of the way in (up to a minute of waiting)."""
    earliest = time.monotonic() + prelude
    if options.etl != "scheduler":
        return earliest
    lead = min(max(ETL_FRACTION * options.duration, 1.0), 30.0)
    to_boundary = 60.0 - (time.time() % 60.0)  # minute boundaries are the same in the city's whole-hour timezone
    opening = time.monotonic() + to_boundary - lead
    while opening < earliest:
        opening += 60.0
    if opening - earliest > 0.5:
        echo(f"  waiting {opening - earliest:.0f} s so the scheduler's fire lands {lead:.0f} s into the window ...")
    return opening


def drive(options: Options, *, site: Site, config: Config, accounts: Sequence[Account], password: str,
          echo: Echo) -> tuple[Run, dict[str, Any]]:
    """Log the users in, open the window (and start the ETL for --etl cli), and wait until it closes."""
    host, port = "127.0.0.1", int(site.base_url.rsplit(":", 1)[1])
    ramp = options.ramp if options.ramp is not None else min(30.0, max(2.0, 0.2 * len(accounts)))
    start = window_start(options, prelude=ramp + SETTLE_SECONDS + 2.0, echo=echo)
    run = Run(host=host, port=port, options=options, start=start)
    logins_from = start - ramp - SETTLE_SECONDS
    users = [User(a, run, password=password, units=config.unit_codes(),
                  login_at=logins_from + ramp * i / len(accounts)) for i, a in enumerate(accounts)]
    threads = [threading.Thread(target=u, name=f"user-{u.account.index + 1}", daemon=True) for u in users]
    extra: dict[str, Any] = {}
    etl_child = None
    run.stop.wait(max(0.0, logins_from - time.monotonic() - 1.0))
    # Cleared only now: a fire of the scheduler during the set-up then read nothing, and the one in the window
    # re-reads the whole stream.
    wait_for_etl(site=site, after_id=0, timeout=options.etl_wait)
    extra["after_id"] = clear_cursor(database_url=site.database_url, config=config, job=site.etl_job)
    if options.etl != "none":
        extra["source_changes"] = add_source_cases(site.workdir / "sources" / "approval_platform.db",
                                                   count=options.etl_changes, seed=options.seed)
    echo(f"  logging {len(users)} users in over {ramp:.0f} s ...")
    for t in threads:
        t.start()
    try:
        run.stop.wait(max(0.0, start - time.monotonic()))
        opened = time.time()
        extra["machine"] = _machine()
        cpu_before, own_before = cpu_seconds(site.web.pid) if site.web else 0.0, time.process_time()
        hits_before = redis_hits(options.redis_url) if site.cache == "redis" else None
        busy_before, stalls_before = machine_busy(), pressure_totals()
        echo(f"  window open: {len(users)} users for {options.duration:.0f} s")
        if options.etl == "cli" and not run.over():  # the command takes a few seconds to start: the run is inside
            etl_child = spawn("etl run", [*bizenv_command(), "--config", str(site.config_path), "etl", "run",
                                          site.etl_job], env=site.env, log=site.workdir / "etl_run.log")
            site.children.append(etl_child)
        while time.monotonic() < run.end and not run.stop.is_set():
            run.stop.wait(min(1.0, max(0.0, run.end - time.monotonic())))
        cpu_after, own_after = cpu_seconds(site.web.pid) if site.web else 0.0, time.process_time()
        hits_after = redis_hits(options.redis_url) if site.cache == "redis" else None
        busy_after, stalls_after = machine_busy(), pressure_totals()
        extra["pressure"] = {k: (stalls_after[k] - v) / (options.duration * 1e6) for k, v in stalls_before.items()
                             if k in stalls_after}
        if busy_after[1] > busy_before[1]:
            extra["machine_busy_share"] = (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
        if hits_before and hits_after:
            hits, misses = hits_after[0] - hits_before[0], hits_after[1] - hits_before[1]
            extra["redis"] = {"hits": hits, "misses": misses, "hit_rate": hits / max(1, hits + misses)}
    finally:
        run.stop.set()
        for t in threads:
            t.join(timeout=options.timeout + 5)
        run.pool.shutdown(wait=True, cancel_futures=True)
    cores = options.duration * (os.cpu_count() or 1)
    extra.update(wall_start=dt.datetime.fromtimestamp(opened, ZoneInfo(config.timezone)).replace(tzinfo=None),
                 utc_start=dt.datetime.fromtimestamp(opened, dt.UTC), web_cpu_s=cpu_after - cpu_before,
                 web_cpu_share=(cpu_after - cpu_before) / cores, client_cpu_share=(own_after - own_before) / cores)
    if etl_child is not None:
        try:
            etl_child.proc.wait(timeout=options.etl_wait)
        except subprocess.TimeoutExpired:
            echo("warning: `bizenv etl run` still running after the wait; stopping it")
    return run, extra


def wait_for_etl(*, site: Site, after_id: int, timeout: float) -> None:
    """Let a run the scheduler started in the window finish (bounded), so its numbers are final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = etl_runs_since(database_url=site.database_url, after_id=after_id)
        if not any(r["status"] == "running" for r in runs):
            return
        time.sleep(1.0)


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} cores, 1-minute load average {load:.1f} as the window opened (the set-up's own work "
            f"included), Python {sys.version.split()[0]}")


def _topology(options: Options, site: Site) -> str:
    engine = f"PostgreSQL database {site.pg_database}" if site.pg_database else "SQLite"
    cache = {"redis": f"Redis read cache ({options.redis_url})", "local": "per-worker read cache",
             "off": "no read cache"}[site.cache]
    threads = options.threads or int(runpy.run_path(str(GUNICORN_CONF))["threads"])
    workers = f"gunicorn {site.workers} gthread workers × {threads} threads"
    etl = {"scheduler": "ETL fired by `bizenv scheduler`", "cli": "ETL by `bizenv etl run`", "none": "no ETL"}
    return f"{engine}, {cache}, {workers} (deploy/gunicorn.conf.py), {etl[options.etl]}"


def _verdict(options: Options, report: dict[str, Any]) -> tuple[int, str]:
    problems = []
    overall = report["summary"]["overall"]
    if overall["count"] == 0:
        problems.append("no request was made in the window")
    if overall["errors"]:
        problems.append(f"{overall['errors']} request(s) failed")
    failed_steps = sum(row["failed"] for row in report["summary"]["steps"])
    if failed_steps:
        problems.append(f"{failed_steps} step(s) did not complete (a page that did not load, a download button or "
                        "month that was not there)")
    before = report["summary"]["before_window"]
    if before["errors"] or before["logins_failed"]:
        problems.append(f"{before['logins_failed']} login(s) failed before the window")
    if options.etl != "none":
        runs = report.get("etl_runs", [])
        if not any(r["from_s"] < options.duration and r["to_s"] > 0 for r in runs):
            problems.append("no ETL run overlapped the window")
        problems += [f"ETL run {r['id']} {r['status']}" for r in runs if r["status"] != "success"]
    if options.p95_target_ms and overall["p95"] == overall["p95"] and overall["p95"] > options.p95_target_ms:
        problems.append(f"p95 {overall['p95']:.0f} ms is over the {options.p95_target_ms:.0f} ms target")
    if problems:
        return 1, "FAILED: " + "; ".join(problems)
    target = f", p95 under {options.p95_target_ms:.0f} ms" if options.p95_target_ms else ""
    return 0, f"OK: zero errors{target}" + (", with an ETL load in the window" if options.etl != "none" else "")


def run_load(options: Options, config: Config, *, echo: Echo = print) -> tuple[int, dict[str, Any]]:
    """Set up, load, report and tear everything down; returns (exit code, report)."""
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="bizenv-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    site = Site(workdir=workdir, config_path=workdir / "config.yaml", database_url="", env=_base_env(),
                api_token=secrets.token_hex(16))
    report: dict[str, Any] = {"users": options.users, "duration": options.duration, "etl": options.etl,
                              "mix": options.mix, "think_s": list(options.think),
                              "workdir": str(workdir), "machine": _machine()}
    code = 1
    try:
        echo(f"bizenv bench load: setting up in {workdir}")
        set_up(options, config, site=site, echo=echo)
        accounts = plan_accounts(config, options.users, options.mix)
        password = secrets.token_urlsafe(18)
        create_accounts(database_url=site.database_url, config=config, accounts=accounts, password=password)
        start_services(options, site=site, echo=echo)
        report["topology"] = _topology(options, site)
        run, extra = drive(options, site=site, config=config, accounts=accounts, password=password, echo=echo)
        after_id = extra["after_id"]
        if options.etl == "scheduler":
            wait_for_etl(site=site, after_id=after_id, timeout=options.etl_wait)
        report["summary"] = summarise(run)
        report["server"] = server_latency(site.workdir / "access.log", start=extra["utc_start"],
                                          end=extra["utc_start"] + dt.timedelta(seconds=options.duration))
        for key in ("web_cpu_s", "web_cpu_share", "client_cpu_share", "redis", "machine_busy_share", "machine",
                    "pressure", "source_changes"):
            report[key] = extra.get(key)
        report["etl_runs"] = _etl_report(site, after_id=after_id, wall_start=extra["wall_start"])
        code, report["verdict"] = _verdict(options, report)
    except KeyboardInterrupt:
        echo("interrupted: stopping everything the run started")
        report["verdict"] = "INTERRUPTED"
        code = 130
    finally:
        tear_down(options, site, echo=echo, report=report)
        if not options.keep and options.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return code, report


def _etl_report(site: Site, *, after_id: int, wall_start: dt.datetime) -> list[dict[str, Any]]:
    out = []
    now = wall_start + dt.timedelta(days=1)
    for r in etl_runs_since(database_url=site.database_url, after_id=after_id):
        finished = r["finished_at"] or now
        out.append({**r, "from_s": (r["started_at"] - wall_start).total_seconds(),
                    "to_s": (finished - wall_start).total_seconds()})
    return out


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl+C does, so `finally` stops the processes and drops the database."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(args: argparse.Namespace, config: Config) -> int:
    """`bizenv bench load`: print the report; exit 0 only with zero errors, the ETL in the window and p95 on target."""
    try:
        options = options_from(args)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with sigterm_as_interrupt():
        try:
            code, report = run_load(options, config, echo=lambda m: print(m, flush=True))
        except LoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if "summary" in report:
        print("\n" + format_report(report), flush=True)
    if options.json_path:
        options.json_path.write_text(json.dumps(_jsonable(report), ensure_ascii=False, indent=1), encoding="utf-8")
    return code


def _standalone(argv: Sequence[str] | None = None) -> int:
    from models.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="python -m bizenv.bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="configuration file (default: $BIZENV_CONFIG or ./config.yaml)")
    configure_parser(parser)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return main(args, config)


if __name__ == "__main__":
    sys.exit(_standalone())
