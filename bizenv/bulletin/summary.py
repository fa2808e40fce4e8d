"""The written summary (总体情况): sentences generated from the month's mart numbers, never typed by hand."""

from __future__ import annotations

from bizenv.bulletin.cells import improved, missing
from bizenv.bulletin.facts import EditionFacts
from bizenv.i18n import format_number, format_period, format_value, t
from models.config import Config, KpiDefinition


def kpi_name(kpi: KpiDefinition, lang: str) -> str:
    """A KPI's name for use inside a sentence (English lower-cases the first word)."""
    if lang == "zh":
        return kpi.name_zh
    name = kpi.name_en
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name


def magnitude(change: float, unit: str, lang: str) -> str:
    """The size of a change with its unit, unsigned: "0.2 个工作日", "0.7 个百分点"."""
    if unit == "ratio":
        return f"{format_number(abs(change) * 100.0, 'score', lang)} {t('unit.pp', lang)}"
    return format_value(abs(change), unit, lang)


def change_phrase(kpi: KpiDefinition, change: float | None, lang: str) -> str:
    """较上月缩短0.2个工作日 / 较上月上升0.4个百分点 / 与上月持平."""
    if missing(change):
        return t("bulletin.change.none", lang)
    shown = magnitude(change, kpi.unit, lang)
    if shown.split(" ")[0].replace("%", "").strip("0.,") == "":
        return t("bulletin.change.same", lang)
    if kpi.unit == "working_days":
        return t("bulletin.change.shorter" if change < 0 else "bulletin.change.longer", lang, d=shown)
    return t("bulletin.change.up" if change > 0 else "bulletin.change.down", lang, d=shown)


def _clauses(config: Config, facts: EditionFacts, region: str, lang: str) -> list[str]:
    out = []
    for code in config.bulletin.headline_kpis:
        kpi = config.kpi_by_code.get(code)
        row = facts.row(region, code) if kpi else None
        if kpi is None or row is None or missing(row["value"]):
            continue
        out.append(t("bulletin.summary.clause", lang, kpi=kpi_name(kpi, lang),
                     value=format_value(float(row["value"]), kpi.unit, lang),
                     change=change_phrase(kpi, None if missing(row["mom_change"]) else float(row["mom_change"]),
                                          lang)))
    return out


def lead_sentence(config: Config, facts: EditionFacts, region: str, region_name: str, lang: str) -> str | None:
    """The headline KPIs of a region with their change on last month, in one sentence."""
    clauses = _clauses(config, facts, region, lang)
    if not clauses:
        return None
    month = format_period(facts.period, lang)
    joined = t("bulletin.summary.clause_sep", lang).join(clauses)
    if region == config.city.code:
        return t("bulletin.summary.city_lead", lang, month=month, clauses=joined)
    return t("bulletin.summary.county_lead", lang, month=month, county=region_name, clauses=joined)


def missed_sentence(config: Config, facts: EditionFacts, region: str, lang: str) -> str:
    """The KPIs that missed the year's target, with value and target."""
    items = []
    for kpi in config.kpis:
        row = facts.row(region, kpi.code)
        if row is None or row["target_status"] != "missed":
            continue
        target = kpi.target_for(facts.period)
        items.append(t("bulletin.summary.missed_item", lang, kpi=kpi_name(kpi, lang),
                       value=_with_unit(float(row["value"]), kpi.unit, lang, target),
                       target=_with_unit(target, kpi.unit, lang, None)))
    if not items:
        return t("bulletin.summary.all_met", lang)
    return t("bulletin.summary.missed", lang, n=len(items), items=t("bulletin.summary.missed_sep", lang).join(items))


def _with_unit(value: float | None, unit: str, lang: str, distinct_from: float | None) -> str:
    number = format_number(value, unit, lang, distinct_from=distinct_from)
    if unit == "ratio":
        return number
    return t(f"value.{unit}", lang, n=number)


def kpi_moves_sentence(config: Config, facts: EditionFacts, region: str, lang: str) -> str | None:
    """The indicator that improved most and the one that worsened most, measured against its index range."""
    moves = []
    for kpi in config.kpis:
        bounds = kpi.bounds_for(facts.period)
        row = facts.row(region, kpi.code)
        if bounds is None or row is None or missing(row["mom_change"]) or row["mom_change"] == 0:
            continue
        change = float(row["mom_change"])
        sign = 1.0 if improved(kpi, change) else -1.0
        moves.append((sign * abs(change) / abs(bounds.best - bounds.worst), kpi, change))
    better = max((m for m in moves if m[0] > 0), default=None, key=lambda m: m[0])
    worse = min((m for m in moves if m[0] < 0), default=None, key=lambda m: m[0])
    if better is None or worse is None:
        return None
    return t("bulletin.summary.kpi_moves", lang, better=kpi_name(better[1], lang),
             better_change=change_phrase(better[1], better[2], lang), worse=kpi_name(worse[1], lang),
             worse_change=change_phrase(worse[1], worse[2], lang))


def _names(rows, lang: str) -> str:  # noqa: ANN001 - DataFrame rows
    return t("bulletin.list.sep", lang).join(r.name_zh if lang == "zh" else r.name_en for r in rows.itertuples())


def best_worst_sentence(facts: EditionFacts, n: int, lang: str) -> str | None:
    """The top and bottom counties on the composite index (ties at the edge included)."""
    ranked = facts.ranking.dropna(subset=["rank"])
    if len(ranked) < 2 * n:
        return None
    best = ranked[ranked["rank"] <= sorted(ranked["rank"])[n - 1]]
    worst = ranked[ranked["rank"] >= sorted(ranked["rank"], reverse=True)[n - 1]]
    return t("bulletin.summary.best_worst", lang, n=n, best=_names(best, lang), worst=_names(worst, lang))


def rank_moves_sentence(facts: EditionFacts, lang: str) -> str | None:
    """The county that rose most in the ranking and the one that fell most."""
    moved = facts.ranking.dropna(subset=["rank_change"])
    if moved.empty:
        return None
    up, down = moved.loc[moved["rank_change"].idxmax()], moved.loc[moved["rank_change"].idxmin()]
    if up["rank_change"] <= 0 or down["rank_change"] >= 0:
        return t("bulletin.summary.rank_moves_none", lang) if (moved["rank_change"] == 0).all() else None
    name = "name_zh" if lang == "zh" else "name_en"
    return t("bulletin.summary.rank_moves", lang, up=up[name], up_n=int(up["rank_change"]), down=down[name],
             down_n=int(-down["rank_change"]))


def county_rank_sentence(facts: EditionFacts, region: str, region_name: str, lang: str) -> str | None:
    """A county's composite, rank and move."""
    row = facts.ranking[facts.ranking["region_code"] == region]
    if row.empty or missing(row.iloc[0]["rank"]):
        return None
    r = row.iloc[0]
    return t("bulletin.summary.county_rank", lang, county=region_name, composite=format_number(r["composite"],
             "score", lang), rank=int(r["rank"]), move=rank_move(r["rank_change"], lang))


def rank_move(change: float | None, lang: str) -> str:
    """较上月上升2位 / 下降1位 / 与上月持平 / 上月无排名."""
    if missing(change):
        return t("bulletin.county.move_none", lang)
    n = int(change)
    if n == 0:
        return t("bulletin.county.move_same", lang)
    return t("bulletin.county.move_up" if n > 0 else "bulletin.county.move_down", lang, n=abs(n))


def alerts_sentence(facts: EditionFacts, section: str, lang: str) -> str | None:
    """How many alerts the month has, and how many are high."""
    if not facts.alerts:
        return None
    high = sum(a.severity == "high" for a in facts.alerts)
    key = "bulletin.summary.alerts" if high else "bulletin.summary.alerts_no_high"
    return t(key, lang, n=len(facts.alerts), high=high, section=section)


def summary_paragraphs(*, config: Config, facts: EditionFacts, scope_name: str, lang: str,
                       alerts_section: str) -> list[str]:
    """The summary: headline KPIs, best and worst counties, largest moves, missed targets, alerts."""
    region = facts.region_code
    is_city = region == config.city.code
    first = [lead_sentence(config, facts, region, scope_name, lang)]
    if not is_city:
        first.append(county_rank_sentence(facts, region, scope_name, lang))
    ranking = [best_worst_sentence(facts, config.bulletin.list_size, lang)]
    if is_city:
        ranking.append(rank_moves_sentence(facts, lang))
    moves = [kpi_moves_sentence(config, facts, region, lang), missed_sentence(config, facts, region, lang),
             alerts_sentence(facts, alerts_section, lang)]
    paragraphs = [_join(first, lang), _join(ranking, lang), _join(moves, lang)]
    out = [p for p in paragraphs if p]
    return out or [t("bulletin.summary.no_data", lang, month=format_period(facts.period, lang))]


def _join(sentences: list[str | None], lang: str) -> str:
    return ("" if lang == "zh" else " ").join(s for s in sentences if s)


