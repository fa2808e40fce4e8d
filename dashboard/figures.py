"""Figure builders: pure functions from a small frame to a Plotly figure, so they are tested without a database."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from bizenv.i18n import display_scale, format_number, name_in, region_name, t, unit_label
from models.config import KpiDefinition

# CJK fonts first so Chinese never renders as boxes; the same stack as assets/10-bizenv.css.
FONT_FAMILY = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
               '"Microsoft YaHei", "PingFang SC", sans-serif')
# Okabe-Ito colour-blind-safe pair: blue for better than the city, orange for worse.
BETTER = "#0072B2"
WORSE = "#E69F00"
NO_DATA = "#9E9E9E"
CITY_LINE = "#333333"
TEXT = "#212529"
INSIDE_TEXT = {"better": "#FFFFFF", "worse": TEXT, "no_data": TEXT}  # contrast ≥ 4.5:1 on each bar colour
BAR_HEIGHT_PX = 34


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _city_value(frame: pd.DataFrame) -> float | None:
    values = frame["city_value"].dropna() if "city_value" in frame else pd.Series(dtype=float)
    return None if values.empty else float(values.iloc[0])


def _status(value: float | None, city: float | None, direction: str) -> str:
    if _missing(value):
        return "no_data"
    if city is None:
        return "better"
    worse = value < city if direction == "higher_is_better" else value > city
    return "worse" if worse else "better"


def _base_layout(fig: go.Figure, *, height: int) -> go.Figure:
    fig.update_layout(
        template="plotly_white", height=height, font=dict(family=FONT_FAMILY, size=13, color=TEXT),
        margin=dict(l=8, r=16, t=28, b=8), dragmode=False, hovermode="closest",
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel=dict(font=dict(family=FONT_FAMILY)),
    )
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank, instead of empty axes."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=16, color="#6c757d"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, height=240)


def county_comparison_figure(frame: pd.DataFrame, kpi: KpiDefinition, lang: str) -> go.Figure:
    """Counties as horizontal bars, best at top, coloured against the dashed city line, labelled per unit."""
    if frame.empty or frame["value"].isna().all():
        return empty_figure(t("figure.no_data", lang))
    city = _city_value(frame)
    scale = display_scale(kpi.unit, lang)
    rows = frame.to_dict("records")
    labels = [region_name(r, lang) for r in rows]
    fig = go.Figure()
    for status, colour in (("better", BETTER), ("worse", WORSE), ("no_data", NO_DATA)):
        picked = [(label, r) for label, r in zip(labels, rows, strict=True)
                  if _status(r["value"], city, kpi.direction) == status]
        if not picked:
            continue
        fig.add_bar(
            orientation="h", y=[label for label, _ in picked], marker_color=colour,
            x=[0.0 if _missing(r["value"]) else r["value"] * scale for _, r in picked],
            text=[format_number(r["value"], kpi.unit, lang) for _, r in picked],
            # Inside the bar end (so the city line never crosses a label); outside only when a bar is too short.
            textposition="auto", insidetextanchor="end", cliponaxis=False, textangle=0,
            insidetextfont=dict(size=13, color=INSIDE_TEXT[status]), outsidetextfont=dict(size=13, color=TEXT),
            name=t("figure.no_data" if status == "no_data" else f"figure.{status}_than_city", lang),
            showlegend=status != "no_data" and city is not None,
            customdata=[[region_name(r, lang, short=False), f"{int(r['sample_size']):,}"] for _, r in picked],
            hovertemplate=(f"<b>%{{customdata[0]}}</b><br>{name_in(kpi, lang)}: %{{text}}<br>"
                           f"{t('figure.sample', lang)}: %{{customdata[1]}}<extra></extra>"),
        )
    _add_city_line(fig, city=city, kpi=kpi, lang=lang)
    shown = [v * scale for v in frame["value"].dropna()] + ([city * scale] if city is not None else [])
    low, top = min(min(shown), 0.0), max(max(shown), 0.0)  # bars start at zero; negative values (growth) fit too
    fig.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed", fixedrange=True,
                     automargin=True, ticks="", showgrid=False)
    fig.update_xaxes(range=[low * 1.12, top * 1.12 if top > 0 else 1], fixedrange=True, automargin=True,
                     ticksuffix="%" if kpi.unit == "ratio" else "", gridcolor="#e9ecef", zeroline=True,
                     title=dict(text="" if kpi.unit == "ratio" else unit_label(kpi.unit, lang), font=dict(size=12)))
    fig.update_layout(barmode="overlay", bargap=0.28, uniformtext=dict(minsize=11, mode="show"),
                      legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom",
                                  font=dict(size=12), bgcolor="rgba(0,0,0,0)"))
    fig = _base_layout(fig, height=BAR_HEIGHT_PX * len(labels) + 130)
    fig.update_layout(margin=dict(b=64))
    return fig


def _add_city_line(fig: go.Figure, *, city: float | None, kpi: KpiDefinition, lang: str) -> None:
    """The city value as a dashed reference line, labelled 全市/City with its formatted value."""
    if city is None:
        return
    # Drawn under the bars: it shows in the gaps between them and never strikes through a value label.
    fig.add_vline(x=city * display_scale(kpi.unit, lang), line_dash="dash", line_color=CITY_LINE, line_width=1.5,
                  layer="below",
                  annotation_text=f"{t('figure.city', lang)} {format_number(city, kpi.unit, lang)}",
                  annotation_position="top",
                  annotation_font=dict(size=12, color=CITY_LINE), annotation_bgcolor="rgba(255,255,255,0.85)")
