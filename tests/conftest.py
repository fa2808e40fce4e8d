"""Shared fixtures: a real warehouse on SQLite (a file) and on the PostgreSQL server on 127.0.0.1:5432."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from models.config import Config, load_config
from models.db import Warehouse
from models.migrate import prepare_warehouse

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BIZENV_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}: {exc}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The admin URL of the test PostgreSQL server; skipped outside CI when it is down, failed under CI=true."""
    why = _postgres_reachable()
    if why:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return PG_ADMIN_URL


def create_pg_database(admin_url: str) -> tuple[str, str]:
    name = f"bizenv_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def empty_warehouse_url(engine: str, *, request: pytest.FixtureRequest, folder: Path,
                        stem: str = "warehouse") -> Iterator[str]:
    """An empty warehouse URL on an engine: a SQLite file in `folder`, or a PostgreSQL database dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{folder / f'{stem}.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    name, url = create_pg_database(admin)
    try:
        yield url
    finally:
        drop_pg_database(admin, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty warehouse URL on each engine: a SQLite file, or a fresh PostgreSQL database."""
    with empty_warehouse_url(request.param, request=request, folder=tmp_path) as url:
        yield url


@pytest.fixture
def config() -> Config:
    """The repository's config.yaml, validated."""
    return load_config(REPO / "config.yaml")


@pytest.fixture
def warehouse(database_url: str, config: Config) -> Iterator[Warehouse]:
    """A migrated warehouse with regions and calendar synced, on each engine."""
    wh = Warehouse(database_url)
    prepare_warehouse(warehouse=wh, config=config)
    try:
        yield wh
    finally:
        wh.dispose()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DEMO_END = "2026-10"


def demo_config(config: Config, folder: Path, database_url: str) -> Config:
    """The repository config pointed at a private sources folder, API port and warehouse."""
    api = config.sources["approval_api"].model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}"})
    return config.model_copy(update={
        "sources": {**config.sources, "approval_api": api},
        "demo": config.demo.model_copy(update={"sources_dir": str(folder / "sources")}),
        "warehouse": config.warehouse.model_copy(update={"url": database_url}),
    })


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Warehouse]]:
    """One small demo warehouse on SQLite for the whole session (14 months to 2026-10, so YoY exists): read-only."""
    from etl.demo_build import build_demo

    folder = tmp_path_factory.mktemp("demo-site")
    saved = os.environ.pop("BIZENV_DATABASE_URL", None)
    cfg = demo_config(load_config(REPO / "config.yaml"), folder, f"sqlite:///{folder / 'demo.db'}")
    result = build_demo(config=cfg, scale=0.01, months=14, end_month=DEMO_END, echo=lambda _m: None)
    assert not result.failed, [r.error for r in result.runs]
    wh = Warehouse(cfg.database_url())
    try:
        yield cfg, wh
    finally:
        wh.dispose()
        if saved is not None:
            os.environ["BIZENV_DATABASE_URL"] = saved
