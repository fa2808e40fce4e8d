"""GET /healthz: can this web node serve? The warehouse answers and is migrated, and every job loaded recently.

For nginx, a load balancer or a monitoring system; it needs no login (dashboard/auth.py lets /healthz through).
200 when all is well; 503 when the warehouse cannot be queried or was never migrated, or when a configured job's
last successful run is older than its limit (`monitoring` in config.yaml), a job that never succeeded included.
`/healthz?only=warehouse` leaves the ETL out: for a load balancer deciding whether to send readers to this node,
which a late load elsewhere should not take out of service.

The JSON says only what a monitor needs: never the database URL, an error text or a stack trace (the server log
has those).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

import flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from bizenv.backup import schema_revision
from dashboard.context import current_context
from models.config import Config
from models.db import Warehouse
from models.etl_status import job_statuses
from models.migrate import script_directory, warehouse_is_migrated

log = logging.getLogger(__name__)

PATH = "/healthz"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(sep=" ", timespec="seconds") if value else None


def etl_freshness(*, session: Session, config: Config, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per configured job: its last success, how many minutes ago, its limit, and whether that is fresh enough."""
    jobs = {}
    for s in job_statuses(session=session, config=config):
        limit = config.monitoring.limit_for(s.job)
        age = None if s.last_success_at is None else max(0.0, (now - s.last_success_at).total_seconds() / 60)
        jobs[s.job] = {"last_success": _iso(s.last_success_at), "age_minutes": None if age is None else round(age, 1),
                       "max_age_minutes": limit, "last_run_status": s.status,
                       "ok": age is not None and age <= limit}
    return jobs


def health_report(*, warehouse: Warehouse, config: Config, now: dt.datetime, latest_revision: str | None,
                  check_etl: bool = True) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the JSON body of /healthz, for `now` in the warehouse's wall-clock time."""
    problems: list[str] = []
    check: dict[str, Any] = {"ok": False, "engine": warehouse.engine.dialect.name, "revision": None,
                             "latest_revision": latest_revision}
    jobs: dict[str, dict[str, Any]] | None = None
    try:
        with warehouse.session() as session:
            session.execute(text("SELECT 1"))
            if warehouse_is_migrated(session=session):
                check.update(ok=True, revision=schema_revision(conn=session.connection()))
                jobs = etl_freshness(session=session, config=config, now=now) if check_etl else None
            else:
                problems.append("warehouse: not migrated (run `bizenv db upgrade`)")
    except Exception:  # noqa: BLE001 - whatever the driver raises, the answer is 503 and the log has the details
        log.exception("healthz: the warehouse cannot be queried")
        problems.append("warehouse: unreachable")
    for job, state in (jobs or {}).items():
        if not state["ok"]:
            when = "never succeeded" if state["age_minutes"] is None else \
                f"last success {state['age_minutes']:.0f} min ago"
            problems.append(f"etl {job}: {when} (limit {state['max_age_minutes']} min)")
    body = {"status": "fail" if problems else "ok", "checked_at": _iso(now), "warehouse": check,
            "etl": jobs, "problems": problems}
    return (503 if problems else 200), body


def register_routes(server: flask.Flask) -> None:
    """Add GET /healthz to the Flask server that carries the Dash app."""
    latest = script_directory().get_current_head()  # the code's schema: fixed for the life of the process

    def healthz() -> flask.Response:
        context = current_context()
        now = dt.datetime.now(ZoneInfo(context.config.timezone)).replace(tzinfo=None, microsecond=0)
        status, body = health_report(warehouse=context.warehouse, config=context.config, now=now,
                                     latest_revision=latest, check_etl=flask.request.args.get("only") != "warehouse")
        response = flask.jsonify(body)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    server.add_url_rule(PATH, "bizenv_healthz", healthz, methods=["GET"])
