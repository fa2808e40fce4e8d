"""`bizenv bench [options]` (the benchmark) and `bizenv bench load [options]` (the load test, in bizenv.bench.load)."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from bizenv.bench import DEFAULT_MONTHS, DEFAULT_SCALE, SECTIONS
from models.config import Config

LOAD_MODULE = "bizenv.bench.load"


def _sections(text: str) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown) or text!r}; "
                                         f"choose from {', '.join(SECTIONS)}")
    return wanted


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return value


def _scale(text: str) -> float:
    value = float(text)
    if not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"expected a scale in (0, 10], got {text!r}")
    return value


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_bench(args: argparse.Namespace, config: Config) -> int:
    """Generate the sources, measure every asked-for section, print the report and write the JSON."""
    from bizenv.bench.report import goals, render, write_json
    from bizenv.bench.run import Options, run_bench
    from bizenv.bench.workspace import BenchError

    options = Options(scale=args.scale, months=args.months, database=args.database, sections=args.sections,
                      runs=min(args.runs, 100), kpi_runs=min(args.kpi_runs, 1000),
                      cache=("cold", "warm") if args.cache == "both" else (args.cache,),
                      pages=args.pages.split(",") if args.pages else None,
                      workdir=Path(args.workdir) if args.workdir else None, keep=args.keep,
                      browser=not args.no_browser)
    try:
        result = run_bench(config=config, options=options, echo=_echo)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result["goals"] = goals(result)
    print(render(result), flush=True)
    if args.json_path:
        write_json(result, args.json_path)
        _echo(f"wrote every figure to {args.json_path}")
    failed = [j["job"] for j in result["etl"]["jobs"] if j["status"] != "success"]
    failed += result.get("marts", {}).get("new_day", {}).get("failed", [])
    return 1 if failed else 0


def _load_missing(args: argparse.Namespace, config: Config) -> int:
    print("error: `bizenv bench load` is not available in this version (bizenv/bench/load.py is not there yet)",
          file=sys.stderr)
    return 2


class _Unavailable(argparse.ArgumentParser):
    """`bench load` before bizenv/bench/load.py exists: takes any arguments and says so when run."""

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's own signature
        namespace = namespace or argparse.Namespace()
        namespace.func = _load_missing
        return namespace, []


def _add_load(bench: argparse.ArgumentParser) -> None:
    """`bench load`: its options come from bizenv.bench.load, imported only here, so the benchmark works without it."""
    try:
        module = importlib.import_module(LOAD_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != LOAD_MODULE:
            raise
        module = None
    tools = bench.add_subparsers(dest="bench_command", metavar="{load}",
                                 parser_class=argparse.ArgumentParser if module else _Unavailable)
    load = tools.add_parser("load", help="load test: concurrent dashboard users against a served app")
    if module is not None:
        module.configure_parser(load)
        load.set_defaults(func=module.main)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `bench` (and `bench load`) on the `bizenv` command."""
    bench = sub.add_parser("bench", help="measure ETL, marts, dashboard and bulletin on generated sources",
                           description="Generate the demo sources at a scale, load them, and print ETL rows/s "
                                       "beside the limit and to_sql, mart rebuild and refresh times, dashboard "
                                       "callback times beside DuckDB and pandas, and bulletin times.")
    bench.add_argument("--scale", type=_scale, default=DEFAULT_SCALE,
                       help=f"share of the real city's volume (1.0 = real; default {DEFAULT_SCALE})")
    bench.add_argument("--months", type=_positive_int, default=DEFAULT_MONTHS,
                       help=f"months of sources, the last one running up to yesterday (default {DEFAULT_MONTHS})")
    bench.add_argument("--database", metavar="URL",
                       help="warehouse to use and empty, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench "
                            "(created if missing; default: a SQLite file in the work folder)")
    bench.add_argument("--json", dest="json_path", metavar="FILE", help="also write every figure to this file")
    bench.add_argument("--sections", type=_sections, default=SECTIONS,
                       help=f"comma-separated subset of {','.join(SECTIONS)} (default: all; the load is always "
                            "timed, since every section needs it)")
    bench.add_argument("--runs", type=_positive_int, default=5,
                       help="timed requests per dashboard callback (default 5, at most 100)")
    bench.add_argument("--kpi-runs", type=_positive_int, default=30,
                       help="timed answers of the KPI, each way (default 30)")
    bench.add_argument("--cache", choices=("cold", "warm", "both"), default="both",
                       help="dashboard read cache: off, warm, or both (default)")
    bench.add_argument("--pages", help="only these dashboard page modules, comma-separated (e.g. overview,ranking)")
    bench.add_argument("--workdir", help="keep sources and warehouse in this folder (default: a temporary one, "
                                         "removed afterwards)")
    bench.add_argument("--keep", action="store_true", help="keep the temporary folder")
    bench.add_argument("--no-browser", action="store_true",
                       help="leave out the full page loads in headless Chromium (dashboard section)")
    bench.set_defaults(func=cmd_bench)
    _add_load(bench)
