"""Schema migrations with Alembic, driven from code so no alembic.ini is needed in deployments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from models.config import Config
    from models.db import Warehouse

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine | None = None, url: str | None = None) -> AlembicConfig:
    """An Alembic config pointing at the packaged migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the warehouse to `revision` in one transaction."""
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Undo migrations down to `revision` (the demo uses this to reset its warehouse)."""
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def script_directory() -> ScriptDirectory:
    """The revision scripts, for tests that check the chain is linear."""
    return ScriptDirectory.from_config(alembic_config())


def prepare_warehouse(*, warehouse: Warehouse, config: Config) -> None:
    """Migrate to head, then make the region and calendar dimensions match config."""
    from models.calendar_sync import sync_calendar
    from models.regions import sync_regions

    upgrade(warehouse.engine)
    with warehouse.session() as session:
        sync_regions(session=session, config=config)
        sync_calendar(session=session, config=config)


def warehouse_is_migrated(*, session: Session) -> bool:
    """Whether the schema exists, so an unmigrated warehouse reads as "no data yet" instead of failing."""
    from models.marts import MartKpiMonthly
    from models.ops import EtlRun

    inspector = inspect(session.connection())
    return all(inspector.has_table(model.__tablename__) for model in (MartKpiMonthly, EtlRun))
