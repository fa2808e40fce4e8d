"""Builders of the county ranking page (县区排名): pure functions from model frames to components and figures.

Colour language, shared with the overview: Okabe-Ito blue for better / target met, orange for worse / missed,
always with a word or symbol beside it, so no meaning rests on colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlencode

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from bizenv.i18n import MISSING, format_datetime, format_number, format_period, format_value, name_in, region_name, t
from dashboard.figures import BASE_LAYOUT, BETTER, NO_DATA, TEXT, WORSE, empty_figure, styled_figure, trace
from models.config import PILLARS, Config, KpiDefinition

GRAPH_CONFIG = {"displayModeBar": False, "displaylogo": False, "scrollZoom": False}
NEUTRAL = "#6c757d"
# Okabe-Ito hues for lines that need telling apart (the bump chart labels every line too).
LINE_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#999999"]
LINE_DASHES = ["solid", "dash", "dot"]
# Score 0 → orange, 50 → near white, 100 → blue: one diverging scale, safe for colour-blind readers.
SCORE_SCALE = [[0.0, WORSE], [0.5, "#F7F7F7"], [1.0, BETTER]]
Z95, Z998 = 1.959964, 3.090232


# ---- URL query state --------------------------------------------------------------------------------------------


def parse_search(search: str | None) -> dict[str, str]:
    """`?month=2026-09&kpi=x` → {'month': '2026-09', 'kpi': 'x'} (first value of each key)."""
    parsed = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    return {k: v[0] for k, v in parsed.items() if v}


def build_search(values: Mapping[str, str | None]) -> str:
    """The query string of the non-empty values, in the given order ('' when there are none)."""
    kept = {k: v for k, v in values.items() if v}
    return f"?{urlencode(kept)}" if kept else ""


def pick(value: str | None, allowed: Sequence[str], default: str | None) -> str | None:
    """A query value if it is one of the allowed ones, else the default (a stale link never breaks the page)."""
    return value if value in allowed else default


# ---- shared pieces ----------------------------------------------------------------------------------------------


def month_options(periods: Sequence[str], lang: str) -> list[dict[str, str]]:
    return [{"label": format_period(p, lang), "value": p} for p in periods]


def kpi_options(kpis: Sequence[KpiDefinition], lang: str) -> list[dict[str, str]]:
    return [{"label": name_in(k, lang), "value": k.code} for k in kpis]


def pillar_name(pillar: str, lang: str) -> str:
    return t(f"ranking.pillar.{pillar}", lang)


def asof_text(when: object, lang: str) -> str:
    """"数据截至 …" from the last successful ETL run."""
    return t("ranking.asof", lang, when=format_datetime(when, lang)) if when else t("ranking.asof_unknown", lang)


def kpi_info(kpi: KpiDefinition, lang: str, *, button_id: str, period: str | None = None) -> html.Span:
    """The KPI's name with an ⓘ button whose popover (click or tap) gives its definition, direction and source."""
    body = [html.P(kpi.description_zh if lang == "zh" else kpi.description_en, className="mb-1"),
            html.P(t(f"ranking.info.direction.{kpi.direction}", lang), className="mb-1 small text-muted"),
            html.P(t("ranking.info.source", lang, source=t(f"ranking.source.{kpi.pillar}", lang)),
                   className="mb-0 small text-muted")]
    bounds = kpi.bounds_for(period) if period and kpi.index else None
    if bounds is not None:
        body.insert(2, html.P(t("ranking.info.bounds", lang, best=format_value(bounds.best, kpi.unit, lang),
                                worst=format_value(bounds.worst, kpi.unit, lang)), className="mb-1 small text-muted"))
    return html.Span([
        html.Span(name_in(kpi, lang)),
        html.Button("ⓘ", id=button_id, type="button", className="rk-info-button",
                    **{"aria-label": t("ranking.info.label", lang, kpi=name_in(kpi, lang))}),
        dbc.Popover([dbc.PopoverHeader(name_in(kpi, lang)), dbc.PopoverBody(body)], target=button_id,
                    trigger="legacy", placement="bottom"),
    ], className="rk-kpi-name")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def score_text(value: object, lang: str) -> str:
    return MISSING if _missing(value) else format_number(float(value), "score", lang)


# The shared look of this page's charts (a shorter top margin than the overview's).
PAGE_LAYOUT: dict = {**BASE_LAYOUT, "margin": dict(l=8, r=16, t=16, b=8)}


def page_figure(data: Sequence = (), layout: Mapping | None = None, *, height: int) -> dict:
    """A chart of the ranking and profile pages, as plain JSON (see dashboard.figures.styled_figure)."""
    return styled_figure(data, layout, height=height, base=PAGE_LAYOUT)


# ---- the ranking table ------------------------------------------------------------------------------------------


def profile_href(region_code: str, period: str | None) -> str:
    return "/county" + build_search({"region": region_code, "month": period})


def change_cell(change: object, lang: str) -> html.Td:
    """▲2 / ▼1 / ＝ / — with the direction in words for screen readers and hover."""
    if _missing(change):
        text, title, tone = t("ranking.change.new", lang), t("ranking.change.new_title", lang), "kpi-neutral"
    elif int(change) > 0:
        n = int(change)
        text, title, tone = t("ranking.change.up", lang, n=n), t("ranking.change.up_title", lang, n=n), "kpi-better"
    elif int(change) < 0:
        n = -int(change)
        text, title, tone = (t("ranking.change.down", lang, n=n), t("ranking.change.down_title", lang, n=n),
                             "kpi-worse")
    else:
        text, title, tone = t("ranking.change.same", lang), t("ranking.change.same_title", lang), "kpi-neutral"
    return html.Td(html.Span(text, title=title, **{"aria-label": title}), className=f"rk-change {tone}")


def interval_cell(rank: object, low: object, high: object, units: int, lang: str) -> html.Td:
    """The rank as a dot on a 1…N track, its interval as whiskers, and the range in numbers beside it."""
    if _missing(rank):
        return html.Td(t("ranking.unranked", lang), className="rk-interval text-muted")
    rank = int(rank)
    low = rank if _missing(low) else int(low)
    high = rank if _missing(high) else int(high)
    span = max(units - 1, 1)

    def pos(r: int) -> str:
        return f"{100.0 * (r - 1) / span:.2f}%"

    title = t("ranking.interval.title", lang, rank=rank, low=low, high=high)
    track = html.Div([
        html.Div(className="rk-whisker-line", style={"left": pos(low), "width": f"{100.0 * (high - low) / span:.2f}%"}),
        html.Div(className="rk-whisker-cap", style={"left": pos(low)}),
        html.Div(className="rk-whisker-cap", style={"left": pos(high)}),
        html.Div(className="rk-whisker-dot", style={"left": pos(rank)}),
    ], className="rk-whisker", role="img", title=title, **{"aria-label": title})
    return html.Td(html.Div([track, html.Span(t("ranking.interval.range", lang, low=low, high=high),
                                              className="rk-whisker-text")], className="rk-whisker-wrap"),
                   className="rk-interval")


def _listed(value: object) -> str | None:
    return None if _missing(value) else str(value)


def ranking_table(frame: pd.DataFrame, *, period: str, lang: str) -> html.Div:
    """Rank, county (a link to its profile), composite, pillar scores, change and rank interval, best first."""
    units = max(len(frame), 1)
    head = html.Thead(html.Tr([
        html.Th(t("ranking.col.rank", lang), className="rk-num"),
        html.Th(t("ranking.col.county", lang), className="rk-county"),
        html.Th(t("ranking.col.composite", lang), className="rk-num"),
        *[html.Th(pillar_name(p, lang), className="rk-num rk-pillar") for p in PILLARS],
        html.Th(t("ranking.col.change", lang), className="rk-num"),
        html.Th(t("ranking.col.interval", lang), className="rk-interval-head"),
    ]))
    rows = []
    for row in frame.to_dict("records"):
        name = region_name(row, lang)
        listed = _listed(row.get("listed"))
        badge = [html.Span(t(f"ranking.lists.{listed}", lang), className=f"rk-badge rk-badge-{listed}")] \
            if listed else []
        group = row.get("tie_group")
        shade = "rk-tie-odd" if _missing(group) or int(group) % 2 else "rk-tie-even"
        rows.append(html.Tr([
            html.Td(MISSING if _missing(row["rank"]) else str(int(row["rank"])), className="rk-num rk-rank"),
            html.Td([dcc.Link(name, href=profile_href(row["region_code"], period), className="rk-county-link",
                              title=t("ranking.open_profile", lang, county=region_name(row, lang, short=False))),
                     *badge], className="rk-county"),
            html.Td(score_text(row["composite"], lang), className="rk-num rk-composite"),
            *[html.Td(score_text(row[f"score_{p}"], lang), className="rk-num") for p in PILLARS],
            change_cell(row.get("rank_change"), lang),
            interval_cell(row["rank"], row.get("rank_low"), row.get("rank_high"), units, lang),
        ], className=shade))
    return html.Div(html.Table([head, html.Tbody(rows)], className="table table-sm rk-table mb-0"),
                    className="rk-table-scroll")


def ranking_export(frame: pd.DataFrame) -> pd.DataFrame:
    """The ranking as the download holds it: codes, both names, scores, rank, interval, change and list."""
    out = frame.copy()
    out["listed"] = [_listed(v) or "" for v in out.get("listed", pd.Series([None] * len(out)))]
    return out


# ---- red and black lists ----------------------------------------------------------------------------------------


def red_black_lists(frame: pd.DataFrame, *, period: str, lang: str, size: int) -> list:
    """Two cards, 红榜 and 黑榜, each county with its rank and composite, and the rule in words below."""
    cards = []
    for kind, edge in (("red", "kpi-better-edge"), ("black", "kpi-worse-edge")):
        rows = [r for r in frame.to_dict("records") if _listed(r.get("listed")) == kind]
        if kind == "black":
            rows = rows[::-1]  # the worst first
        items = [html.Li([
            dcc.Link(region_name(r, lang), href=profile_href(r["region_code"], period), className="rk-county-link"),
            html.Span(t("ranking.lists.item", lang, rank=int(r["rank"]), score=score_text(r["composite"], lang)),
                      className="text-muted small ms-2"),
        ], className="rk-list-item") for r in rows]
        body = html.Ol(items, className="rk-list mb-0") if items else html.P(t("ranking.lists.none", lang),
                                                                             className="text-muted mb-0")
        cards.append(dbc.Col(dbc.Card([
            dbc.CardHeader(html.H3(t(f"ranking.lists.{kind}", lang), className=f"h6 mb-0 rk-list-title-{kind}")),
            dbc.CardBody(body, className="py-2"),
        ], className=f"kpi-card h-100 {edge}"), xs=12, md=6))
    return [dbc.Row(cards, className="g-3"),
            html.P(t("ranking.lists.rule", lang, n=size), className="small text-muted mt-2 mb-0"),
            html.P(t("ranking.lists.caution", lang), className="small text-muted mb-0")]


# ---- heatmap ----------------------------------------------------------------------------------------------------


def heatmap_figure(scores: pd.DataFrame, ranking: pd.DataFrame, config: Config, lang: str) -> dict:
    """Counties (ranking order, best at top) × indicators (config order, grouped by pillar), coloured by score."""
    kpis = config.index_kpis()
    if scores.empty or ranking.empty:
        return empty_figure(t("figure.no_data", lang))
    order = list(ranking["region_code"])
    names = {r["region_code"]: region_name(r, lang) for r in ranking.to_dict("records")}
    # One dict lookup per cell (a pandas .loc per cell cost ~0.3 ms each, 300+ cells).
    grid = {(r["region_code"], r["kpi_code"]): r for r in scores.to_dict("records")}
    labels = {k.code: (name_in(k, lang), k.unit) for k in kpis}
    words = {key: t(f"ranking.heatmap.{key}", lang) for key in ("hover_value", "hover_score", "hover_points")}
    flags: dict[str, str] = {}
    z, text, hover = [], [], []
    for code in order:
        zr, tr, hr = [], [], []
        for kpi in kpis:
            row = grid.get((code, kpi.code))
            score = None if row is None or _missing(row["score"]) else float(row["score"])
            flag = None if row is None or _missing(row["flag"]) else str(row["flag"])
            zr.append(np.nan if score is None else score)
            tr.append("" if score is None else f"{score:.0f}{'*' if flag == 'shrunk' else ''}")
            value = None if row is None or _missing(row["value"]) else float(row["value"])
            points = None if row is None or _missing(row["points"]) else float(row["points"])
            name, unit = labels[kpi.code]
            parts = [f"<b>{names[code]}</b> · {name}",
                     f"{words['hover_value']}: {format_value(value, unit, lang)}",
                     f"{words['hover_score']}: {score_text(score, lang)}",
                     f"{words['hover_points']}: {score_text(points, lang)}"]
            if flag:
                if flag not in flags:
                    flags[flag] = t(f"ranking.flag.{flag}", lang)
                parts.append(flags[flag])
            hr.append("<br>".join(parts))
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    x = [name_in(k, lang) for k in kpis]
    heatmap = trace("heatmap",
        z=z, x=x, y=[names[c] for c in order], text=text, texttemplate="%{text}", hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>", colorscale=SCORE_SCALE, zmin=0, zmax=100, xgap=2, ygap=2,
        textfont=dict(size=12), colorbar=dict(title=dict(text=t("ranking.heatmap.colorbar", lang), side="top"),
                                              thickness=12, len=0.6, tickvals=[0, 50, 100]),
    )
    return page_figure([heatmap], dict(
        xaxis=dict(side="top", tickangle=-40, fixedrange=True, showgrid=False, automargin=True),
        yaxis=dict(autorange="reversed", fixedrange=True, showgrid=False, automargin=True),
    ), height=34 * len(order) + 190)


# ---- bump chart -------------------------------------------------------------------------------------------------


def bump_figure(history: pd.DataFrame, lang: str) -> dict:
    """Each county's rank per month (1st at top); the line ends with the county's name and latest rank."""
    frame = history.dropna(subset=["rank"])
    if frame.empty:
        return empty_figure(t("figure.no_data", lang))
    periods = sorted(frame["period"].unique())
    labels = {p: format_period(p, lang) for p in periods}
    # Plain rows grouped once (a pandas filter per county cost more than drawing), oldest month first.
    rows_of: dict[str, list[dict]] = {}
    for row in sorted(frame.to_dict("records"), key=lambda r: r["period"]):
        rows_of.setdefault(row["region_code"], []).append(row)
    latest = sorted((r[-1] for r in rows_of.values() if r[-1]["period"] == periods[-1]), key=lambda r: r["rank"])
    order = [r["region_code"] for r in latest]
    order += [c for c in dict.fromkeys(frame["region_code"]) if c not in set(order)]
    units = int(frame["rank"].max())
    hover_rank = t("ranking.bump.hover", lang, rank="%{y}")
    traces, notes = [], []
    for i, code in enumerate(order):
        rows = rows_of[code]
        name = region_name(rows[0], lang)
        last_rank = int(rows[-1]["rank"])
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        traces.append(trace("scatter",
            x=[labels[r["period"]] for r in rows], y=[int(r["rank"]) for r in rows], mode="lines+markers",
            name=name, line=dict(color=colour, width=2.5,
                                 dash=LINE_DASHES[(i // len(LINE_COLOURS)) % len(LINE_DASHES)]),
            marker=dict(size=7), showlegend=False,
            hovertemplate=f"<b>{name}</b> %{{x}}<br>{hover_rank}<extra></extra>",
        ))
        notes.append(dict(x=labels[rows[-1]["period"]], y=last_rank, text=f"{last_rank} {name}", xanchor="left",
                          xshift=8, showarrow=False, font=dict(size=12, color=LINE_COLOURS[i % 8])))
    return page_figure(traces, dict(
        annotations=notes, margin=dict(l=8, r=96, t=16, b=8),
        yaxis=dict(autorange=False, range=[units + 0.5, 0.5], tickvals=list(range(1, units + 1)),
                   title=dict(text=t("ranking.bump.axis", lang), font=dict(size=12)), fixedrange=True,
                   gridcolor="#e9ecef", zeroline=False),
        xaxis=dict(type="category", categoryorder="array", categoryarray=[labels[p] for p in periods],
                   fixedrange=True, showgrid=False, tickangle=-40 if len(periods) > 6 else 0),
    ), height=30 * units + 150)


# ---- funnel plot ------------------------------------------------------------------------------------------------


def funnel_limits(rate: float, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Binomial control limits around the city rate for sample sizes n (normal approximation, clipped to [0, 1])."""
    half = z * np.sqrt(rate * (1 - rate) / np.asarray(n, dtype=float))
    return np.clip(rate - half, 0.0, 1.0), np.clip(rate + half, 0.0, 1.0)


def funnel_status(value: float, n: float, rate: float, direction: str) -> str:
    """'above' (significantly better), 'below' (significantly worse) or 'within' at the 95% limits."""
    low, high = funnel_limits(rate, np.array([n]), Z95)
    better = value > high[0] if direction == "higher_is_better" else value < low[0]
    worse = value < low[0] if direction == "higher_is_better" else value > high[0]
    return "above" if better else ("below" if worse else "within")


def funnel_figure(rows: pd.DataFrame, kpi: KpiDefinition, lang: str) -> dict:
    """Each county's rate against its sample size, inside the 95% and 99.8% funnels around the city rate."""
    data = rows.dropna(subset=["value", "denominator"])
    data = data[data["denominator"] > 0]
    rate = float(rows["city_rate"].iloc[0]) if len(rows) and not _missing(rows["city_rate"].iloc[0]) else None
    if data.empty or rate is None:
        return empty_figure(t("figure.no_data", lang))
    scale = 100.0
    n_max = float(data["denominator"].max()) * 1.15
    n_min = max(1.0, float(data["denominator"].min()) * 0.6)
    grid = np.linspace(n_min, n_max, 160)
    traces: list[dict] = []
    for z, dash, key in ((Z998, "dot", "ranking.funnel.limit998"), (Z95, "dash", "ranking.funnel.limit95")):
        low, high = funnel_limits(rate, grid, z)
        for i, line in enumerate((low, high)):
            traces.append(trace("scatter", x=grid.tolist(), y=(line * scale).tolist(), mode="lines",
                                line=dict(color=NEUTRAL, dash=dash, width=1.3), name=t(key, lang),
                                showlegend=i == 0, legendgroup=key, hoverinfo="skip"))
    traces.append(trace("scatter", x=[n_min, n_max], y=[rate * scale] * 2, mode="lines",
                        line=dict(color=TEXT, width=1.5),
                        name=t("ranking.funnel.city", lang, value=format_number(rate, "ratio", lang)),
                        hoverinfo="skip"))
    # The 95% limits at every county's n in one array operation, not one call per county.
    n = data["denominator"].to_numpy(float)
    v = data["value"].to_numpy(float)
    low95, high95 = funnel_limits(rate, n, Z95)
    better = v > high95 if kpi.direction == "higher_is_better" else v < low95
    worse = v < low95 if kpi.direction == "higher_is_better" else v > high95
    status = np.where(better, "above", np.where(worse, "below", "within"))
    records = data.to_dict("records")
    hover = (f"<b>%{{text}}</b><br>{name_in(kpi, lang)}: %{{customdata[0]}}<br>"
             f"{t('ranking.funnel.hover_n', lang)}: %{{customdata[1]}}<extra></extra>")
    for key, colour, symbol in (("above", BETTER, "circle"), ("below", WORSE, "diamond"),
                                ("within", NO_DATA, "circle-open")):
        picked = [r for r, st in zip(records, status, strict=True) if st == key]
        if not picked:
            continue
        traces.append(trace("scatter",
            x=[r["denominator"] for r in picked], y=[r["value"] * scale for r in picked], mode="markers+text",
            text=[region_name(r, lang) for r in picked], textposition="top center", textfont=dict(size=11),
            name=t(f"ranking.funnel.{key}", lang),
            marker=dict(color=colour, size=11, symbol=symbol,
                        line=dict(width=1.5, color=colour if key != "within" else "#495057")),
            customdata=[[format_number(r["value"], "ratio", lang), f"{int(r['denominator']):,}"] for r in picked],
            hovertemplate=hover,
        ))
    edge = funnel_limits(rate, np.array([n_min]), Z998)
    values = np.concatenate([v, edge[0], edge[1]]) * scale
    pad = max((values.max() - values.min()) * 0.08, 0.5)
    return page_figure(traces, dict(
        legend=dict(orientation="h", x=0, y=-0.18, yanchor="top", font=dict(size=12)),
        margin=dict(l=8, r=16, t=16, b=96),
        yaxis=dict(range=[max(values.min() - pad, 0), min(values.max() + pad, 100.5)], ticksuffix="%",
                   fixedrange=True, gridcolor="#e9ecef"),
        xaxis=dict(rangemode="tozero", title=dict(text=t("ranking.funnel.x", lang), font=dict(size=12)),
                   fixedrange=True, gridcolor="#e9ecef"),
    ), height=420)
