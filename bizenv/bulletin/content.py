"""Build one edition's content (headings, summary, tables, charts) from the marts; renderers only draw it.

Red and black lists (红黑榜), the rule the bulletin prints under the table:
- composite index: the counties ranked in the top `bulletin.list_size` make the red list, the bottom
  `list_size` the black list; counties tied on the edge rank are all listed;
- every indicator of the composite index: the county (or tied counties) with the best value is on the red list,
  the worst on the black list, among counties whose sample reaches the indicator's `min_sample`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from bizenv.bulletin import charts
from bizenv.bulletin.cells import (
    change_cell,
    int_cell,
    kpi_label,
    missing,
    rank_change_cell,
    score_cell,
    status_cell,
    text_cell,
    value_cell,
)
from bizenv.bulletin.facts import EditionFacts, page_regions
from bizenv.bulletin.model import Block, Bulletin, Cell, Chart, Heading, PageBreak, Para, Table
from bizenv.bulletin.summary import kpi_name, rank_move, summary_paragraphs
from bizenv.i18n import MESSAGES, MISSING, describe_alert, format_datetime, format_number, format_period, name_in, t
from models.config import PILLARS, Config, KpiDefinition, Unit

SECTIONS = ("summary", "headline", "ranking", "lists", "alerts", "counties", "notes")


def _unit(config: Config, code: str) -> Unit:
    return next(u for u in config.city.units if u.code == code)


def scope_name(config: Config, region_code: str, lang: str) -> str:
    """The edition's region name: 晋中市 or 平遥县."""
    item = config.city if region_code == config.city.code else _unit(config, region_code)
    return item.name_zh if lang == "zh" else item.name_en


def _heading(section: str, lang: str, **values: str) -> Heading:
    number = section_number("counties" if section == "own_county" else section, lang)
    return Heading(t("bulletin.heading", lang, n=number, title=t(f"bulletin.section.{section}", lang, **values)))


def section_number(section: str, lang: str) -> str:
    """一 / 1: how a section is referred to in the text."""
    return t("bulletin.numerals", lang).split(",")[SECTIONS.index(section)]


# ---- headline KPIs -------------------------------------------------------------------------------------------


def headline_table(config: Config, facts: EditionFacts, lang: str) -> Table:
    """The city's KPIs against target, last month and the same month last year."""
    city, rows = config.city.code, []
    for kpi in config.kpis:
        row = facts.row(city, kpi.code)
        if row is None:
            continue
        target = kpi.target_for(facts.period)
        rows.append((
            text_cell(kpi_label(kpi, lang)),
            value_cell(row["value"], kpi.unit, lang, distinct_from=target),
            value_cell(facts.value(city, kpi.code, facts.previous), kpi.unit, lang),
            change_cell(row["mom_change"], kpi, lang),
            value_cell(facts.value(city, kpi.code, facts.year_ago), kpi.unit, lang),
            change_cell(row["yoy_change"], kpi, lang),
            value_cell(target, kpi.unit, lang),
            status_cell(row["target_status"], lang),
        ))
    cols = ("kpi", "value", "previous", "mom", "last_year", "yoy", "target", "status")
    return Table(sheet=t("bulletin.section.headline", lang), columns=tuple(t(f"bulletin.col.{c}", lang) for c in cols),
                 rows=tuple(rows), widths=(3.4, 1.2, 1.2, 1.6, 1.2, 1.6, 1.2, 1.1),
                 note=t("bulletin.note.headline", lang))


# ---- ranking and the red and black lists ---------------------------------------------------------------------


def _short(row: pd.Series | object, lang: str) -> str:
    get = row.get if isinstance(row, pd.Series) else (lambda k: getattr(row, k))
    return str(get("short_zh") if lang == "zh" else get("short_en"))


def ranking_table(facts: EditionFacts, lang: str) -> Table:
    """Counties by rank, with pillar scores, rank change, rank interval and tie group."""
    rows = []
    for r in facts.ranking.itertuples():
        interval = (t("bulletin.rank.interval", lang, low=int(r.rank_low), high=int(r.rank_high))
                    if not missing(r.rank_low) and not missing(r.rank_high) else MISSING)
        rows.append((int_cell(r.rank), text_cell(r.name_zh if lang == "zh" else r.name_en),
                     score_cell(r.composite, lang), *(score_cell(getattr(r, f"score_{p}"), lang) for p in PILLARS),
                     rank_change_cell(r.rank_change, lang), text_cell(interval),
                     int_cell(None if pd.isna(r.tie_group) else int(r.tie_group))))
    columns = (t("bulletin.col.rank", lang), t("bulletin.col.region", lang), t("bulletin.col.composite", lang),
               *(t(f"bulletin.pillar.{p}", lang) for p in PILLARS), t("bulletin.col.rank_change", lang),
               t("bulletin.col.rank_interval", lang), t("bulletin.col.tie_group", lang))
    return Table(sheet=t("bulletin.section.ranking", lang), columns=columns, rows=tuple(rows),
                 widths=(0.8, 1.7, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.0), note=t("bulletin.note.ranking", lang))


def _edge(ranked: pd.DataFrame, n: int, best: bool) -> pd.DataFrame:
    ranks = sorted(ranked["rank"], reverse=not best)
    edge = ranks[min(n, len(ranks)) - 1]
    return ranked[ranked["rank"] <= edge] if best else ranked[ranked["rank"] >= edge]


def _entry(names: Sequence[str], value: str, lang: str) -> str:
    return t("bulletin.list.entry", lang, region=t("bulletin.list.sep", lang).join(names), value=value)


def _composite_lists(facts: EditionFacts, n: int, lang: str) -> tuple[Cell, ...] | None:
    ranked = facts.ranking.dropna(subset=["rank"])
    if len(ranked) < 2:
        return None

    def side(best: bool) -> str:
        return t("bulletin.list.sep", lang).join(_entry([_short(r, lang)], format_number(r.composite, "score", lang),
                                                        lang) for r in _edge(ranked, n, best).itertuples())
    return (text_cell(t("bulletin.list.composite", lang)), text_cell(side(True), "good"), text_cell(side(False), "bad"))


def _kpi_lists(config: Config, facts: EditionFacts, kpi: KpiDefinition, lang: str) -> tuple[Cell, ...] | None:
    rows = facts.county_rows(kpi.code).reset_index()
    rows = rows[rows["value"].notna() & (rows["sample_size"] >= kpi.min_sample)]
    if len(rows) < 2 or rows["value"].nunique() < 2:
        return None
    best_value = rows["value"].max() if kpi.direction == "higher_is_better" else rows["value"].min()
    worst_value = rows["value"].min() if kpi.direction == "higher_is_better" else rows["value"].max()
    short = {u.code: (u.short_zh if lang == "zh" else u.short_en) for u in config.city.units}

    def side(value: float) -> str:
        names = [short[c] for c in rows.loc[rows["value"] == value, "region_code"]]
        return _entry(names, format_number(value, kpi.unit, lang), lang)
    return (text_cell(kpi_label(kpi, lang)), text_cell(side(best_value), "good"), text_cell(side(worst_value), "bad"))


def lists_table(config: Config, facts: EditionFacts, lang: str) -> Table:
    """红黑榜: best and worst counties on the composite and on each indicator of the index."""
    n = config.bulletin.list_size
    rows = [_composite_lists(facts, n, lang), *(_kpi_lists(config, facts, k, lang) for k in config.index_kpis())]
    columns = tuple(t(f"bulletin.col.{c}", lang) for c in ("category", "red", "black"))
    return Table(sheet=t("bulletin.section.lists", lang), columns=columns, rows=tuple(r for r in rows if r),
                 widths=(2.6, 3.7, 3.7), note=t("bulletin.note.lists", lang, n=n))


# ---- alerts --------------------------------------------------------------------------------------------------


def alerts_blocks(config: Config, facts: EditionFacts, lang: str) -> list[Block]:
    """Overdue cases, bad reviews past their deadline and missed targets, most severe first."""
    blocks: list[Block] = [_heading("alerts", lang)]
    if facts.region_code != config.city.code:
        blocks.append(Para(t("bulletin.alerts.scope", lang, county=scope_name(config, facts.region_code, lang)),
                           "note"))
    if not facts.alerts:
        return [*blocks, Para(t("bulletin.alerts.none", lang))]
    order = {"open_overdue_cases": 0, "bad_review_overdue": 1, "target_missed": 2}
    alerts = sorted(facts.alerts, key=lambda a: order.get(a.kind, 3))  # stable: keeps severity and region order
    rows = tuple((text_cell(t(f"alert.severity.{a.severity}", lang), "bad" if a.severity == "high" else "plain"),
                  text_cell(describe_alert(a, lang, config))) for a in alerts)
    columns = (t("bulletin.col.severity", lang), t("bulletin.col.alert", lang))
    return [*blocks, Table(sheet=t("bulletin.section.alerts", lang), columns=columns, rows=rows, widths=(1.0, 9.0))]


# ---- county pages --------------------------------------------------------------------------------------------


def county_kpis(config: Config) -> list[KpiDefinition]:
    """The KPIs on a county page: the summary's headline KPIs and the indicators of the index, in config order."""
    wanted = set(config.bulletin.headline_kpis) | {k.code for k in config.index_kpis()}
    return [k for k in config.kpis if k.code in wanted]


def _place(facts: EditionFacts, kpi: KpiDefinition, region: str, lang: str) -> Cell:
    places = facts.places(kpi)
    if region not in places.index:
        return Cell(MISSING, tone="muted")
    n = int(places[region])
    return Cell(t("bulletin.rank.place", lang, n=n), n, "0")


def county_table(config: Config, facts: EditionFacts, region: str, lang: str) -> Table:
    """A county's KPIs beside the city's, with change, target status and its place among the counties."""
    rows = []
    for kpi in county_kpis(config):
        row = facts.row(region, kpi.code)
        value = None if row is None else row["value"]
        target = kpi.target_for(facts.period)
        rows.append((text_cell(kpi_label(kpi, lang)), value_cell(value, kpi.unit, lang, distinct_from=target),
                     value_cell(facts.value(config.city.code, kpi.code), kpi.unit, lang),
                     change_cell(None if row is None else row["mom_change"], kpi, lang),
                     value_cell(target, kpi.unit, lang),
                     status_cell(None if row is None else row["target_status"], lang),
                     _place(facts, kpi, region, lang)))
    cols = ("kpi", "county_value", "city_value", "mom", "target", "status", "county_rank")
    unit = _unit(config, region)
    return Table(sheet=unit.short_zh if lang == "zh" else unit.short_en,
                 columns=tuple(t(f"bulletin.col.{c}", lang) for c in cols), rows=tuple(rows),
                 widths=(3.4, 1.2, 1.2, 1.6, 1.2, 1.1, 1.1))


def _county_lead(facts: EditionFacts, region: str, name: str, lang: str) -> str:
    row = facts.ranking[facts.ranking["region_code"] == region]
    if row.empty or missing(row.iloc[0]["rank"]):
        return t("bulletin.county.lead_unranked", lang, county=name)
    r = row.iloc[0]
    interval = (t("bulletin.rank.interval", lang, low=int(r["rank_low"]), high=int(r["rank_high"]))
                if not missing(r["rank_low"]) else MISSING)
    return t("bulletin.county.lead", lang, county=name, composite=format_number(r["composite"], "score", lang),
             rank=int(r["rank"]), interval=interval, move=rank_move(r["rank_change"], lang))


def _points_text(config: Config, changes: Sequence, lang: str) -> str:  # noqa: ANN001 - PointsChange items
    return t("bulletin.list.sep", lang).join(
        t("bulletin.county.points", lang, kpi=kpi_name(config.kpi_by_code[c.kpi_code], lang),
          delta=format_number(c.delta, "score", lang, signed=True)) for c in changes)


def _county_missed(config: Config, facts: EditionFacts, region: str, lang: str) -> str:
    missed = [kpi_name(k, lang) for k in config.kpis
              if (row := facts.row(region, k.code)) is not None and row["target_status"] == "missed"]
    if not missed:
        return t("bulletin.county.all_met", lang)
    return t("bulletin.county.missed", lang, items=t("bulletin.list.sep", lang).join(missed))


def county_blocks(config: Config, facts: EditionFacts, region: str, lang: str) -> list[Block]:
    """One county's page: where it stands, why it moved, its KPIs beside the city, its indicator scores."""
    name = scope_name(config, region, lang)
    explanation = facts.explanations.get(region)
    blocks: list[Block] = [Heading(name, 2)] if facts.region_code == config.city.code else []
    blocks.append(Para(_county_lead(facts, region, name, lang), "lead"))
    if explanation and explanation.gains:
        blocks.append(Para(t("bulletin.county.gains", lang, items=_points_text(config, explanation.gains, lang))))
    if explanation and explanation.losses:
        blocks.append(Para(t("bulletin.county.losses", lang, items=_points_text(config, explanation.losses, lang))))
    blocks.append(Para(_county_missed(config, facts, region, lang)))
    blocks.append(county_table(config, facts, region, lang))
    if (facts.scores["region_code"] == region).any():
        blocks.append(Chart(f"scores_{region}", t("bulletin.chart.scores", lang, county=name), 760, 360))
    return blocks


# ---- data notes ----------------------------------------------------------------------------------------------


def notes_blocks(config: Config, facts: EditionFacts, lang: str) -> list[Block]:
    """Data as of, sources, quarantined rows and method notes."""
    total = sum(facts.quarantine.values())
    blocks: list[Block] = [_heading("notes", lang),
                           Para(t("bulletin.notes.as_of", lang, when=format_datetime(facts.data_as_of, lang))),
                           Para(t("bulletin.notes.sources", lang)),
                           Para(t("bulletin.notes.quarantine", lang, n=f"{total:,}"))]
    rows = [(text_cell(_dataset(name, lang)), Cell(f"{n:,}", n, "#,##0")) for name, n in facts.quarantine.items()]
    rows.append((text_cell(t("bulletin.dataset.total", lang)), Cell(f"{total:,}", total, "#,##0")))
    blocks.append(Table(sheet=t("bulletin.section.notes", lang),
                        columns=(t("bulletin.col.dataset", lang), t("bulletin.col.rows", lang)),
                        rows=tuple(rows), widths=(3.0, 2.0)))
    blocks.append(Para(t("bulletin.notes.method", lang), "note"))
    if facts.region_code != config.city.code:
        blocks.append(Para(t("bulletin.notes.scope_county", lang, county=scope_name(config, facts.region_code, lang)),
                           "note"))
    return blocks


def _dataset(name: str, lang: str) -> str:
    key = f"bulletin.dataset.{name}"
    return t(key, lang) if key in MESSAGES else name


# ---- the whole edition ---------------------------------------------------------------------------------------


def _body(config: Config, facts: EditionFacts, summary: list[str], lang: str) -> list[Block]:
    period_text = format_period(facts.period, lang)
    first_kpi = next((k for k in config.bulletin.headline_kpis if k in config.kpi_by_code), None)
    blocks: list[Block] = [_heading("summary", lang), *(Para(p) for p in summary),
                           Chart("trend", charts.trend_title(config, facts, lang), 760, 300), PageBreak(),
                           _heading("headline", lang), headline_table(config, facts, lang), PageBreak(),
                           _heading("ranking", lang), ranking_table(facts, lang),
                           Chart("composite", t("bulletin.chart.composite", lang, period=period_text), 760, 400)]
    if first_kpi:
        kpi = config.kpi_by_code[first_kpi]
        blocks.append(Chart(f"comparison_{first_kpi}", t("bulletin.chart.comparison", lang, kpi=kpi_name(kpi, lang),
                                                          period=period_text), 760, 500))
    blocks += [_heading("lists", lang), lists_table(config, facts, lang), *alerts_blocks(config, facts, lang),
               PageBreak()]
    return blocks


def build_content(*, config: Config, facts: EditionFacts, lang: str, generated_at: dt.datetime,
                  with_figures: bool = True) -> Bulletin:
    """One edition's content and (for PDF and Word) the Plotly figures of the charts it places, from its facts."""
    region = facts.region_code
    is_city = region == config.city.code
    name = scope_name(config, region, lang)
    summary = summary_paragraphs(config=config, facts=facts, scope_name=name, lang=lang,
                                 alerts_section=section_number("alerts", lang))
    blocks = _body(config, facts, summary, lang)
    blocks.append(_heading("counties", lang) if is_city else _heading("own_county", lang, county=name))
    for i, code in enumerate(page_regions(config, region)):
        if i:
            blocks.append(PageBreak())
        blocks += county_blocks(config, facts, code, lang)
    blocks += [PageBreak(), *notes_blocks(config, facts, lang)]
    edition = t("bulletin.edition.city", lang) if is_city else t("bulletin.edition.county", lang, county=name)
    figs = charts.figures_for(config=config, facts=facts, blocks=blocks, lang=lang) if with_figures else {}
    return Bulletin(period=facts.period, region_code=region, is_city=is_city, lang=lang,
                    title=t("bulletin.title", lang, scope=name), edition=edition,
                    issuer=t("bulletin.issuer", lang, city=name_in(config.city, lang)),
                    generated_at=generated_at, data_as_of=facts.data_as_of, summary=tuple(summary),
                    blocks=tuple(blocks), figures=figs)
