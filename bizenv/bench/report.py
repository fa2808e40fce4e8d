"""The printed report of a benchmark run (sections ETL, Marts, Dashboard, Bulletin, Goals) and its JSON file."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# (key, what, figure path, the least it should be)
GOALS = (
    ("etl_vs_limit", "ETL rows/s ≥ 0.5× the limit (all jobs)", ("etl", "total", "ratio_limit"), 0.5),
    ("etl_vs_to_sql", "ETL rows/s ≥ 3× to_sql (all jobs)", ("etl", "total", "ratio_naive"), 3.0),
    ("mart_vs_duckdb", "dashboard's mart answer ≥ 10× faster than DuckDB live", ("dashboard", "kpi", "ratio_duckdb"),
     10.0),
)


def _get(result: dict[str, Any], path: Sequence[str]) -> Any:
    node: Any = result
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with its measured ratio and whether it was met (None when its section did not run)."""
    out = []
    for key, what, path, least in GOALS:
        value = _get(result, path)
        out.append({"goal": key, "what": what, "value": value, "least": least,
                    "met": None if value is None else value >= least})
    return out


def _n(value: float | int | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def _x(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}×" if value >= 0.1 else f"{value:.2g}×"


def _mb(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def grid(head: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1, last_left: bool = False) -> str:
    """A plain text table: the first `left` columns (and the last, if `last_left`) aligned left, the rest right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left or (last_left and i == len(widths) - 1) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _etl(etl: dict[str, Any]) -> list[str]:
    compared = "limit" in etl["total"]
    head = ["job", "table", "rows", "read", "seconds", "rows/s", "peak RSS MB", "+producer MB"]
    if compared:
        head += ["limit rows/s", "to_sql rows/s", "ETL/limit", "ETL/to_sql", "limit+idx rows/s", "ETL/limit+idx"]
    rows = []
    for entry in [*etl["jobs"], {"job": "all jobs", "table": "", **etl["total"]}]:
        row = [entry["job"], entry["table"], _n(entry["rows"]), _n(entry["rows_read"]), _s(entry["seconds"]),
               _n(entry["rows_per_s"]), _mb(entry["peak_rss_mb"]), _mb(entry.get("children_peak_rss_mb"))]
        if compared:
            row += [_n(entry["limit"]["rows_per_s"]), _n(entry["naive"]["rows_per_s"]), _x(entry["ratio_limit"]),
                    _x(entry["ratio_naive"]), _n(entry["indexed"]["rows_per_s"]), _x(entry["ratio_indexed"])]
        rows.append(row)
    out = ["ETL — a full load of each job, end to end (source → refreshed marts), each job in its own process",
           grid(head, rows, left=2)]
    if compared:
        method = etl["total"]["limit"]["method"]
        out.append(f"limit: {method} of the same rows into an empty table with the same columns and primary key; "
                   "limit+idx: the same, into a table that also has the loaded table's indexes (what any loader "
                   "of that table pays); "
                   "to_sql: pandas DataFrame.to_sql (default method) of the same rows into the same kind of table; "
                   "the rows (at most the first 1,000,000 of each table) are read back from the loaded table first, "
                   "untimed.")
    out.append("rows: rows in the table after the load; read: source rows read (rejected and duplicate rows "
               "included); peak RSS: the loading process's own VmHWM (the approval API runs in another process); "
               "+producer: the largest peak among the job's child processes (the ETL producer, forked from the job, "
               "counting the pages it shares with it too; workbook readers), so the two columns' sum bounds the job "
               "from above.")
    failed = [f"{j['job']}: {j['error']}" for j in etl["jobs"] if j["status"] != "success"]
    out += [f"FAILED {f}" for f in failed]
    return out


def _marts(marts: dict[str, Any]) -> list[str]:
    rb, day, rf = marts["rebuild"], marts["new_day"], marts["refresh"]
    tables = ", ".join(f"{t} {v['regions']}×{len(v['periods'])}" for t, v in rf["tables"].items())
    rows = [
        ["kpi rebuild (rebuild_kpi_marts)", _n(rb["rows"]), _s(rb["seconds"]), _mb(rb["peak_rss_mb"]),
         "every mart row and the county ranking, one transaction"],
        [f"one new day ({day['day']}) through the ETL", _n(day["rows_loaded"]), _s(day["seconds_etl"]),
         _mb(day["peak_rss_mb"]),
         f"{_n(day['rows_read'])} source rows read, every job, each refreshing its marts"],
        ["incremental refresh (refresh_dirty_marts)", _n(rf["rows"]), _s(rf["seconds"]), _mb(rf["peak_rss_mb"]),
         f"{rf['pairs']} (region, month) pairs: {rf['regions']} regions × {', '.join(rf['periods'])} ({tables})"],
    ]
    out = ["Marts", grid(["what", "rows", "seconds", "peak RSS MB", "notes"], rows, last_left=True)]
    if day["failed"]:
        out.append(f"FAILED new-day jobs: {', '.join(day['failed'])}")
    return out


def _dashboard(dash: dict[str, Any]) -> list[str]:
    keyed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in dash["callbacks"]:
        keyed.setdefault((row["page"], row["callback"]), {})[row["cache"]] = row

    def cell(row: dict[str, Any] | None) -> str:
        if row is None:
            return "—"
        if "median_ms" not in row:
            return row["note"] or "—"
        return f"{_ms(row['median_ms'])} / {_ms(row['p95_ms'])}"

    states = dash["cache"]
    rows = [[page, name, *(cell(by.get(s)) for s in states)] for (page, name), by in keyed.items()]
    meaning = {"cold": "cold: read cache off", "warm": "warm: after one untimed request"}
    out = [f"Dashboard — each page's layout and callbacks through the Flask app, {dash['runs']} timed requests each "
           f"({'; '.join(meaning[s] for s in states)})",
           grid(["page", "callback", *(f"{s} median / p95 ms" for s in states)], rows, left=2)]
    kpi = dash.get("kpi")
    if kpi:
        ways = [["marts (the dashboard's read)", kpi["mart"]], ["DuckDB live scan", kpi["duckdb"]],
                ["pandas live", kpi["pandas"]]]
        rows = [[name, _ms(w["median_ms"]), _ms(w["p95_ms"]),
                 "1.00×" if i == 0 else _x(kpi[f"ratio_{('duckdb', 'pandas')[i - 1]}"]), w["method"]]
                for i, (name, w) in enumerate(ways)]
        agree = "yes" if kpi["agree_duckdb"] and kpi["agree_pandas"] else "NO"
        out += ["", f"One KPI three ways — {' + '.join(kpi['kpis'])} for the city and each county, {kpi['month']} "
                f"({kpi['regions']} regions; {kpi['fact_rows']:,} rows in {'fact_approval_case'}); "
                f"{kpi['mart']['runs']} timed answers each; the same answer all three ways: {agree}",
                grid(["way", "median ms", "p95 ms", "÷ marts", "how"], rows, last_left=True)]
    return out + _browser(dash.get("browser"))


def _browser(loads: dict[str, Any] | None) -> list[str]:
    if not loads:
        return []
    if "skipped" in loads:
        return ["", f"Full page loads in Chromium: skipped: {loads['skipped']}"]
    rows = [[path, _ms(p["median_ms"]), _ms(p["max_ms"])] for path, p in loads["pages"].items()]
    return ["", f"Full page loads in headless Chromium at {loads['width']} px — navigation start to the last "
                f"callback answered, {loads['runs']} loads each after one untimed (scripts cached)",
            grid(["page", "median ms", "max ms"], rows, left=1)]


def _bulletin(b: dict[str, Any]) -> list[str]:
    if "skipped" in b:
        return ["Bulletin", f"skipped: {b['skipped']}"]
    c, p = b["county"], b["pack"]
    rows = [[f"one county's PDF ({c['name']} {c['region']}, {b['period']})", _s(c["seconds"]), str(c["files"]),
             _n(c["bytes"] / 1024)],
            [f"full pack ({p['editions']} editions × {', '.join(p['formats'])})", _s(p["seconds"]), str(p["files"]),
             _n(p["bytes"] / 1024)]]
    return ["Bulletin — built and archived as `bizenv report` does (charts drawn in headless Chromium)",
            grid(["what", "seconds", "files", "KB"], rows)]


def render(result: dict[str, Any]) -> str:
    """The whole report as text."""
    p, m, g = result["params"], result["machine"], result["generate"]
    load = "" if m["load_average"] is None else f", load average {m['load_average']:.2f} at the start"
    out = [f"bizenv bench — scale {p['scale']}, {p['start_month']} … {p['end_month']} (new day {p['new_day']}), "
           f"{m['database']} {m['database_version']}, Python {m['python']}, {m['cores']} cores{load}",
           f"sources generated in {g['seconds']:.1f}s: {g['cases']:,} approval cases, {g['ratings']:,} ratings, "
           f"{g['hotline_tickets']:,} hotline tickets, {g['county_workbooks']} county workbooks", ""]
    out += _etl(result["etl"]) + [""]
    if "marts" in result:
        out += _marts(result["marts"]) + [""]
    if "dashboard" in result:
        out += _dashboard(result["dashboard"]) + [""]
    if "bulletin" in result:
        out += _bulletin(result["bulletin"]) + [""]
    rows = [[g["what"], _x(g["value"]), f"{g['least']:g}×",
             "—" if g["met"] is None else ("met" if g["met"] else "NOT met")] for g in result["goals"]]
    out += ["Goals", grid(["goal", "measured", "at least", ""], rows),
            "", f"whole run {result['seconds']:.0f}s"]
    return "\n".join(out)


def write_json(result: dict[str, Any], path: str | Path) -> None:
    """Every figure, as measured (no rounding)."""
    Path(path).write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
