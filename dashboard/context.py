"""Per-app services for callbacks and layouts: config, warehouse and the viewer, read from the Flask app.

Nothing here is module-level state: each app (and each gunicorn worker) carries its own context on its Flask
server, so tests can build several apps with different warehouses in one process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import flask
from sqlalchemy.orm import Session

from bizenv.i18n import Lang, normalise_lang
from models.config import Config
from models.db import Warehouse
from models.migrate import warehouse_is_migrated
from models.scope import Viewer

CONTEXT_KEY = "BIZENV"
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DashboardContext:
    """What every callback needs: the validated config and the warehouse it reads."""

    config: Config
    warehouse: Warehouse


def install_context(server: flask.Flask, *, config: Config, warehouse: Warehouse) -> DashboardContext:
    """Attach the config and warehouse to a Flask server so request handlers can find them."""
    context = DashboardContext(config=config, warehouse=warehouse)
    server.config[CONTEXT_KEY] = context
    return context


def current_context() -> DashboardContext:
    """The context of the app serving the current request."""
    return flask.current_app.config[CONTEXT_KEY]


def current_config() -> Config:
    """The configuration of the app serving the current request."""
    return current_context().config


def current_warehouse() -> Warehouse:
    """The warehouse of the app serving the current request."""
    return current_context().warehouse


def current_viewer() -> Viewer:
    """Who is reading; city-wide until login lands (one function, so the login issue swaps only this)."""
    return Viewer.city_wide()


def current_lang(value: object) -> Lang:
    """The language of a request from the language store's value, defaulting to the configured language."""
    return normalise_lang(value, current_config().dashboard.default_language)


def warehouse_read(read: Callable[[Session], T], *, default: T) -> T:
    """Run one read in a session; a warehouse not migrated yet reads as empty so the page still opens."""
    with current_warehouse().session() as session:
        if not warehouse_is_migrated(session=session):
            log.warning("the warehouse has no schema yet (run the migrations); showing the empty state")
            return default
        return read(session)
