"""Builders of the ratings and hotline page (好差评与12345): figures and tables from `models.details` frames.

Pure functions (no reads, no callbacks), plus the unrectified-reviews table source. Filter, help and trend helpers
come from the approvals builders so both detail pages speak the same language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from sqlalchemy.orm import Session

from bizenv.i18n import MESSAGES, format_number, format_period, name_in, t
from dashboard.components import kpi_card
from dashboard.figures import empty_figure, plain_figure
from dashboard.tables import Column
from dashboard.views.approvals import MET, MISSED, detail_layout, kpi_help, region_label
from models import details
from models.config import Config
from models.kpis import KpiCard
from models.scope import Viewer

UNRECTIFIED_TABLE = "service-unrectified"
UNRECTIFIED_LIMIT = 500
# Levels 5 → 1 on one diverging Okabe-Ito scale: blues for satisfied, grey for "basically", orange/vermillion bad.
LEVEL_COLOURS = {5: "#0072B2", 4: "#56B4E9", 3: "#BBBBBB", 2: "#E69F00", 1: "#D55E00"}
UNRECTIFIED_COLUMNS = [
    Column("rated_at", "service.col.rated_at", "datetime", width=140), Column("region", "service.col.region", width=90),
    Column("level", "service.col.level", width=110), Column("comment", "service.col.comment", width=260),
    Column("rectify_status", "service.col.rectify_status", width=120),
    Column("deadline", "service.col.deadline", "date", width=110),
    Column("working_days_since", "service.col.days_since", "int", width=120),
    Column("past_deadline", "service.col.past_deadline", width=90),
    Column("rating_id", "service.col.rating", width=150), Column("case_id", "service.col.case", width=150),
]


def rectify_deadline(config: Config) -> int:
    """The configured rectification deadline in working days (the rectified-on-time KPI's parameter)."""
    kpi = next((k for k in config.kpis if k.computation == "rating_rectified_on_time_rate"), None)
    return int(kpi.params.get("deadline_working_days", details.DEFAULT_RECTIFY_DEADLINE)) if kpi else \
        details.DEFAULT_RECTIFY_DEADLINE


# ---- cards ------------------------------------------------------------------------------------------------------


def pillar_cards(cards: list[KpiCard], config: Config, pillar: str, lang: str, *, id_prefix: str) -> list[dbc.Col]:
    """The headline cards of one pillar, each with its definition one tap away."""
    out = []
    for card in cards:
        kpi = config.kpi_by_code.get(card.kpi_code)
        if kpi is None or kpi.pillar != pillar:
            continue
        out.append(dbc.Col(html.Div([
            kpi_card(card, lang),
            html.Div(kpi_help(kpi, lang, id_prefix=id_prefix, period=card.period), className="detail-card-help"),
        ], className="detail-card-wrap h-100"), xs=12, sm=6, lg=4, xxl=3))
    return out


# ---- figures ------------------------------------------------------------------------------------------------------


def levels_figure(frame: pd.DataFrame, lang: str) -> dict:
    """Each month's ratings as 100% stacked bars by level, very satisfied at the bottom."""
    if frame.empty or int(frame["ratings"].sum()) == 0:
        return empty_figure(t("figure.no_data", lang))
    totals = frame.groupby("period")["ratings"].transform("sum")
    data = frame.assign(share=(frame["ratings"] / totals.where(totals > 0)).fillna(0.0)).sort_values("period")
    traces = []
    for level in (5, 4, 3, 2, 1):
        rows = data[data["level"] == level]
        name = t(f"service.level.{level}", lang)
        traces.append(dict(type="bar", x=[format_period(p, lang) for p in rows["period"]],
                           y=rows["share"].tolist(), name=name, marker=dict(color=LEVEL_COLOURS[level]),
                           customdata=rows["ratings"].tolist(),
                           hovertemplate=t("service.levels.hover", lang, level=name) + "<extra></extra>"))
    return plain_figure(traces, detail_layout(
        height=300, barmode="stack", bargap=0.2, legend=dict(traceorder="normal"),
        xaxis=dict(type="category", tickangle=0, nticks=7),
        yaxis=dict(tickformat=".0%", range=[0, 1], title=dict(text=t("service.levels.y", lang), font=dict(size=12)))))


def rectification_figure(frame: pd.DataFrame, config: Config, lang: str) -> dict:
    """Verified bad reviews per month (rectified part in blue) with the two rectification rates as lines."""
    if frame.empty or frame["verified_bad"].fillna(0).sum() == 0:
        return empty_figure(t("figure.no_data", lang))
    x = [format_period(p, lang) for p in frame["period"]]
    verified = frame["verified_bad"].fillna(0).astype(float)
    rectified = frame["rectified"].fillna(0).astype(float)
    traces = [
        dict(type="bar", x=x, y=rectified.tolist(), name=t("service.rect.rectified", lang), marker=dict(color=MET),
             hovertemplate="%{x}<br>" + t("service.rect.rectified", lang) + ": %{y:,}<extra></extra>"),
        dict(type="bar", x=x, y=(verified - rectified).tolist(),
             name=t("service.rect.verified", lang) + " − " + t("service.rect.rectified", lang),
             marker=dict(color="#d9dde3"), customdata=verified.tolist(),
             hovertemplate="%{x}<br>" + t("service.rect.verified", lang) + ": %{customdata:,}<extra></extra>"),
    ]
    names = {k.computation: k for k in config.kpis}
    for comp, col, colour, dash in (("rating_rectification_rate", "rectification_rate", "#1d4f91", "solid"),
                                    ("rating_rectified_on_time_rate", "on_time_rate", MISSED, "dot")):
        kpi = names.get(comp)
        if kpi is None:
            continue
        values = frame[col].astype(float)
        traces.append(dict(type="scatter", x=x, y=[None if pd.isna(v) else float(v) for v in values], yaxis="y2",
                           mode="lines+markers", name=name_in(kpi, lang),
                           line=dict(color=colour, width=2, dash=dash), marker=dict(size=7),
                           text=[format_number(v, "ratio", lang) for v in values],
                           hovertemplate="%{x}<br>" + name_in(kpi, lang) + ": %{text}<extra></extra>"))
    return plain_figure(traces, detail_layout(
        height=300, barmode="stack", bargap=0.3, hovermode="closest", margin=dict(l=8, r=8, t=12, b=8),
        xaxis=dict(type="category", tickangle=0, nticks=7),
        yaxis=dict(title=dict(text=t("service.rect.count_axis", lang), font=dict(size=12)), rangemode="tozero",
                   fixedrange=True, gridcolor="#e9ecef"),
        yaxis2=dict(title=dict(text=t("service.rect.rate_axis", lang), font=dict(size=12)), overlaying="y",
                    side="right", range=[0, 1.05], tickformat=".0%", fixedrange=True, showgrid=False)))


def categories_figure(frame: pd.DataFrame, lang: str) -> dict:
    """Business-environment tickets per category as horizontal bars, split on time / late, most tickets on top."""
    if frame.empty or int(frame["tickets"].sum()) == 0:
        return empty_figure(t("figure.no_data", lang))
    rows = frame.sort_values("tickets", ascending=True)
    labels = _category_labels(list(rows["category"]))
    late = rows["late"].astype(int)
    traces = [
        dict(type="bar", y=labels, x=(rows["tickets"].astype(int) - late).tolist(), orientation="h",
             name=t("service.cat.on_time", lang), marker=dict(color=MET),
             hovertemplate="%{y}<br>" + t("service.cat.on_time", lang) + ": %{x:,}<extra></extra>"),
        dict(type="bar", y=labels, x=late.tolist(), orientation="h", name=t("service.cat.late", lang),
             marker=dict(color=MISSED), text=[f"{int(n):,}" for n in rows["tickets"]], textposition="outside",
             cliponaxis=False, hovertemplate="%{y}<br>" + t("service.cat.late", lang) + ": %{x:,}<extra></extra>"),
    ]
    return plain_figure(traces, detail_layout(
        height=max(220, 40 * len(rows) + 110), barmode="stack", bargap=0.3, margin=dict(l=8, r=40, t=12, b=8),
        xaxis=dict(title=dict(text=t("service.cat.x", lang), font=dict(size=12)), rangemode="tozero"),
        yaxis=dict(showgrid=False, ticks="")))


def _category_labels(categories: list) -> list[str]:
    """"营商环境-审批服务" → "审批服务": a prefix every category shares says nothing on a chart of business tickets.

    The prefix is whatever all categories have before their first "-" (the source's own wording, not ours).
    """
    texts = [str(c) for c in categories]
    heads = {text.split("-", 1)[0] for text in texts if "-" in text}
    if len(heads) != 1 or not all("-" in text for text in texts):
        return texts
    return [text.split("-", 1)[1] for text in texts]


def categories_total(frame: pd.DataFrame, lang: str) -> str:
    return t("service.cat.total", lang, n=f"{int(frame['tickets'].sum()):,}") if not frame.empty else ""


# ---- table ------------------------------------------------------------------------------------------------------


def unrectified_display(frame: pd.DataFrame, config: Config, lang: str) -> pd.DataFrame:
    """Unrectified reviews with levels, statuses and yes/no in words; comments stay plain text."""
    out = frame.copy()
    out["region"] = [region_label(c, config, lang) for c in out["region_code"]]
    out["level"] = [t(f"service.level.{int(v)}", lang) if f"service.level.{v}" in MESSAGES else v
                    for v in out["level"]]
    out["rectify_status"] = [t(f"service.rectify.{s or 'none'}", lang) if f"service.rectify.{s or 'none'}" in MESSAGES
                             else s for s in out["rectify_status"]]
    out["past_deadline"] = [t("service.yes" if v else "service.no", lang) for v in out["past_deadline"]]
    out["deadline"] = [d.isoformat() if isinstance(d, dt.date) else d for d in out["deadline"]]
    return out


def unrectified_source(session: Session, viewer: Viewer, config: Config, filters: Mapping[str, Any]) -> pd.DataFrame:
    """The unrectified-reviews table's rows for the viewer (also what its downloads hold)."""
    frame = details.unrectified_bad_reviews(session=session, viewer=viewer, config=config,
                                            region_code=filters.get("region"), period=filters["end"],
                                            limit=UNRECTIFIED_LIMIT)
    lang = filters.get("lang") if filters.get("lang") in ("zh", "en") else "zh"
    return unrectified_display(frame, config, lang)


def unrectified_count(frame: pd.DataFrame, lang: str) -> str:
    late = int((frame["past_deadline"] == t("service.yes", lang)).sum()) if not frame.empty else 0
    return t("service.unrect.count", lang, n=f"{len(frame):,}", late=f"{late:,}")

