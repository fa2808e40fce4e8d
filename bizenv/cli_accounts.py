"""`bizenv users ...` and `bizenv audit`: account administration and the audit log, from the command line.

Every change made here is audited with the operator's OS user as the actor, like a change made in the UI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from typing import Any

from models.config import Config

ACTOR = f"cli:{getpass.getuser()}"


def _now(config: Config) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)


def _password(args: argparse.Namespace) -> str:
    """From stdin with --password-stdin (one line), else prompted twice without echo."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("the passwords differ; nothing was changed")
    return first


def _session(config: Config):  # noqa: ANN202 - a context manager from Warehouse
    from models.db import Warehouse
    from models.migrate import prepare_warehouse

    warehouse = Warehouse(config.database_url())
    prepare_warehouse(warehouse=warehouse, config=config)
    return warehouse.session()


def _run(config: Config, action: str, details: dict[str, Any], change) -> int:  # noqa: ANN001 - a callable
    from models.accounts import AccountError, audit

    with _session(config) as session:
        try:
            message = change(session)
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        audit(session=session, action=action, success=True, now=_now(config), username=ACTOR, details=details)
    print(message)
    return 0


def cmd_users_add(args: argparse.Namespace, config: Config) -> int:
    """Create an account; the password is prompted for, or read from stdin."""
    from models.accounts import add_user

    password = _password(args)

    def change(session) -> str:  # noqa: ANN001
        user = add_user(session=session, username=args.username, password=password, role=args.role,
                        region_code=args.region, unit_codes=config.unit_codes(), now=_now(config),
                        display_name=args.name)
        return f"added {user.username} ({user.role}{', ' + user.region_code if user.region_code else ''})"
    return _run(config, "user_add", {"user": args.username, "role": args.role, "region": args.region}, change)


def cmd_users_list(args: argparse.Namespace, config: Config) -> int:
    """Every account with its role, region and state (never its hash)."""
    from models.accounts import list_users

    with _session(config) as session:
        users = list_users(session=session)
        print(f"{'username':<20} {'role':<8} {'region':<8} {'state':<9} {'demo':<5} last login")
        for u in users:
            state = "disabled" if u.disabled else ("locked" if u.locked_until and u.locked_until > _now(config)
                                                    else "active")
            print(f"{u.username:<20} {u.role:<8} {u.region_code or '-':<8} {state:<9} {'yes' if u.is_demo else '':<5} "
                  f"{u.last_login_at or '-'}")
    return 0


def cmd_users_disable(args: argparse.Namespace, config: Config) -> int:
    """Disable an account (or enable it again with --enable)."""
    from models.accounts import set_disabled

    def change(session) -> str:  # noqa: ANN001
        user = set_disabled(session=session, username=args.username, disabled=not args.enable)
        return f"{user.username} {'enabled' if args.enable else 'disabled'}"
    return _run(config, "user_enable" if args.enable else "user_disable", {"user": args.username}, change)


def cmd_users_reset_password(args: argparse.Namespace, config: Config) -> int:
    """Set a new password and lift a lock."""
    from models.accounts import reset_password

    password = _password(args)

    def change(session) -> str:  # noqa: ANN001
        user = reset_password(session=session, username=args.username, password=password, now=_now(config))
        return f"password of {user.username} reset"
    return _run(config, "user_reset_password", {"user": args.username}, change)


def cmd_audit(args: argparse.Namespace, config: Config) -> int:
    """The audit log, newest first (the CLI runs with an admin's rights: it has the database)."""
    from models.accounts import read_audit
    from models.scope import Viewer

    since = dt.datetime.fromisoformat(args.since) if args.since else None
    with _session(config) as session:
        entries = read_audit(session=session, viewer=Viewer(role="admin"), username=args.user, action=args.action,
                             since=since, limit=args.limit)
        for e in entries:
            details = json.loads(e.details or "{}")
            print(f"{e.at}  {e.username or '-':<16} {e.ip or '-':<15} {e.action:<20} "
                  f"{'ok' if e.success else 'FAILED':<6} {json.dumps(details, ensure_ascii=False)}")
    return 0


def add_parsers(sub: Any) -> None:
    """Attach `users` and `audit` to the top-level subcommands."""
    users = sub.add_parser("users", help="accounts: add, list, disable, reset-password").add_subparsers(
        dest="users_command", required=True)
    add = users.add_parser("add", help="create an account (prompts for the password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["admin", "leader", "analyst", "county"])
    add.add_argument("--region", help="the county code, for a county account")
    add.add_argument("--name", help="display name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_users_add)
    users.add_parser("list", help="every account").set_defaults(func=cmd_users_list)
    disable = users.add_parser("disable", help="disable an account (--enable to undo)")
    disable.add_argument("username")
    disable.add_argument("--enable", action="store_true")
    disable.set_defaults(func=cmd_users_disable)
    reset = users.add_parser("reset-password", help="set a new password and lift a lock")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(func=cmd_users_reset_password)

    audit = sub.add_parser("audit", help="read the audit log, newest first")
    audit.add_argument("--user")
    audit.add_argument("--action", help="e.g. login, logout, export, bulletin_download, user_add")
    audit.add_argument("--since", help="YYYY-MM-DD[THH:MM]")
    audit.add_argument("--limit", type=int, default=100)
    audit.set_defaults(func=cmd_audit)
