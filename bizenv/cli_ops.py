"""`bizenv db backup` and `bizenv db restore`: the warehouse to a file and back, printing what was written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bizenv.backup import BackupError, RestoreRefused, WarehouseCopy, backup_warehouse, restore_warehouse
from models.config import Config


def _print(message: str) -> None:
    print(message, flush=True)


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _latest_revision() -> str | None:
    from models.migrate import script_directory

    return script_directory().get_current_head()


def _print_tables(copy: WarehouseCopy) -> None:
    width = max([len("table"), *(len(name) for name, _ in copy.tables)])
    _print(f"  {'table':<{width}}  {'rows':>12}")
    for name, rows in copy.tables:
        _print(f"  {name:<{width}}  {rows:>12,}")
    _print(f"  {len(copy.tables)} tables, {copy.total_rows:,} rows")


def cmd_db_backup(args: argparse.Namespace, config: Config) -> int:
    """Write a consistent backup of the configured warehouse, safe while the ETL and the dashboard run."""
    try:
        copy = backup_warehouse(url=config.database_url(), path=Path(args.path), overwrite=args.force)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _print(f"backup written: {copy.path} ({_size(copy.size_bytes)}, {copy.engine}, schema revision "
           f"{copy.revision or 'none'}) from {copy.database}")
    _print_tables(copy)
    return 0


def cmd_db_restore(args: argparse.Namespace, config: Config) -> int:
    """Restore a backup into a new database (or, with --force, over an existing one)."""
    url = args.database or config.database_url()
    try:
        copy = restore_warehouse(path=Path(args.path), url=url, force=args.force)
    except RestoreRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _print(f"restored {copy.path} ({_size(copy.size_bytes)}) into {copy.database}, schema revision "
           f"{copy.revision or 'none'}")
    _print_tables(copy)
    latest = _latest_revision()
    if copy.revision != latest:
        _print(f"the code's schema is at {latest}: run `bizenv db upgrade` against it before serving")
    return 0


def add_parsers(db_subparsers: argparse._SubParsersAction) -> None:
    """Register `db backup` and `db restore` under the `db` command."""
    backup = db_subparsers.add_parser(
        "backup", help="write a consistent backup of the warehouse to a file (safe while the ETL runs)")
    backup.add_argument("path", metavar="PATH", help="the file to write (SQLite copy, or pg_dump custom format)")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(func=cmd_db_backup)
    restore = db_subparsers.add_parser(
        "restore", help="restore a backup file into a new warehouse (--force to replace a non-empty one)")
    restore.add_argument("path", metavar="PATH", help="a file written by `bizenv db backup`")
    restore.add_argument("--database", metavar="URL",
                         help="target database (default: BIZENV_DATABASE_URL or warehouse.url)")
    restore.add_argument("--force", action="store_true",
                         help="replace the contents of a target that already holds tables")
    restore.set_defaults(func=cmd_db_restore)
