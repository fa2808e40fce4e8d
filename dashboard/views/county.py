"""Builders of the county profile page (县区画像): pure functions from model frames to components and figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from bizenv.i18n import (
    MISSING,
    format_number,
    format_period,
    format_value,
    name_in,
    region_name,
    t,
    target_operator,
)
from dashboard.figures import BETTER, TEXT, WORSE, empty_figure, trace
from dashboard.views.ranking import _missing, kpi_info, page_figure, pillar_name, score_text
from models.config import PILLARS, Config, PolicyEvent
from models.ranking_reads import RankStory

CITY_COLOUR = "#555555"
STATUSES = ("met", "near", "missed", "none")


def region_options(config: Config, lang: str) -> list[dict[str, str]]:
    return [{"label": name_in(u, lang), "value": u.code} for u in config.city.units]


def unit_by_code(config: Config, code: str | None):  # noqa: ANN201 - models.config.Unit
    return next((u for u in config.city.units if u.code == code), None)


def status_badge(status: str | None, lang: str, *, title: str | None = None) -> html.Span:
    """✓ 达标 / ≈ 接近 / ✗ 未达标 / — 无目标: a symbol and a word on the colour, so colour is never alone."""
    key = status if status in STATUSES else "none"
    return html.Span(t(f"county.status.{key}", lang), className=f"rk-status rk-status-{key}", title=title)


def status_legend(lang: str) -> html.Div:
    return html.Div([html.Span(t("county.legend", lang), className="text-muted"),
                     *[status_badge(s, lang) for s in STATUSES]], className="rk-legend")


# ---- summary cards ----------------------------------------------------------------------------------------------


def summary_cards(*, story: RankStory, scores: dict, comparison: pd.DataFrame, best_name: str | None,
                  lang: str) -> list[dbc.Col]:
    """Rank (with interval and change), composite against the city and the best county, and targets met."""
    if story.rank is None:
        rank_body = [html.Div(t("county.card.unranked", lang), className="kpi-card-value")]
    else:
        rank_body = [html.Div(t("county.card.rank_value", lang, rank=story.rank, units=story.units),
                              className="kpi-card-value"),
                     html.Div(t("county.card.rank_interval", lang, low=story.rank_low or story.rank,
                                high=story.rank_high or story.rank), className="kpi-card-target text-muted")]
    composite = scores.get("county", {}).get("composite")
    city = scores.get("city", {}).get("composite")
    best = scores.get("best", {}).get("composite")
    counts = comparison["target_status"].value_counts() if len(comparison) else pd.Series(dtype=int)
    cards = [
        (t("county.card.rank", lang), rank_body),
        (t("county.card.composite", lang), [
            html.Div([html.Span(score_text(composite, lang), className="kpi-card-number"),
                      html.Span(" " + t("unit.score", lang), className="kpi-card-unit")], className="kpi-card-value"),
            html.Div(t("county.card.vs_city", lang, city=score_text(city, lang), best=best_name or MISSING,
                       best_score=score_text(best, lang)), className="kpi-card-target text-muted"),
        ]),
        (t("county.card.targets", lang), [
            html.Div(t("county.card.targets_value", lang, met=int(counts.get("met", 0)),
                       near=int(counts.get("near", 0)), missed=int(counts.get("missed", 0))),
                     className="kpi-card-change fw-semibold"),
            status_legend(lang),
        ]),
    ]
    return [dbc.Col(dbc.Card(dbc.CardBody([html.H3(title, className="kpi-card-name"), *body]),
                             className="kpi-card h-100"), xs=12, md=4) for title, body in cards]


# ---- radar ------------------------------------------------------------------------------------------------------


def radar_figure(scores: dict, *, county_name: str, best_name: str | None, lang: str) -> dict:
    """The four pillar scores of the county, the city and the best county on one radar."""
    if not scores.get("county"):
        return empty_figure(t("figure.no_data", lang))
    axes = [pillar_name(p, lang) for p in PILLARS]
    series = [("city", t("county.series.city", lang), CITY_COLOUR, "dot"),
              ("best", t("county.series.best", lang, county=best_name or MISSING), WORSE, "dash"),
              ("county", county_name, BETTER, "solid")]
    traces = []
    for key, label, colour, dash in series:
        values = scores.get(key)
        if not values:
            continue
        r = [values.get(p) if values.get(p) is not None else 0.0 for p in PILLARS]
        traces.append(trace("scatterpolar",
            r=[*r, r[0]], theta=[*axes, axes[0]], name=label, mode="lines+markers",
            line=dict(color=colour, dash=dash, width=3 if key == "county" else 2),
            fill="toself" if key == "county" else None, fillcolor="rgba(0,114,178,0.12)",
            hovertemplate=f"<b>{label}</b><br>%{{theta}}: %{{r:.1f}}<extra></extra>",
        ))
    return page_figure(traces, dict(
        margin=dict(l=40, r=40, t=30, b=70),
        polar=dict(radialaxis=dict(range=[0, 100], tickvals=[25, 50, 75, 100], angle=90, tickfont=dict(size=10)),
                   bgcolor="rgba(0,0,0,0)"),
        legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.08, yanchor="top")), height=400)


# ---- comparison table -------------------------------------------------------------------------------------------


def comparison_table(frame: pd.DataFrame, config: Config, *, period: str, lang: str) -> html.Div:
    """Every KPI by pillar: this county (with its target status), the city, and the best county with its name."""
    head = html.Thead(html.Tr([html.Th(t("county.col.kpi", lang)), html.Th(t("county.col.county", lang),
                                                                          className="rk-num"),
                               html.Th(t("county.col.target", lang)), html.Th(t("county.col.city", lang),
                                                                              className="rk-num"),
                               html.Th(t("county.col.best", lang), className="rk-num"),
                               html.Th(t("county.col.sample", lang), className="rk-num")]))
    body = []
    rows = {r["kpi_code"]: r for r in frame.to_dict("records")}
    for pillar in PILLARS:
        kpis = [k for k in config.kpis if k.pillar == pillar and k.code in rows]
        if not kpis:
            continue
        body.append(html.Tr(html.Th(pillar_name(pillar, lang), colSpan=6), className="cp-pillar-row"))
        for kpi in kpis:
            r = rows[kpi.code]
            target = r.get("target")
            title = None if _missing(target) else t("county.status.title", lang, op=target_operator(kpi.direction),
                                                    target=format_value(target, kpi.unit, lang))
            best = MISSING if _missing(r.get("best_value")) else t(
                "county.best_value", lang, value=format_value(r["best_value"], kpi.unit, lang),
                county=region_name(_best_names(r), lang))
            body.append(html.Tr([
                html.Td(kpi_info(kpi, lang, button_id=f"county-info-{kpi.code}-button", period=period)),
                html.Td(format_value(None if _missing(r.get("value")) else r["value"], kpi.unit, lang),
                        className="rk-num fw-semibold"),
                html.Td(status_badge(None if _missing(target) else r.get("target_status"), lang, title=title)),
                html.Td(format_value(None if _missing(r.get("city_value")) else r["city_value"], kpi.unit, lang),
                        className="rk-num"),
                html.Td(best, className="rk-num"),
                html.Td(f"{int(r.get('sample_size') or 0):,}", className="rk-num text-muted"),
            ]))
    return html.Div(html.Table([head, html.Tbody(body)], className="table table-sm cp-table mb-0"),
                    className="cp-table-scroll")


def _best_names(row: dict) -> dict:
    return {k: row.get(f"best_{k}") or MISSING for k in ("name_zh", "name_en", "short_zh", "short_en")}


# ---- trend ------------------------------------------------------------------------------------------------------


def _period_of(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


def trend_figure(frame: pd.DataFrame, kpi, *, county_name: str, events: Sequence[PolicyEvent],  # noqa: ANN001
                 lang: str) -> dict:
    """The county and the city over the months, the year's target as steps, and policy events as dated lines."""
    data = frame.dropna(subset=["value"])
    if data.empty:
        return empty_figure(t("figure.no_data", lang))
    periods = sorted(data["period"].unique())
    labels = [format_period(p, lang) for p in periods]
    from bizenv.i18n import display_scale  # local: only this figure needs the scale

    scale = display_scale(kpi.unit, lang)
    # The month's value per series in plain dicts: one pass, no pandas reindex per series.
    by_series: dict[str, dict[str, float]] = {"city": {}, "county": {}}
    for period, key, value in zip(data["period"], data["series"], data["value"], strict=True):
        by_series.setdefault(key, {})[period] = float(value)
    traces: list = []
    for key, label, colour, dash in (("city", t("county.series.city", lang), CITY_COLOUR, "dot"),
                                     ("county", county_name, BETTER, "solid")):
        values = [by_series[key].get(p) for p in periods]
        traces.append(trace("scatter",
            x=labels, y=[None if v is None else v * scale for v in values], name=label, mode="lines+markers",
            line=dict(color=colour, dash=dash, width=3 if key == "county" else 2),
            customdata=[format_value(v, kpi.unit, lang) if v is not None else MISSING for v in values],
            hovertemplate=f"<b>{label}</b> %{{x}}<br>%{{customdata}}<extra></extra>"))
    targets = [kpi.target_for(p) for p in periods]
    if any(v is not None for v in targets):
        traces.append(trace("scatter", x=labels, y=[None if v is None else v * scale for v in targets],
                                 name=t("county.series.target", lang), mode="lines",
                                 line=dict(color=WORSE, dash="dash", width=1.5, shape="hv"), hoverinfo="skip"))
    shapes, notes = [], []
    for event in events:
        period = _period_of(event.date)
        if period not in periods:
            continue
        label = event.label_zh if lang == "zh" else event.label_en
        at = periods.index(period)
        # What add_vline draws: a dotted line across the plot height at the month's category.
        shapes.append(dict(type="line", x0=at, x1=at, xref="x", y0=0, y1=1, yref="y domain",
                           line=dict(color=TEXT, width=1, dash="dot")))
        notes.append(dict(x=labels[at], y=1, yref="paper", yanchor="bottom", showarrow=False,
                          text=f"{event.date.isoformat()} {label}", font=dict(size=11, color=TEXT),
                          bgcolor="rgba(255,255,255,0.85)"))
    return page_figure(traces, dict(
        shapes=shapes, annotations=notes, legend=dict(orientation="h", x=0, y=-0.3, yanchor="top"),
        margin=dict(l=8, r=16, t=36, b=8), hovermode="x unified",
        xaxis=dict(type="category", fixedrange=True, showgrid=False, tickangle=-40 if len(labels) > 8 else 0),
        yaxis=dict(fixedrange=True, gridcolor="#e9ecef", ticksuffix="%" if kpi.unit == "ratio" else "",
                   title=dict(text="" if kpi.unit == "ratio" else t(f"unit.{kpi.unit}", lang), font=dict(size=12))),
    ), height=360)


def events_note(events: Sequence[PolicyEvent], periods: Sequence[str], lang: str) -> str:
    """The events in the shown months in words, or that none falls in them (naming those configured)."""
    listed = [f"{e.date.isoformat()} {e.label_zh if lang == 'zh' else e.label_en}" for e in events]
    shown = [text for e, text in zip(events, listed, strict=True) if _period_of(e.date) in set(periods)]
    if shown:
        return t("county.trend.events", lang, events=t("county.sep", lang).join(shown))
    return t("county.trend.no_events", lang, events=t("county.sep", lang).join(listed)) if listed else ""


# ---- why the rank moved -----------------------------------------------------------------------------------------


def why_panel(story: RankStory, config: Config, lang: str) -> list:
    """The rank change in one sentence, then the indicators that gained and lost the most composite points."""
    if story.rank is None:
        return [html.P(t("county.card.unranked", lang), className="text-muted mb-0")]
    now, before = score_text(story.composite, lang), score_text(story.previous_composite, lang)
    change = story.rank_change
    if change is None:
        summary = t("county.why.summary_new", lang, rank=story.rank)
    elif change > 0:
        summary = t("county.why.summary_up", lang, rank=story.rank, n=change, now=now, before=before)
    elif change < 0:
        summary = t("county.why.summary_down", lang, rank=story.rank, n=-change, now=now, before=before)
    else:
        summary = t("county.why.summary_same", lang, rank=story.rank, now=now, before=before)

    def items(changes: Sequence, css: str) -> html.Ul | html.P:
        if not changes:
            return html.P(t("county.why.none", lang), className="text-muted small mb-0")
        out = []
        for c in changes:
            kpi = config.kpi_by_code.get(c.kpi_code)
            if kpi is None:
                continue
            value_now, value_before = story.values.get(c.kpi_code, (None, None))
            out.append(html.Li([
                html.Span(format_number(c.delta, "score", lang, signed=True), className=css),
                html.Span(" " + name_in(kpi, lang)),
                html.Span(t("county.why.values", lang, before=format_value(value_before, kpi.unit, lang),
                            now=format_value(value_now, kpi.unit, lang)), className="text-muted small"),
            ]))
        return html.Ul(out, className="cp-why-list")

    return [html.P(summary, className="fw-semibold"),
            dbc.Row([
                dbc.Col([html.H3(t("county.why.gains", lang), className="h6 cp-points-up"),
                         items(story.explanation.gains, "cp-points-up")], xs=12, md=6),
                dbc.Col([html.H3(t("county.why.losses", lang), className="h6 cp-points-down"),
                         items(story.explanation.losses, "cp-points-down")], xs=12, md=6),
            ], className="g-3"),
            html.P(t("county.why.note", lang), className="small text-muted mb-0 mt-2")]
