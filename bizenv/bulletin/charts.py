"""The bulletin's charts: Plotly figures (the county comparison is the dashboard's own builder), exported to PNG
through one kaleido browser per report run, with identical figures exported once across editions."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from bizenv.bulletin.errors import ChromeMissing
from bizenv.bulletin.facts import EditionFacts
from bizenv.bulletin.model import Block, Chart
from bizenv.bulletin.summary import kpi_name
from bizenv.i18n import display_scale, format_number, format_period, name_in, region_name, t
from dashboard.figures import FONT_FAMILY, county_comparison_figure
from models.config import PILLARS, Config, KpiDefinition

SCALE = 2.0  # 760 px wide at 2× is about 230 dpi across the 170 mm text width
TEXT = "#212529"
RED, BLACK, MIDDLE = "#B22222", "#343A40", "#6C8EBF"
PILLAR_COLOURS = dict(zip(PILLARS, ("#0072B2", "#009E73", "#E69F00", "#CC79A7"), strict=True))
TREND_KPIS = 2


Figure = dict  # a plain Plotly figure spec: built without plotly's per-property validation, which costs seconds


def _axis(**extra: object) -> dict:
    """An axis as the plotly_white template draws it (a plain spec gets no template), with room for its labels."""
    return {"automargin": True, "gridcolor": "#e9ecef", "zeroline": False, "linecolor": "#c8ccd0",
            "tickfont": {"size": 12}, **extra}


def _layout(*, height: int, width: int = 760, **extra: object) -> dict:
    return {"width": width, "height": height, "paper_bgcolor": "white",
            "plot_bgcolor": "white", "font": {"family": FONT_FAMILY, "size": 13, "color": TEXT},
            "margin": {"l": 8, "r": 24, "t": 16, "b": 8}, "showlegend": False, **extra}


def trend_kpis(config: Config) -> list[KpiDefinition]:
    """The KPIs drawn as the city's trend: the first headline KPIs."""
    return [config.kpi_by_code[c] for c in config.bulletin.headline_kpis if c in config.kpi_by_code][:TREND_KPIS]


def trend_title(config: Config, facts: EditionFacts, lang: str) -> str:
    """全市平均办理时长、按时办结率近13个月走势."""
    names = t("bulletin.list.sep", lang).join(kpi_name(k, lang) for k in trend_kpis(config))
    return t("bulletin.chart.trend", lang, kpi=names, n=facts.trend["period"].nunique())


def _axis_suffix(i: int) -> str:
    return "" if i == 1 else str(i)


def trend_figure(config: Config, facts: EditionFacts, lang: str) -> Figure:
    """The city's headline KPIs month by month side by side, each with its target as a dashed red line."""
    kpis = trend_kpis(config)
    gap, data, layout = 0.1, [], _layout(height=300, margin={"l": 8, "r": 24, "t": 36, "b": 8})
    width = (1 - gap * (len(kpis) - 1)) / max(len(kpis), 1)
    annotations = []
    for i, kpi in enumerate(kpis, start=1):
        rows = facts.trend[facts.trend["kpi_code"] == kpi.code].sort_values("period")
        scale, axis = display_scale(kpi.unit, lang), _axis_suffix(i)
        months = [format_period(p, lang)[2:] if lang == "zh" else format_period(p, lang) for p in rows["period"]]
        values = [None if pd.isna(v) else float(v) * scale for v in rows["value"]]
        data.append({"type": "scatter", "x": months, "y": values,
                     "mode": "lines+markers", "line": {"color": "#0072B2", "width": 2},
                     "xaxis": f"x{axis}", "yaxis": f"y{axis}"})
        target = [kpi.target_for(p) for p in rows["period"]]
        if any(v is not None for v in target):
            data.append({"type": "scatter", "x": months, "y": [None if v is None else v * scale for v in target],
                         "mode": "lines", "line": {"color": RED, "dash": "dash", "width": 1.5},
                         "xaxis": f"x{axis}", "yaxis": f"y{axis}"})
        left = (i - 1) * (width + gap)
        layout[f"xaxis{axis}"] = _axis(domain=[left, left + width], anchor=f"y{axis}", tickangle=-45,
                                       tickfont={"size": 11})
        layout[f"yaxis{axis}"] = _axis(anchor=f"x{axis}", ticksuffix="%" if kpi.unit == "ratio" else "")
        annotations.append({"text": name_in(kpi, lang), "x": left + width / 2, "y": 1.0, "xref": "paper",
                            "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 14}})
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def composite_figure(facts: EditionFacts, n: int, lang: str) -> Figure:
    """Counties' composite index as bars, best at top: red list in red, black list in black."""
    ranked = facts.ranking.dropna(subset=["composite"]).sort_values("rank")
    ranks = sorted(ranked["rank"].dropna())
    top, bottom = (ranks[n - 1], ranks[-n]) if len(ranks) >= 2 * n else (0, len(ranks) + 1)
    colours = [RED if r <= top else (BLACK if r >= bottom else MIDDLE) for r in ranked["rank"]]
    bar = {"type": "bar", "orientation": "h", "y": [region_name(r, lang) for r in ranked.to_dict("records")],
           "x": [float(v) for v in ranked["composite"]], "marker": {"color": colours},
           "text": [format_number(v, "score", lang) for v in ranked["composite"]], "textposition": "outside",
           "cliponaxis": False, "textfont": {"size": 13}}
    layout = _layout(height=400, bargap=0.3,
                     yaxis=_axis(autorange="reversed", showgrid=False, ticks="", tickfont={"size": 13}),
                     xaxis=_axis(range=[0, 105], title={"text": t("bulletin.col.composite", lang)}))
    return {"data": [bar], "layout": layout}


def comparison_figure(config: Config, facts: EditionFacts, kpi: KpiDefinition, lang: str) -> go.Figure:
    """The dashboard's county comparison for one KPI, built from the same mart rows as the tables."""
    rows = facts.marts[(facts.marts["period"] == facts.period) & (facts.marts["kpi_code"] == kpi.code)]
    values = rows.set_index("region_code")
    frame = pd.DataFrame([dict(region_code=u.code, name_zh=u.name_zh, name_en=u.name_en, short_zh=u.short_zh,
                               short_en=u.short_en, sort_order=i,
                               value=values["value"].get(u.code), sample_size=values["sample_size"].get(u.code, 0))
                          for i, u in enumerate(config.city.units, start=1)])
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["sample_size"] = pd.to_numeric(frame["sample_size"], errors="coerce").fillna(0).astype(int)
    frame["city_value"] = facts.value(config.city.code, kpi.code)
    frame = frame.sort_values(["value", "sort_order"], ascending=[kpi.direction == "lower_is_better", True],
                              na_position="last")
    fig = go.Figure(county_comparison_figure(frame, kpi, lang))  # the dashboard's chart, as a figure to render
    return fig.update_layout(width=760, paper_bgcolor="white", plot_bgcolor="white")


def scores_figure(config: Config, facts: EditionFacts, region: str, lang: str) -> Figure:
    """A county's indicator scores (0-100), one colour per pillar with a legend, so its weak spots stand out."""
    rows = facts.scores[(facts.scores["region_code"] == region) & facts.scores["score"].notna()]
    labels = [name_in(config.kpi_by_code[c], lang) for c in rows["kpi_code"]]
    bars = []
    for pillar in PILLARS:
        part = rows[rows["pillar"] == pillar]
        if part.empty:
            continue
        bars.append({"type": "bar", "orientation": "h", "name": t(f"bulletin.pillar.{pillar}", lang),
                     "y": [name_in(config.kpi_by_code[c], lang) for c in part["kpi_code"]],
                     "x": [float(v) for v in part["score"]], "marker": {"color": PILLAR_COLOURS[pillar]},
                     "text": [format_number(v, "score", lang) for v in part["score"]], "textposition": "outside",
                     "cliponaxis": False, "textfont": {"size": 12}})
    layout = _layout(height=360, bargap=0.25, barmode="overlay", showlegend=True,
                     legend={"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top", "font": {"size": 12}},
                     yaxis=_axis(autorange="reversed", showgrid=False, ticks="", categoryorder="array",
                                 categoryarray=labels),
                     xaxis=_axis(range=[0, 110], title={"text": t("bulletin.chart.score_axis", lang)}))
    return {"data": bars, "layout": layout}


def figures_for(*, config: Config, facts: EditionFacts, blocks: Sequence[Block],
                lang: str) -> dict[str, Figure | go.Figure]:
    """The Plotly figure of every chart the blocks place, by key."""
    out: dict[str, Figure | go.Figure] = {}
    for chart in (b for b in blocks if isinstance(b, Chart)):
        key = chart.key
        if key == "trend":
            out[key] = trend_figure(config, facts, lang)
        elif key == "composite":
            out[key] = composite_figure(facts, config.bulletin.list_size, lang)
        elif key.startswith("comparison_"):
            out[key] = comparison_figure(config, facts, config.kpi_by_code[key.removeprefix("comparison_")], lang)
        elif key.startswith("scores_"):
            out[key] = scores_figure(config, facts, key.removeprefix("scores_"), lang)
    return out


# ---- export ----------------------------------------------------------------------------------------------------


def find_chrome() -> str | None:
    """The Chrome or Chromium kaleido would use (BROWSER_PATH, plotly_get_chrome's download, or PATH)."""
    from choreographer.browsers.chromium import Chromium

    return Chromium.find_browser(skip_local=False)


def _plain(value: object) -> object:
    """JSON for numpy scalars and arrays inside a figure spec."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _opaque(png: bytes) -> bytes:
    """The PNG on white without its alpha channel: smaller files, and no soft mask for the PDF to decode."""
    with Image.open(io.BytesIO(png)) as image:
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    out = io.BytesIO()
    flat.save(out, format="PNG")
    return out.getvalue()


class ChartExporter:
    """One kaleido browser for a whole report run, on its own event loop; each distinct figure is exported once.

    The browser starts in the background on entry, so reading the marts and building the content overlap its start;
    the figures of one call are exported concurrently on `tabs` browser tabs.
    """

    def __init__(self, *, scale: float = SCALE, timeout: float = 120.0, tabs: int = 1) -> None:
        self.scale = scale
        self.timeout = timeout
        self.tabs = tabs
        self.exported = 0
        self._cache: dict[str, bytes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self._opening: Future | None = None

    def __enter__(self) -> ChartExporter:
        if find_chrome() is None:
            raise ChromeMissing(t("bulletin.error.no_chrome", "en") + "\n" + t("bulletin.error.no_chrome", "zh"))
        import kaleido

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bulletin-kaleido", daemon=True)
        self._thread.start()
        self._kaleido = kaleido.Kaleido(n=self.tabs, timeout=self.timeout, mathjax=False)
        self._opening = asyncio.run_coroutine_threadsafe(self._kaleido.open(), self._loop)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._opening is not None:
                self._opening.result(timeout=self.timeout)
                self._call(self._kaleido.close())
        finally:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=30)
                self._loop.close()
            self._kaleido = self._loop = self._thread = self._opening = None

    def _call(self, coroutine) -> object:  # noqa: ANN001 - a coroutine
        self._opening.result(timeout=self.timeout)  # the browser is up (or its start failed, which raises here)
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=self.timeout + 30)

    def _spec(self, figure: Figure | go.Figure) -> tuple[str, dict]:
        spec = json.loads(figure.to_json()) if isinstance(figure, go.Figure) else figure
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=_plain).encode()).hexdigest(), spec

    async def _export(self, specs: list[dict]) -> list[bytes]:
        async def one(spec: dict) -> bytes:
            layout = spec.get("layout", {})
            opts = dict(format="png", width=layout.get("width") or 760, height=layout.get("height") or 400,
                        scale=self.scale)
            return await self._kaleido.calc_fig(spec, opts=opts)
        return await asyncio.gather(*(one(s) for s in specs))

    def images(self, figures: dict[str, Figure | go.Figure]) -> dict[str, bytes]:
        """PNG bytes of each figure, by key; figures exported before in this run come from the cache."""
        keyed = {name: self._spec(fig) for name, fig in figures.items()}
        todo = {digest: spec for digest, spec in keyed.values() if digest not in self._cache}
        if todo:
            for digest, png in zip(todo, self._call(self._export(list(todo.values()))), strict=True):
                self._cache[digest] = _opaque(png)
            self.exported += len(todo)
        return {name: self._cache[digest] for name, (digest, _) in keyed.items()}
