"""Builders of the approvals page (审批时效): filters from the URL, figures and tables from `models.details` frames.

Pure functions of frames and config (no reads, no callbacks), plus the table sources that `dashboard.tables` calls
on the server for the current viewer. The service page reuses the filter, help and trend helpers below.

Colour language (dashboard.figures.STATUS_COLOURS, Okabe-Ito): blue = target met / within the limit, orange =
near, vermillion = missed / beyond the limit, grey = no target; every colour also has a symbol and a word.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from sqlalchemy.orm import Session

from bizenv.i18n import (
    MISSING,
    format_datetime,
    format_number,
    format_period,
    format_value,
    name_in,
    t,
    target_operator,
    unit_label,
)
from dashboard.figures import FONT_FAMILY, STATUS_COLOURS, TEXT, empty_figure, plain_figure, trace
from dashboard.tables import Column
from dashboard.urlstate import restore
from models import details
from models.config import Config, KpiDefinition
from models.kpis import target_status
from models.scope import Viewer

GRAPH_CONFIG = {"displayModeBar": False, "displaylogo": False, "scrollZoom": False}
MET, NEAR, MISSED, NONE = (STATUS_COLOURS["met"], STATUS_COLOURS["near"], STATUS_COLOURS["missed"],
                           STATUS_COLOURS[None])
DIST_LIMIT = 30  # working days: longer cases share the last bar
OVERDUE_LIMIT = 500
ITEMS_LIMIT = 30
TREND_MONTHS = 12
TREND_KPIS = ("approval_online_rate", "approval_mean_visits")  # computations shown as trends, by config KPI
ORDERS = ("time", "compression")

OVERDUE_TABLE = "approvals-overdue"
ITEMS_TABLE = "approvals-items"
OVERDUE_COLUMNS = [
    Column("case_id", "approvals.col.case", width=150), Column("region", "approvals.col.region", width=90),
    Column("item_name", "approvals.col.item", width=220), Column("dept_name", "approvals.col.dept", width=150),
    Column("channel", "approvals.col.channel", width=90), Column("status", "approvals.col.status", width=110),
    Column("accepted_at", "approvals.col.accepted", "datetime", width=140),
    Column("due_date", "approvals.col.due", "date", width=110),
    Column("days_overdue", "approvals.col.days_overdue", "int", width=120),
]
ITEMS_COLUMNS = [
    Column("rank_by_time", "approvals.col.rank_time", "int", width=90),
    Column("rank_by_compression", "approvals.col.rank_compression", "int", width=90),
    Column("item_name", "approvals.col.item", width=220), Column("dept_name", "approvals.col.dept", width=150),
    Column("cases", "approvals.col.cases", "int", width=90),
    Column("mean_working_days", "approvals.col.mean_days", "float1", width=120),
    Column("max_working_days", "approvals.col.max_days", "int", width=110),
    Column("late_share", "approvals.col.late_share", "percent", width=110),
    Column("promised_days", "approvals.col.promised", "int", width=120),
    Column("statutory_days", "approvals.col.statutory", "int", width=120),
    Column("compression", "approvals.col.compression", "percent", width=100),
]


# ---- URL query state (written back by dashboard.urlstate.register_url_sync) ---------------------------------------


def restore_filters(query: Mapping[str, Any], *, periods_desc: Sequence[str], regions: Sequence[str],
                    depts: Sequence[str] = (), channels: Sequence[str] = ()) -> dict[str, Any]:
    """The page's filters from the URL query, each checked against what may be chosen; a bad value falls back."""
    end = restore(query.get("end"), allowed=periods_desc, default=periods_desc[0] if periods_desc else None)
    start = restore(query.get("start"), allowed=periods_desc, default=end)
    if start and end and start > end:
        start, end = end, start
    return {"region": restore(query.get("region"), allowed=regions, default=regions[0] if regions else None),
            "start": start, "end": end, "dept": restore(query.get("dept"), allowed=depts, default=None),
            "channel": restore(query.get("channel"), allowed=channels, default=None),
            "order": restore(query.get("order"), allowed=ORDERS, default="time")}


def ordered_range(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """(start, end) with start ≤ end; a missing start is the end month."""
    start = start or end
    if start and end and start > end:
        return end, start
    return start, end


# ---- options and texts ------------------------------------------------------------------------------------------


def region_codes(config: Config, viewer: Viewer) -> list[str]:
    """What the region filter offers: the city and every county, or only its own county for a county bureau."""
    if viewer.role == "county":
        return [viewer.region_code]
    return [config.city.code, *config.unit_codes()]


def region_label(code: str | None, config: Config, lang: str) -> str:
    if code in (None, "", config.city.code):
        return t("approvals.region.city", lang)
    unit = next((u for u in config.city.units if u.code == code), None)
    return name_in(unit, lang) if unit is not None else str(code)


def region_options(config: Config, viewer: Viewer, lang: str) -> list[dict[str, str]]:
    return [{"label": region_label(c, config, lang), "value": c} for c in region_codes(config, viewer)]


def month_options(periods: Sequence[str], lang: str) -> list[dict[str, str]]:
    return [{"label": format_period(p, lang), "value": p} for p in periods]


def dept_options(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Departments as named in the catalogue (data, shown as is in both languages)."""
    return [{"label": str(r.dept_name or r.dept_code), "value": str(r.dept_code)} for r in frame.itertuples()]


def channel_label(code: str | None, lang: str) -> str:
    key = f"approvals.channel.{code}"
    from bizenv.i18n import MESSAGES

    return t(key, lang) if key in MESSAGES else (code or MISSING)


def channel_options(channels: Sequence[str], lang: str) -> list[dict[str, str]]:
    return [{"label": channel_label(c, lang), "value": c} for c in channels]


def order_options(lang: str) -> list[dict[str, str]]:
    return [{"label": t("approvals.items.by_time", lang), "value": "time"},
            {"label": t("approvals.items.by_compression", lang), "value": "compression"}]


def range_text(start: str | None, end: str | None, lang: str) -> str:
    """"2026年9月" for one month, "2026年8月至2026年10月" for several."""
    start, end = ordered_range(start, end)
    if not end:
        return MISSING
    if start == end:
        return format_period(end, lang)
    return t("approvals.range", lang, start=format_period(start, lang), end=format_period(end, lang))


def asof_text(when: dt.datetime | None, lang: str) -> str:
    """"数据截至 …" from the last successful ETL run."""
    return t("approvals.asof", lang, when=format_datetime(when, lang)) if when else t("approvals.asof_unknown", lang)


def asof_day_text(period: str | None, today: dt.date, lang: str) -> str:
    """The day a month's open cases are judged at, written out."""
    if not period:
        return MISSING
    day = details.as_of_day(period, today)
    # The catalogue's date-and-time format, without the time of day.
    return format_datetime(dt.datetime.combine(day, dt.time()), lang).rsplit(" ", 1)[0]


def trend_periods(end: str, months: int = TREND_MONTHS) -> list[str]:
    """The `months` months ending at `end`, oldest first."""
    year, month = int(end[:4]), int(end[5:7])
    out = []
    for _ in range(months):
        out.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def trend_kpis(config: Config) -> list[KpiDefinition]:
    """The configured KPIs behind the online-rate and visits trends, in that order."""
    by_comp = {k.computation: k for k in config.kpis}
    return [by_comp[c] for c in TREND_KPIS if c in by_comp]


# ---- KPI help -----------------------------------------------------------------------------------------------------


def kpi_help(kpi: KpiDefinition, lang: str, *, id_prefix: str, period: str | None = None) -> html.Span:
    """An ⓘ button whose popover (click or tap) gives the KPI's definition from config, its direction, target and
    source. Texts are plain strings (never HTML)."""
    button_id = f"{id_prefix}-help-{kpi.code}-button"
    description = kpi.description_zh if lang == "zh" else kpi.description_en
    body = [html.Dt(t("approvals.help.definition", lang)), html.Dd(description or name_in(kpi, lang)),
            html.Dt(t("approvals.help.direction", lang)), html.Dd(t(f"approvals.help.{kpi.direction}", lang))]
    target = kpi.target_for(period) if period else None
    if target is not None:
        body += [html.Dt(t("approvals.help.target", lang, year=period[:4])),
                 html.Dd(f"{target_operator(kpi.direction)} {format_value(target, kpi.unit, lang)}")]
    body += [html.Dt(t("approvals.help.source", lang)), html.Dd(t(f"approvals.help.source.{kpi.pillar}", lang))]
    label = t("approvals.help.button", lang, kpi=name_in(kpi, lang))
    return html.Span([
        html.Button("ⓘ", id=button_id, type="button", className="detail-help-button", title=label,
                    **{"aria-label": label}),
        dbc.Popover([dbc.PopoverHeader(name_in(kpi, lang)), dbc.PopoverBody(html.Dl(body, className="mb-0"))],
                    target=button_id, trigger="legacy", placement="bottom", className="detail-help-popover"),
    ], className="detail-help")


def titled(text: str, help_: html.Span | None = None) -> list:
    """A card title with an optional help button after it."""
    return [html.Span(text), help_] if help_ is not None else [html.Span(text)]


# ---- figures ------------------------------------------------------------------------------------------------------


def detail_layout(*, height: int, show_legend: bool = True, **extra: object) -> dict:
    """The detail pages' chart layout as plain JSON (for `plain_figure`)."""
    out = dict(
        height=height, font=dict(family=FONT_FAMILY, size=13, color=TEXT), margin=dict(l=8, r=12, t=12, b=8),
        dragmode=False, paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel=dict(font=dict(family=FONT_FAMILY)), showlegend=show_legend,
        legend=dict(orientation="h", x=0, xanchor="left", y=1.0, yanchor="bottom", font=dict(size=12),
                    bgcolor="rgba(0,0,0,0)"),
        xaxis=dict(fixedrange=True, automargin=True),
        yaxis=dict(fixedrange=True, automargin=True, gridcolor="#e9ecef"),
    )
    for key, value in extra.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def distribution_figure(frame: pd.DataFrame, lang: str, *, limit: int = DIST_LIMIT) -> dict:
    """Cases per number of working days, stacked within / beyond the promised limit / without one."""
    if frame.empty or int(frame["cases"].sum()) == 0:
        return empty_figure(t("figure.no_data", lang))
    x = frame["working_days"].astype(int).tolist()
    labels = [t("approvals.dist.last", lang, n=d) if d >= limit else str(d) for d in x]
    bars = []
    for col, colour, key in (("within_limit", MET, "approvals.dist.within"),
                             ("beyond_limit", MISSED, "approvals.dist.beyond"),
                             ("no_limit", NONE, "approvals.dist.no_limit")):
        if int(frame[col].sum()) == 0:
            continue
        bars.append(trace("bar", x=labels, y=frame[col].astype(int).tolist(), name=t(key, lang),
                          marker=dict(color=colour),
                          hovertemplate=f"{t(key, lang)}<br>%{{x}} {unit_label('working_days', lang)}: %{{y:,}}"
                                        "<extra></extra>"))
    return plain_figure(bars, detail_layout(
        height=300, barmode="stack", bargap=0.15,
        xaxis=dict(type="category", title=dict(text=t("approvals.dist.x", lang), font=dict(size=12)), tickangle=0),
        yaxis=dict(title=dict(text=t("approvals.dist.y", lang), font=dict(size=12)), rangemode="tozero")))


def distribution_summary(frame: pd.DataFrame, lang: str) -> str:
    """"共 1,234 件，平均 4.3 个工作日，承诺时限内 97.5%"."""
    if frame.empty or int(frame["cases"].sum()) == 0:
        return ""
    cases = int(frame["cases"].sum())
    mean = float((frame["working_days"] * frame["cases"]).sum()) / cases
    judged = int(frame["within_limit"].sum() + frame["beyond_limit"].sum())
    within = int(frame["within_limit"].sum()) / judged if judged else None
    return t("approvals.dist.summary", lang, cases=f"{cases:,}", mean=format_value(mean, "working_days", lang),
             within=format_number(within, "ratio", lang))


def trend_figure(frame: pd.DataFrame, kpi: KpiDefinition, config: Config, lang: str, *,
                 band: tuple[str | None, str | None] = (None, None)) -> dict:
    """One KPI by month for one region: a line with points coloured by target status, the target as a dashed line,
    and the chosen months shaded."""
    rows = frame[frame["kpi_code"] == kpi.code].sort_values("period") if not frame.empty else frame
    if rows.empty or rows["value"].isna().all():
        return empty_figure(t("figure.no_data", lang))
    from bizenv.i18n import display_scale

    scale = display_scale(kpi.unit, lang)
    periods = rows["period"].tolist()
    x = [format_period(p, lang) for p in periods]
    values = [None if pd.isna(v) else float(v) for v in rows["value"]]
    status = [target_status(kpi=kpi, config=config, period=p, value=v) for p, v in zip(periods, values, strict=True)]
    traces = [trace("scatter", x=x, y=[None if v is None else v * scale for v in values], mode="lines",
                    line=dict(color="#5f6b7a", width=2), hoverinfo="skip", showlegend=False)]
    for key in ("met", "near", "missed", None):
        idx = [i for i, s in enumerate(status) if s == key]
        if not idx:
            continue
        traces.append(trace(
            "scatter", x=[x[i] for i in idx], y=[None if values[i] is None else values[i] * scale for i in idx],
            mode="markers",
            marker=dict(size=10, color=STATUS_COLOURS[key], symbol=_SYMBOLS[key], line=dict(color="#fff", width=1)),
            name=t(f"approvals.status.{key or 'none'}", lang),
            text=[format_value(values[i], kpi.unit, lang) for i in idx],
            hovertemplate=f"%{{x}}<br>{name_in(kpi, lang)}: %{{text}}<extra></extra>"))
    targets = [kpi.target_for(p) for p in periods]
    if any(v is not None for v in targets):
        traces.append(trace(
            "scatter", x=x, y=[None if v is None else v * scale for v in targets], mode="lines",
            line=dict(color=TEXT, width=1.2, dash="dash"), name=t("approvals.trend.target", lang),
            hovertemplate=f"%{{x}}<br>{t('approvals.trend.target', lang)}: %{{y:.1f}}<extra></extra>"))
    start, end = ordered_range(*band)
    shapes = []
    if start and end and start in periods and end in periods:  # what add_vrect draws: the chosen months shaded
        shapes.append(dict(type="rect", x0=format_period(start, lang), x1=format_period(end, lang), xref="x",
                           y0=0, y1=1, yref="y domain", fillcolor="#1d4f91", opacity=0.08, line=dict(width=0),
                           layer="below"))
    return plain_figure(traces, detail_layout(
        height=260, hovermode="closest", shapes=shapes,
        xaxis=dict(type="category", tickangle=0, nticks=6),
        yaxis=dict(ticksuffix="%" if kpi.unit == "ratio" else "",
                   title=dict(text="" if kpi.unit == "ratio" else unit_label(kpi.unit, lang), font=dict(size=12)))))


_SYMBOLS = {"met": "circle", "near": "diamond", "missed": "x", None: "circle-open"}


# ---- tables -------------------------------------------------------------------------------------------------------


def _filters_lang(filters: Mapping[str, Any]) -> str:
    return filters.get("lang") if filters.get("lang") in ("zh", "en") else "zh"


def overdue_display(frame: pd.DataFrame, config: Config, lang: str) -> pd.DataFrame:
    """Overdue cases with regions, channels and statuses in words and dates as text."""
    out = frame.copy()
    out["region"] = [region_label(c, config, lang) for c in out["region_code"]]
    out["channel"] = [channel_label(c, lang) for c in out["channel"]]
    out["status"] = [t(f"approvals.case_status.{s}", lang) if s in _CASE_STATUSES else s for s in out["status"]]
    out["due_date"] = [d.isoformat() if isinstance(d, dt.date) else d for d in out["due_date"]]
    return out


_CASE_STATUSES = {"in_progress", "suspended", "completed", "withdrawn"}


def overdue_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The overdue-cases table's rows for the viewer (also what its CSV/XLSX downloads hold)."""
    frame = details.overdue_open_cases(session=session, viewer=viewer, config=config,
                                       region_code=filters.get("region"), period=filters["end"],
                                       dept_code=filters.get("dept"), channel=filters.get("channel"),
                                       limit=OVERDUE_LIMIT)
    return overdue_display(frame, config, _filters_lang(filters))


def items_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The item-ranking table's rows for the viewer."""
    start, end = ordered_range(filters.get("start"), filters["end"])
    return details.slowest_items(session=session, viewer=viewer, config=config, region_code=filters.get("region"),
                                 period=end, start_period=start, dept_code=filters.get("dept"),
                                 channel=filters.get("channel"), order_by=filters.get("order") or "time",
                                 limit=ITEMS_LIMIT)


def muted(text: str) -> html.P:
    return html.P(text, className="small text-muted mb-2")
