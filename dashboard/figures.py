"""Figure builders: pure functions from a small frame to a Plotly figure, so they are tested without a database."""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

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


def use_template(fig: go.Figure, name: str = "plotly_white") -> go.Figure:
    """Give a figure a registered template without validating the template again.

    Assigning `template="plotly_white"` validates every trace type's defaults in it: 20–70 ms per figure on a
    busy server, more than the rest of most figures. The registered templates are validated when plotly builds
    them, which is why plotly itself assigns its default template this way (`_initialize_layout_template`).
    """
    layout = fig.layout
    layout._validate = False
    try:
        layout.template = pio.templates[name]
    finally:
        layout._validate = fig._validate
    return fig


@functools.cache
def _template_json(name: str) -> dict:
    return pio.templates[name].to_plotly_json()


def plain_figure(data: Sequence[Mapping], layout: Mapping, *, template: str = "plotly_white") -> dict:
    """A figure as the plain JSON Dash sends, built without plotly's per-property validation.

    For charts whose trace types and layout keys are fixed in code (a typo would show in the rendering tests and
    the browser console): ~1 ms instead of 20-60 ms for a chart of a few traces on a busy server.
    """
    return {"data": [dict(trace) for trace in data], "layout": {**layout, "template": _template_json(template)}}


BASE_LAYOUT: dict = dict(
    font=dict(family=FONT_FAMILY, size=13, color=TEXT), margin=dict(l=8, r=16, t=28, b=8), dragmode=False,
    hovermode="closest", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
    hoverlabel=dict(font=dict(family=FONT_FAMILY)),
)


def trace(kind: str, **props: object) -> dict:
    """One trace as plain JSON (`type` and its properties, nested dicts for nested ones: no magic underscores);
    a property given as None is left unset, as plotly's own constructors leave it."""
    return {"type": kind, **{k: v for k, v in props.items() if v is not None}}


def styled_figure(data: Sequence[Mapping] = (), layout: Mapping | None = None, *, height: int,
                  base: Mapping = BASE_LAYOUT) -> dict:
    """A figure as plain JSON: the shared look, then the figure's own layout (its margin merged into the shared
    one), then the template. Plotly's per-property validation cost 20-150 ms a chart while serving; the tests
    validate every builder's output by passing it to `go.Figure`."""
    layout = dict(layout or {})
    merged = {**base, **layout, "height": height}
    if "margin" in layout:
        merged["margin"] = {**base["margin"], **layout["margin"]}
    return plain_figure(data, merged)


def figure_height(fig: Mapping | go.Figure) -> int:
    """A figure's layout height in px, for the style of the graph that shows it."""
    return int(fig["layout"]["height"] if isinstance(fig, Mapping) else fig.layout.height)


def _base_layout(fig: go.Figure, *, height: int) -> go.Figure:
    use_template(fig)
    fig.update_layout(height=height, **BASE_LAYOUT)
    return fig


def empty_figure(message: str) -> dict:
    """A blank chart that says why it is blank, instead of empty axes (built in one step: layouts make several)."""
    return styled_figure(layout=dict(
        annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                          font=dict(size=16, color="#6c757d"))],
        xaxis=dict(visible=False), yaxis=dict(visible=False)), height=240)


def county_comparison_figure(frame: pd.DataFrame, kpi: KpiDefinition, lang: str) -> dict:
    """Counties as horizontal bars, best at top, coloured against the dashed city line, labelled per unit."""
    if frame.empty or frame["value"].isna().all():
        return empty_figure(t("figure.no_data", lang))
    city = _city_value(frame)
    scale = display_scale(kpi.unit, lang)
    rows = frame.to_dict("records")
    labels = [region_name(r, lang) for r in rows]
    statuses = [_status(r["value"], city, kpi.direction) for r in rows]
    bars = []
    for status, colour in (("better", BETTER), ("worse", WORSE), ("no_data", NO_DATA)):
        picked = [(label, r) for label, r, st in zip(labels, rows, statuses, strict=True) if st == status]
        if not picked:
            continue
        bars.append(trace(
            "bar", orientation="h", y=[label for label, _ in picked], marker=dict(color=colour),
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
        ))
    shown = [v * scale for v in frame["value"].dropna()] + ([city * scale] if city is not None else [])
    low, top = min(min(shown), 0.0), max(max(shown), 0.0)  # bars start at zero; negative values (growth) fit too
    shapes, notes = _city_line(city=city, kpi=kpi, lang=lang)
    return styled_figure(bars, dict(
        shapes=shapes, annotations=notes,
        yaxis=dict(categoryorder="array", categoryarray=labels, autorange="reversed", fixedrange=True,
                   automargin=True, ticks="", showgrid=False),
        xaxis=dict(range=[low * 1.12, top * 1.12 if top > 0 else 1], fixedrange=True, automargin=True,
                   ticksuffix="%" if kpi.unit == "ratio" else "", gridcolor="#e9ecef", zeroline=True,
                   title=dict(text="" if kpi.unit == "ratio" else unit_label(kpi.unit, lang), font=dict(size=12))),
        barmode="overlay", bargap=0.28, uniformtext=dict(minsize=11, mode="show"),
        legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom",
                    font=dict(size=12), bgcolor="rgba(0,0,0,0)"),
        margin=dict(b=64),
    ), height=BAR_HEIGHT_PX * len(labels) + 130)


def _city_line(*, city: float | None, kpi: KpiDefinition, lang: str) -> tuple[list[dict], list[dict]]:
    """The city value as a dashed reference line (a shape) and its label (an annotation), as add_vline draws them.

    Drawn under the bars: it shows in the gaps between them and never strikes through a value label.
    """
    if city is None:
        return [], []
    x = city * display_scale(kpi.unit, lang)
    return ([dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", layer="below",
                  line=dict(color=CITY_LINE, dash="dash", width=1.5))],
            [dict(text=f"{t('figure.city', lang)} {format_number(city, kpi.unit, lang)}", x=x, xref="x", y=1,
                  yref="y domain", xanchor="center", yanchor="bottom", showarrow=False,
                  font=dict(size=12, color=CITY_LINE), bgcolor="rgba(255,255,255,0.85)")])


# ---- the target-status colour language (met / near / missed), shared by cards, maps and legends ------------------

# Okabe-Ito: blue, orange, vermillion stay apart for the common colour-vision deficiencies; every use also carries
# an icon and a word (components.status_badge), never colour alone.
STATUS_COLOURS = {"met": "#0072B2", "near": "#E69F00", "missed": "#D55E00", None: "#9E9E9E"}
STATUS_ICONS = {"met": "✓", "near": "≈", "missed": "✗", None: "–"}
STATUS_ORDER = ("met", "near", "missed")
# Sequential scale for "how good" (light = worse, dark = better), in Okabe-Ito blue.
GOODNESS_SCALE = [[0.0, "#e8f1f8"], [0.5, "#6baed6"], [1.0, "#08306b"]]


def status_colour(status: str | None) -> str:
    """The colour of a target status (met, near, missed; grey for none)."""
    return STATUS_COLOURS.get(status, STATUS_COLOURS[None])


def sparkline_svg(values: Sequence[float | None], *, colour: str = "#1d4f91", width: int = 120,
                  height: int = 32) -> str:
    """A tiny trend line as an SVG data URI (for an <img>): no Plotly per card, so 31 cards stay light."""
    points = [(i, v) for i, v in enumerate(values) if not _missing(v)]
    if len(points) < 2:
        return "data:image/svg+xml;base64," + base64.b64encode(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"/>'.encode()).decode()
    low, high = min(v for _, v in points), max(v for _, v in points)
    span = (high - low) or 1.0
    pad = 3
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{pad + i * step:.1f},{height - pad - (v - low) / span * (height - 2 * pad):.1f}"

    line = " ".join(xy(i, v) for i, v in points)
    last_x, last_y = xy(*points[-1]).split(",")
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><polyline fill="none" stroke="{colour}" stroke-width="1.8" '
           f'stroke-linejoin="round" stroke-linecap="round" points="{line}"/>'
           f'<circle cx="{last_x}" cy="{last_y}" r="2.6" fill="{colour}"/></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def composite_trend_figure(frame: pd.DataFrame, lang: str) -> dict:
    """The counties' composite index by month: the mean as a line over the lowest–highest and middle-half bands."""
    if frame.empty:
        return empty_figure(t("figure.no_data", lang))
    from bizenv.i18n import format_period

    x = [format_period(p, lang) for p in frame["period"]]
    cols = {c: frame[c] for c in ("high", "low", "q3", "q1", "mean")}
    traces = [
        trace("scatter", x=x, y=cols["high"], mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False),
        trace("scatter", x=x, y=cols["low"], mode="lines", line=dict(width=0), fill="tonexty",
              fillcolor="rgba(0,114,178,0.12)", name=t("figure.range", lang), hoverinfo="skip"),
        trace("scatter", x=x, y=cols["q3"], mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False),
        trace("scatter", x=x, y=cols["q1"], mode="lines", line=dict(width=0), fill="tonexty",
              fillcolor="rgba(0,114,178,0.28)", name=t("figure.middle_half", lang), hoverinfo="skip"),
        trace("scatter", x=x, y=cols["mean"], mode="lines+markers", line=dict(color=BETTER, width=2.5),
              marker=dict(size=6), name=t("figure.mean", lang),
              customdata=frame[["low", "high"]].to_numpy().tolist(),
              hovertemplate=(f"%{{x}}<br>{t('figure.mean', lang)} %{{y:.1f}}<br>"
                             f"{t('figure.range', lang)} %{{customdata[0]:.1f}}–%{{customdata[1]:.1f}}"
                             "<extra></extra>")),
    ]
    last = float(cols["mean"].iloc[-1])
    low = max(0.0, math.floor(float(frame["low"].min()) / 10) * 10)
    high = min(100.0, math.ceil(float(frame["high"].max()) / 10) * 10)
    return styled_figure(traces, dict(
        annotations=[dict(x=x[-1], y=last, text=f"{last:.1f}", showarrow=False, xanchor="left", xshift=6,
                          font=dict(size=13, color=BETTER))],
        yaxis=dict(range=[low, high], fixedrange=True, gridcolor="#e9ecef",
                   title=dict(text=t("figure.composite", lang), font=dict(size=12))),
        xaxis=dict(fixedrange=True, tickangle=0, nticks=6, automargin=True),
        hovermode="x unified", margin=dict(l=8, r=36, t=8, b=8),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=12)),
    ), height=280)


def _goodness(values: pd.Series, direction: str) -> pd.Series:
    """0 (worst county) … 1 (best county) for the colour scale, whatever the KPI's direction."""
    low, high = values.min(), values.max()
    if pd.isna(low) or high == low:
        return values.where(values.isna(), 0.5)
    g = (values - low) / (high - low)
    return g if direction == "higher_is_better" else 1 - g


def tile_positions(centroids: Mapping[str, tuple[float, float]], *, cell: float = 0.28) -> dict[str, tuple[int, int]]:
    """Snap unit centroids (lon, lat) to a square grid, one unit per tile, each at the free cell nearest to it."""
    taken: dict[tuple[int, int], str] = {}
    out: dict[str, tuple[int, int]] = {}
    scale = math.cos(math.radians(sum(lat for _, lat in centroids.values()) / max(len(centroids), 1)))
    for code, (lon, lat) in sorted(centroids.items()):
        fx, fy = lon * scale / cell, lat / cell
        candidates = sorted(((round(fx) + dx, round(fy) + dy) for dx in range(-3, 4) for dy in range(-3, 4)),
                            key=lambda c: (c[0] - fx) ** 2 + (c[1] - fy) ** 2)
        spot = next(c for c in candidates if c not in taken)
        taken[spot] = code
        out[code] = spot
    if out:
        x0, y0 = min(x for x, _ in out.values()), min(y for _, y in out.values())
        out = {code: (x - x0, y - y0) for code, (x, y) in out.items()}
    return out


def county_tile_map(frame: pd.DataFrame, kpi: KpiDefinition, lang: str,
                    centroids: Mapping[str, tuple[float, float]]) -> dict:
    """The counties as square tiles placed by their centroids, darker for better values, labelled with the value."""
    rows = frame[frame["region_code"].isin(centroids)].copy()
    if rows.empty or not centroids:
        return empty_figure(t("figure.no_data", lang))
    spots = tile_positions({c: centroids[c] for c in rows["region_code"]})
    rows["goodness"] = _goodness(rows["value"].astype(float), kpi.direction)
    xs, ys, labels, hover, colours, fonts, tiles = [], [], [], [], [], [], []
    for r in rows.to_dict("records"):
        x, y = spots[r["region_code"]]
        value = format_number(r["value"], kpi.unit, lang)
        g = r["goodness"]
        colour = NO_DATA if _missing(g) else _scale_colour(float(g))
        tiles.append(dict(type="rect", x0=x - 0.47, x1=x + 0.47, y0=y - 0.47, y1=y + 0.47, fillcolor=colour,
                          line=dict(color="#ffffff", width=2), layer="below"))
        xs.append(x)
        ys.append(y)
        labels.append(f"<b>{region_name(r, lang)}</b><br>{value}")
        hover.append(f"{region_name(r, lang, short=False)}<br>{name_in(kpi, lang)}: {value}")
        fonts.append("#ffffff" if not _missing(g) and g > 0.45 else TEXT)
        colours.append(colour)
    traces = [
        trace("scatter", x=xs, y=ys, mode="text", text=labels, textfont=dict(size=11, color=fonts),
              hovertext=hover, hoverinfo="text", showlegend=False),
        # An invisible colour bar explains the shading: lighter is worse, darker is better.
        trace("scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
              marker=dict(colorscale=GOODNESS_SCALE, cmin=0, cmax=1, color=[0.5], showscale=True,
                          colorbar=dict(orientation="h", x=0.5, xanchor="center", y=-0.02, yanchor="top",
                                        thickness=10, len=0.6, tickvals=[0, 1],
                                        ticktext=[t("figure.worse", lang), t("figure.better", lang)],
                                        tickfont=dict(size=12)))),
    ]
    width = max(x for x, _ in spots.values()) + 1
    height = max(y for _, y in spots.values()) + 1
    return styled_figure(traces, dict(
        shapes=tiles,
        xaxis=dict(visible=False, range=[-0.6, width - 0.4], fixedrange=True),
        yaxis=dict(visible=False, range=[-0.6, height - 0.4], fixedrange=True, scaleanchor="x", scaleratio=1),
        margin=dict(l=4, r=4, t=4, b=40),
    ), height=60 * height + 70)


def _scale_colour(g: float) -> str:
    """A colour on GOODNESS_SCALE for 0 ≤ g ≤ 1."""
    from plotly.colors import sample_colorscale

    return sample_colorscale(GOODNESS_SCALE, [min(max(g, 0.0), 1.0)], colortype="rgb")[0]


def county_choropleth(frame: pd.DataFrame, kpi: KpiDefinition, lang: str, geojson: dict) -> go.Figure:
    """A choropleth on the bureau's GeoJSON (features carry the unit code as their id), with no base-map tiles."""
    rows = frame.copy()
    if rows.empty:
        return empty_figure(t("figure.no_data", lang))
    rows["goodness"] = _goodness(rows["value"].astype(float), kpi.direction)
    lons, lats = _geojson_bounds(geojson)
    fig = go.Figure(go.Choroplethmap(
        geojson=geojson, locations=rows["region_code"], z=rows["goodness"].fillna(-1), zmin=0, zmax=1,
        colorscale=GOODNESS_SCALE, marker=dict(line=dict(color="#ffffff", width=1.5)),
        text=[f"{region_name(r, lang, short=False)}<br>{name_in(kpi, lang)}: "
              f"{format_number(r['value'], kpi.unit, lang)}" for r in rows.to_dict("records")],
        hoverinfo="text",
        colorbar=dict(orientation="h", x=0.5, xanchor="center", y=-0.02, yanchor="top", thickness=10, len=0.6,
                      tickvals=[0, 1], ticktext=[t("figure.worse", lang), t("figure.better", lang)]),
    ))
    fig.update_layout(map=dict(style="white-bg", center=dict(lon=sum(lons) / 2, lat=sum(lats) / 2),
                               zoom=7.2))
    fig = _base_layout(fig, height=420)
    fig.update_layout(margin=dict(l=4, r=4, t=4, b=40))
    return fig


def _geojson_bounds(geojson: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: object) -> None:
        if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        elif isinstance(coords, (list, tuple)):
            for c in coords:
                walk(c)

    for feature in geojson.get("features", []):
        walk(feature.get("geometry", {}).get("coordinates", []))
    if not xs:
        return (0.0, 0.0), (0.0, 0.0)
    return (min(xs), max(xs)), (min(ys), max(ys))


def load_geojson(path: str, unit_codes: Sequence[str]) -> dict:
    """A GeoJSON file with each feature's id set to its unit code (from id, properties.adcode or .code)."""
    import json

    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    for feature in data.get("features", []):
        props = feature.get("properties") or {}
        code = str(props.get("adcode") or props.get("code") or feature.get("id") or "")
        feature["id"] = code
    data["features"] = [f for f in data.get("features", []) if f["id"] in set(unit_codes)]
    return data
