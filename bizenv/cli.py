"""The `bizenv` command: one entry point for operators, with a subcommand per task."""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
from collections.abc import Sequence

from models.config import Config, ConfigError, load_config
from models.db import Warehouse


def _warehouse(config: Config) -> Warehouse:
    return Warehouse(config.database_url())


def _print(message: str) -> None:
    print(message, flush=True)


def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    """Migrate the warehouse to the latest schema and sync regions and the calendar from config."""
    from models.migrate import prepare_warehouse

    warehouse = _warehouse(config)
    prepare_warehouse(warehouse=warehouse, config=config)
    _print(f"warehouse is at the latest schema: {warehouse.engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_etl_run(args: argparse.Namespace, config: Config) -> int:
    """Run jobs once, now; exit non-zero if any failed."""
    from etl.jobs import JobError, run_jobs
    from models.migrate import prepare_warehouse

    warehouse = _warehouse(config)
    prepare_warehouse(warehouse=warehouse, config=config)
    try:
        summaries = run_jobs(warehouse=warehouse, config=config, names=args.jobs or None, progress=_progress())
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for s in summaries:
        _print(_summary_line(s))
    return 0 if all(s.status == "success" for s in summaries) else 1


def cmd_etl_status(args: argparse.Namespace, config: Config) -> int:
    """Print the last run of each job and how fresh each source is."""
    from models.etl_status import job_statuses

    warehouse = _warehouse(config)
    with warehouse.session() as session:
        rows = job_statuses(session=session, config=config)
    _print(f"{'job':<16}{'status':<10}{'finished':<21}{'read':>10}{'loaded':>10}{'rejected':>10}  last success"
           f"{'':<9}source cursor")
    for r in rows:
        finished = r.finished_at.isoformat(sep=" ") if r.finished_at else "-"
        success = r.last_success_at.isoformat(sep=" ") if r.last_success_at else "never"
        _print(f"{r.job:<16}{r.status or 'never run':<10}{finished:<21}{r.rows_read:>10,}{r.rows_loaded:>10,}"
               f"{r.rows_rejected:>10,}  {success:<21}{r.cursor or '-'}")
        if r.error:
            _print(f"  error: {r.error}")
    return 0 if all(r.status in ("success", None) for r in rows) else 1


def cmd_etl_rejects(args: argparse.Namespace, config: Config) -> int:
    """List quarantined rows with their reasons, or export them as CSV."""
    from models.etl_status import rejected_rows

    warehouse = _warehouse(config)
    with warehouse.session() as session:
        frame = rejected_rows(session=session, run_id=args.run, limit=None if args.csv else args.limit)
    if args.csv:
        frame.to_csv(args.csv, index=False, encoding="utf-8-sig")
        _print(f"wrote {len(frame):,} quarantined rows to {args.csv}")
        return 0
    for r in frame.itertuples(index=False):
        _print(f"run {r.run_id} {r.dataset} {r.source}:{r.source_line} {r.reason_code} ({r.reason_zh} / {r.reason_en})"
               f"\n    {r.raw}")
    _print(f"{len(frame):,} rows shown")
    return 0


def cmd_etl_template(args: argparse.Namespace, config: Config) -> int:
    """Write the blank monthly workbook a county bureau fills in."""
    from pathlib import Path

    from etl.template import write_template

    try:
        path = write_template(config=config, region_code=args.region, period=args.month, out_dir=Path(args.out),
                              overwrite=args.force)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print(f"wrote {path}")
    return 0


def cmd_kpi_rebuild(args: argparse.Namespace, config: Config) -> int:
    """Recompute every KPI mart row from the facts, in one transaction."""
    import time

    from models.kpis import rebuild_kpi_marts
    from models.migrate import prepare_warehouse
    from models.ops import bump_data_version

    warehouse = _warehouse(config)
    prepare_warehouse(warehouse=warehouse, config=config)
    started = time.perf_counter()
    with warehouse.engine.begin() as conn:
        rows = rebuild_kpi_marts(conn=conn, config=config)
        bump_data_version(conn=conn, facts=True)  # the dashboard's cached KPI reads are stale now
    _print(f"rebuilt {rows:,} mart rows for {len(config.kpis)} KPIs and the county ranking "
           f"in {time.perf_counter() - started:.1f}s")
    return 0


def _month(value: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {value!r}")
    return value


def cmd_kpi_alerts(args: argparse.Namespace, config: Config) -> int:
    """List a month's breaches (targets missed, overdue open cases, bad reviews past their deadline)."""
    from bizenv.i18n import describe_alert, t
    from models.alerts import kpi_alerts
    from models.kpis import current_period, previous_period

    period = args.month or previous_period(current_period(config.timezone))
    warehouse = _warehouse(config)
    with warehouse.session() as session:
        alerts = kpi_alerts(session=session, config=config, period=period,
                            region_codes=[args.region] if args.region else None)
    for alert in alerts:
        _print(f"[{t(f'alert.severity.{alert.severity}', args.lang)}] {describe_alert(alert, args.lang, config)}")
    _print(f"{period}: {len(alerts)} alert(s)")
    return 0


def cmd_report(args: argparse.Namespace, config: Config) -> int:
    """Build the monthly bulletin (月度通报) for the city or one county, archive it, optionally copy it out."""
    from bizenv.bulletin.command import run_report
    from models.migrate import prepare_warehouse

    warehouse = _warehouse(config)
    prepare_warehouse(warehouse=warehouse, config=config)
    return run_report(warehouse=warehouse, config=config, month=args.month, region=args.region,
                      formats=args.format, out=args.out, lang=args.lang, echo=_print)


def cmd_scheduler(args: argparse.Namespace, config: Config) -> int:
    """Run the scheduler in this process until SIGTERM: its own process, never inside the web server."""
    from etl.scheduler import next_runs, run_scheduler
    from models.migrate import prepare_warehouse

    warehouse = _warehouse(config)
    prepare_warehouse(warehouse=warehouse, config=config)
    for job, when in next_runs(config=config):
        _print(f"  {job:<16} next run {when.isoformat(sep=' ', timespec='minutes')}")
    _print(f"scheduler started ({config.timezone}); stop with Ctrl+C or SIGTERM")
    run_scheduler(config=config, warehouse=warehouse)
    _print("scheduler stopped")
    return 0


def _summary_line(s) -> str:  # noqa: ANN001 - etl.jobs.RunSummary, imported lazily
    rate = s.rows_read / s.seconds if s.seconds else 0.0
    line = (f"{s.job}: {s.status} (run {s.run_id}) read {s.rows_read:,}, inserted {s.rows_inserted:,}, "
            f"updated {s.rows_updated:,}, rejected {s.rows_rejected:,}, marts {s.marts_refreshed:,} rows, "
            f"{s.seconds:.1f}s ({rate:,.0f} rows/s)")
    if s.files_refused:
        line += f"\n  {s.files_refused} file(s) refused whole and moved to failed/ with a .reason.txt"
    return line + (f"\n  error: {s.error}" if s.error else "")


def _progress():
    """A progress printer that rewrites one terminal line, or prints sparsely when not a terminal."""
    tty = sys.stderr.isatty()
    state = {"n": 0}

    def show(message: str) -> None:
        state["n"] += 1
        if tty:
            print(f"\r{message}\033[K", end="", file=sys.stderr, flush=True)
        elif state["n"] % 50 == 0:
            print(message, file=sys.stderr, flush=True)

    return show


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    """Build the Jinzhong demo (source systems, ETL, marts) and serve the dashboard."""
    from etl.demo_build import DemoError, build_demo

    try:
        result = build_demo(config=config, scale=args.scale, months=args.months, progress=_progress(), echo=_print)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.failed:
        print("error: the demo ETL failed; see the lines above", file=sys.stderr)
        return 1
    _print_demo_accounts(config)
    if args.no_serve:
        return 0
    return _serve(config, host=args.host, port=args.port, demo=True)


def _print_demo_accounts(config: Config) -> None:
    """Create the demo's accounts (one per role) and print their passwords, once, when they are created."""
    from zoneinfo import ZoneInfo

    from models.accounts import ensure_demo_accounts

    now = datetime.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)
    with _warehouse(config).session() as session:
        created = ensure_demo_accounts(session=session, unit_codes=config.unit_codes(), now=now)
    if created:
        _print("demo accounts (passwords are shown only now; `bizenv users reset-password NAME` sets a new one):")
        for username, role, password in created:
            _print(f"  {username:<14} {role:<16} {password}")
    else:
        _print("demo accounts: demo_admin, demo_leader, demo_analyst, demo_yuci (passwords were printed when they "
               "were created; `bizenv users reset-password NAME` sets a new one)")


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    """Serve the dashboard with Flask's development server (production: gunicorn 'dashboard.wsgi:server')."""
    return _serve(config, host=args.host, port=args.port)


def _serve(config: Config, *, host: str, port: int, demo: bool = False) -> int:
    from dashboard.app import create_app
    from dashboard.auth import InsecureSecretKey

    try:
        app = create_app(config, allow_ephemeral_key=demo)
    except InsecureSecretKey as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print(f"\nbizenv dashboard: http://{host}:{port}/  (sign in; press Ctrl+C to stop)")
    app.run(host=host, port=port, debug=False)  # werkzeug itself explains a port that is in use
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="bizenv", description="Jinzhong business-environment KPI platform")
    parser.add_argument("--config", help="configuration file (default: $BIZENV_CONFIG or ./config.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="warehouse schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the warehouse to the latest schema").set_defaults(func=cmd_db_upgrade)
    from bizenv.cli_ops import add_parsers as add_ops_parsers  # db backup, db restore

    add_ops_parsers(db)

    etl = sub.add_parser("etl", help="data pipeline").add_subparsers(dest="etl_command", required=True)
    run = etl.add_parser("run", help="run jobs once, now (default: every configured job)")
    run.add_argument("jobs", nargs="*", metavar="JOB")
    run.set_defaults(func=cmd_etl_run)
    etl.add_parser("status", help="the last run of each job and source freshness").set_defaults(func=cmd_etl_status)
    rejects = etl.add_parser("rejects", help="quarantined rows with their reasons")
    rejects.add_argument("--run", type=int, help="only this run id")
    rejects.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")
    rejects.add_argument("--csv", help="write every matching row to this CSV file instead (UTF-8 with BOM, for Excel)")
    rejects.set_defaults(func=cmd_etl_rejects)
    tpl = etl.add_parser("template", help="write the blank county monthly workbook (月报模板) for a county and month")
    tpl.add_argument("--region", required=True, help="unit code or name, e.g. 140728 or 平遥县")
    tpl.add_argument("--month", required=True, help="report month, YYYY-MM")
    tpl.add_argument("--out", default=".", help="folder to write into (default: the current folder)")
    tpl.add_argument("--force", action="store_true", help="replace an existing file of the same name")
    tpl.set_defaults(func=cmd_etl_template)

    kpi = sub.add_parser("kpi", help="KPI marts").add_subparsers(dest="kpi_command", required=True)
    kpi.add_parser("rebuild", help="recompute every mart row from the facts").set_defaults(func=cmd_kpi_rebuild)
    alerts = kpi.add_parser("alerts", help="a month's breaches: targets missed, overdue cases, bad reviews")
    alerts.add_argument("--month", type=_month, help="YYYY-MM (default: last month)")
    alerts.add_argument("--region", help="one region code (default: the city and every county)")
    alerts.add_argument("--lang", choices=["zh", "en"], default="zh")
    alerts.set_defaults(func=cmd_kpi_alerts)

    from bizenv.cli_accounts import add_parsers as add_account_parsers

    add_account_parsers(sub)

    report = sub.add_parser("report", help="build and archive the monthly bulletin (月度通报): PDF, Excel, Word")
    report.add_argument("--month", type=_month, required=True, help="report month, YYYY-MM")
    report.add_argument("--region", help="a unit code or name for a county edition (default: the city edition)")
    report.add_argument("--format", help="comma-separated pdf,xlsx,docx (default: bulletin.formats in config)")
    report.add_argument("--out", help="also copy the files into this folder")
    report.add_argument("--lang", choices=["zh", "en"], help="language (default: bulletin.language in config)")
    report.set_defaults(func=cmd_report)

    sched = sub.add_parser("scheduler", help="run scheduled ETL jobs in this process (cron schedules from config)")
    sched.set_defaults(func=cmd_scheduler)

    demo = sub.add_parser("demo", help="build the Jinzhong demo warehouse and serve the dashboard")
    demo.add_argument("--scale", type=float, default=None, help="share of real city volume (1.0 = real; default 0.02)")
    demo.add_argument("--months", type=int, default=None, help="months of history up to the last full month "
                                                               "(default: from 2023-01)")
    demo.add_argument("--no-serve", action="store_true", help="build only; do not start the dashboard")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8050)
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve the dashboard (development server)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8050)
    serve.set_defaults(func=cmd_serve)

    from bizenv.bench.cli import add_parsers as add_bench_parsers

    add_bench_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args, config)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
