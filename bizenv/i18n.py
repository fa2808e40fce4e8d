"""The one message catalogue (zh, en) and the locale formatting that the dashboard, the bulletin and the CLI use.

Every string a person sees comes from MESSAGES or from config (KPI and region names); no page holds a literal.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal, Protocol

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
HTML_LANG: dict[Lang, str] = {"zh": "zh-CN", "en": "en"}
MISSING = "—"

MESSAGES: dict[str, dict[Lang, str]] = {
    # shell
    "app.lang_switch": {"zh": "语言", "en": "Language"},
    "app.lang.zh": {"zh": "中文", "en": "中文"},
    "app.lang.en": {"zh": "EN", "en": "EN"},
    "nav.overview": {"zh": "全市总览", "en": "City overview"},
    "nav.submissions": {"zh": "县区报送", "en": "County submissions"},
    "nav.dataops": {"zh": "数据运行", "en": "Data operations"},
    "app.freshness": {"zh": "数据截至 {when}", "en": "Data as of {when}"},
    # overview page
    "overview.title": {"zh": "全市总览", "en": "City overview"},
    "overview.subtitle": {"zh": "晋中市及各县（市、区）营商环境核心指标", "en": "Headline business-environment indicators for the city and its counties"},
    "overview.month_label": {"zh": "统计月份", "en": "Month"},
    "overview.kpi_label": {"zh": "地图与对比指标", "en": "Indicator for the map and comparison"},
    "overview.cards_heading": {"zh": "全市核心指标（{period}）", "en": "City headline indicators ({period})"},
    "overview.summary": {"zh": "{total} 项有目标的指标：{met} 项达标，{near} 项接近，{missed} 项未达标",
                         "en": "{total} indicators with a target: {met} met, {near} near, {missed} missed"},
    "overview.more": {"zh": "其余 {n} 项指标", "en": "{n} more indicators"},
    "overview.chart_title": {"zh": "各县（市、区）对比：{kpi}（{period}）", "en": "Counties compared: {kpi} ({period})"},
    "overview.chart_note": {"zh": "蓝色为优于全市，橙色为差于全市；虚线为全市水平。", "en": "Blue: better than the city; orange: worse. The dashed line is the city value."},
    "overview.map_title": {"zh": "县区地图：{kpi}（{period}）", "en": "County map: {kpi} ({period})"},
    "overview.map_note": {"zh": "颜色越深表示该指标越好；灰色为无数据。示意图，不代表实际边界。",
                          "en": "Darker means better on this indicator; grey: no data. Schematic, not real boundaries."},
    "overview.map_note_geo": {"zh": "颜色越深表示该指标越好；灰色为无数据。", "en": "Darker means better on this indicator; grey: no data."},
    "overview.composite_title": {"zh": "综合指数走势（近12个月）", "en": "Composite index, last 12 months"},
    "overview.composite_note": {"zh": "实线为11个县区综合指数的平均值，阴影为最低至最高，深色阴影为中间一半县区。",
                                "en": "The line is the counties' mean composite index; the light band spans lowest to highest, the dark band the middle half."},
    "overview.alerts_title": {"zh": "预警（{period}）", "en": "Alerts ({period})"},
    "overview.alerts_none": {"zh": "本月无预警", "en": "No alerts this month"},
    "overview.alerts_more": {"zh": "查看其余 {n} 条预警", "en": "Show {n} more alerts"},
    "overview.alerts_count": {"zh": "共 {high} 条严重、{medium} 条一般", "en": "{high} high, {medium} medium"},
    "overview.asof": {"zh": "数据截至 {when}", "en": "Data as of {when}"},
    "overview.asof_unknown": {"zh": "数据截至：尚无成功的数据更新记录", "en": "Data as of: no successful data update yet"},
    "overview.empty": {"zh": "暂无数据，请先运行 ETL", "en": "No data yet. Please run the ETL first."},
    # pillars
    "pillar.approval": {"zh": "审批时效", "en": "Approval"},
    "pillar.ratings": {"zh": "好差评", "en": "Service ratings"},
    "pillar.hotline": {"zh": "12345热线", "en": "12345 hotline"},
    "pillar.county_development": {"zh": "县域发展", "en": "County development"},
    # target status: the one colour language (always with an icon and a word, never colour alone)
    "status.legend": {"zh": "目标达成：", "en": "Target:"},
    "status.met": {"zh": "达标", "en": "met"},
    "status.near": {"zh": "接近目标", "en": "near"},
    "status.missed": {"zh": "未达标", "en": "missed"},
    "status.none": {"zh": "未设目标", "en": "no target"},
    # KPI help popover
    "help.button": {"zh": "指标说明：{kpi}", "en": "About this indicator: {kpi}"},
    "help.definition": {"zh": "定义", "en": "Definition"},
    "help.formula": {"zh": "计算方法", "en": "How it is computed"},
    "help.source": {"zh": "数据来源", "en": "Source"},
    "help.formula_direction": {"zh": "{formula}（{direction}）", "en": "{formula} ({direction})"},
    "help.direction.higher_is_better": {"zh": "越高越好", "en": "higher is better"},
    "help.direction.lower_is_better": {"zh": "越低越好", "en": "lower is better"},
    "source.approval": {"zh": "省一体化政务服务平台（办件数据）", "en": "Provincial online government-service platform (cases)"},
    "source.ratings": {"zh": "政务服务“好差评”系统", "en": "The government-service rating system (好差评)"},
    "source.hotline": {"zh": "12345政务服务便民热线系统", "en": "The 12345 hotline system"},
    "source.county_development": {"zh": "各县（市、区）月报（Excel报送）", "en": "County monthly reports (Excel workbooks)"},
    "formula.approval_mean_working_days": {"zh": "Σ办理工作日数 ÷ 当月办结件数", "en": "Σ working days ÷ cases completed in the month"},
    "formula.approval_median_working_days": {"zh": "当月办结办件办理工作日数的中位数", "en": "Median of working days over the cases completed in the month"},
    "formula.approval_on_time_rate": {"zh": "承诺时限内办结件数 ÷ 当月办结件数", "en": "Cases completed within the promised limit ÷ cases completed"},
    "formula.approval_overdue_rate": {"zh": "（超期办结 + 超期未办结）÷ 应办结件数", "en": "(completed late + open past due) ÷ cases due"},
    "formula.approval_limit_compression": {"zh": "1 − Σ承诺时限 ÷ Σ法定时限（事项清单）", "en": "1 − Σ promised limit ÷ Σ statutory limit (catalogue)"},
    "formula.approval_instant_share": {"zh": "即办件数 ÷ 办件总数", "en": "Instant cases ÷ all cases"},
    "formula.approval_online_rate": {"zh": "全程网办件数 ÷ 办件总数", "en": "Cases done fully online ÷ all cases"},
    "formula.approval_mean_visits": {"zh": "Σ跑动次数 ÷ 办件总数", "en": "Σ visits ÷ cases"},
    "formula.approval_zero_visit_share": {"zh": "零跑动办件数 ÷ 办件总数", "en": "Cases with no visit ÷ all cases"},
    "formula.approval_at_most_one_visit_share": {"zh": "最多跑一次办件数 ÷ 办件总数", "en": "Cases with at most one visit ÷ all cases"},
    "formula.approval_startup_days": {"zh": "营业执照、印章、发票、社保全部办结所需工作日（取最长环节）的平均值", "en": "Mean working days until licence, seal, invoice and social security are all done (the longest part)"},
    "formula.rating_count": {"zh": "当月评价条数", "en": "Ratings given in the month"},
    "formula.rating_positive_rate": {"zh": "（非常满意 + 满意 + 基本满意）÷ 评价总数", "en": "(very satisfied + satisfied + basically satisfied) ÷ ratings"},
    "formula.rating_bad_per_10k_cases": {"zh": "差评数 ÷ 办件数 × 10000", "en": "Bad reviews ÷ cases × 10,000"},
    "formula.rating_coverage": {"zh": "已评价办件数 ÷ 办结件数", "en": "Rated cases ÷ completed cases"},
    "formula.rating_rectification_rate": {"zh": "已整改差评数 ÷ 核实差评数", "en": "Rectified ÷ verified bad reviews"},
    "formula.rating_rectified_on_time_rate": {"zh": "期限内整改差评数 ÷ 到期差评数", "en": "Bad reviews rectified within the deadline ÷ those due"},
    "formula.hotline_on_time_closure_rate": {"zh": "按时办结工单数 ÷ 到期工单数", "en": "Tickets closed on time ÷ tickets due"},
    "formula.hotline_resolution_rate": {"zh": "已解决 ÷ 有效回访数", "en": "Resolved ÷ valid callbacks"},
    "formula.hotline_satisfaction_rate": {"zh": "（满意 + 基本满意）÷ 有效回访数", "en": "(satisfied + basically satisfied) ÷ valid callbacks"},
    "formula.hotline_callback_rate": {"zh": "已回访 ÷ 应回访工单数", "en": "Called back ÷ tickets due for callback"},
    "formula.hotline_reopen_rate": {"zh": "重办工单数 ÷ 办结工单数", "en": "Reopened ÷ closed tickets"},
    "formula.hotline_business_tickets_per_10k_entities": {"zh": "营商环境类工单数 ÷ 市场主体数 × 10000", "en": "Business-environment tickets ÷ market entities × 10,000"},
    "formula.county_market_entities_total": {"zh": "月末市场主体总数（县区月报）", "en": "Market entities at month end (county report)"},
    "formula.county_market_entities_new": {"zh": "当月新登记市场主体数", "en": "Market entities newly registered in the month"},
    "formula.county_market_entities_net_growth": {"zh": "（新登记 − 注销）÷ 上月末市场主体数", "en": "(new − cancelled) ÷ entities at the previous month end"},
    "formula.county_investment_signed": {"zh": "当月签约项目投资额合计", "en": "Investment signed in the month"},
    "formula.county_funds_in_place": {"zh": "当月到位资金合计", "en": "Funds in place in the month"},
    "formula.county_funds_in_place_rate": {"zh": "到位资金 ÷ 计划到位资金", "en": "Funds in place ÷ funds planned"},
    "formula.county_construction_start_rate": {"zh": "已开工项目数 ÷ 计划开工项目数", "en": "Projects started ÷ projects planned to start"},
    "formula.county_policy_payout": {"zh": "当月惠企政策兑现金额合计", "en": "Enterprise policy payouts in the month"},
    # KPI cards
    "card.vs_last_month": {"zh": "较上月", "en": "vs last month"},
    "card.vs_last_year": {"zh": "较去年同月", "en": "vs a year ago"},
    "card.mom": {"zh": "环比", "en": "MoM"},
    "card.yoy": {"zh": "同比", "en": "YoY"},
    "card.trend_alt": {"zh": "近12个月走势：{first} → {last}", "en": "Last 12 months: {first} → {last}"},
    "card.better": {"zh": "向好", "en": "better"},
    "card.worse": {"zh": "变差", "en": "worse"},
    "card.unchanged": {"zh": "＝ 持平", "en": "= unchanged"},
    "card.no_previous": {"zh": "上月无数据", "en": "no data for last month"},
    "card.no_value": {"zh": "本月无数据", "en": "no data this month"},
    "card.target": {"zh": "目标 {op} {target}", "en": "Target {op} {target}"},
    "card.target_met": {"zh": "已达标", "en": "met"},
    "card.target_missed": {"zh": "未达标", "en": "not met"},
    "card.no_target": {"zh": "未设定目标", "en": "No target set"},
    "card.sample": {"zh": "样本量 {n}", "en": "Sample size {n}"},
    # figures
    "figure.city": {"zh": "全市", "en": "City"},
    "figure.better_than_city": {"zh": "优于全市", "en": "Better than city"},
    "figure.worse_than_city": {"zh": "差于全市", "en": "Worse than city"},
    "figure.no_data": {"zh": "暂无数据", "en": "No data"},
    "figure.sample": {"zh": "样本量", "en": "Sample size"},
    "figure.mean": {"zh": "平均", "en": "Mean"},
    "figure.range": {"zh": "最低—最高", "en": "Lowest–highest"},
    "figure.middle_half": {"zh": "中间一半", "en": "Middle half"},
    "figure.composite": {"zh": "综合指数", "en": "Composite index"},
    "figure.better": {"zh": "较好", "en": "better"},
    "figure.worse": {"zh": "较差", "en": "worse"},
    # dropdown built-in texts
    "dropdown.search": {"zh": "搜索", "en": "Search"},
    "dropdown.clear_search": {"zh": "清除搜索", "en": "Clear search"},
    "dropdown.clear_selection": {"zh": "清除选择", "en": "Clear selection"},
    "dropdown.no_options_found": {"zh": "无匹配项", "en": "No options found"},
    # units: how a value is written, and the unit alone for axis titles
    "value.working_days": {"zh": "{n} 个工作日", "en": "{n} working days"},
    "value.ratio": {"zh": "{n}", "en": "{n}"},
    "value.count": {"zh": "{n} 件", "en": "{n}"},
    "value.per_10k": {"zh": "{n}", "en": "{n} per 10k"},
    "value.yi_yuan": {"zh": "{n} 亿元", "en": "CNY {n} bn"},
    "value.wan_yuan": {"zh": "{n} 万元", "en": "CNY {n} m"},
    "value.score": {"zh": "{n} 分", "en": "{n} points"},
    "value.visits": {"zh": "{n} 次", "en": "{n} visits"},
    "unit.working_days": {"zh": "工作日", "en": "working days"},
    "unit.ratio": {"zh": "%", "en": "%"},
    "unit.count": {"zh": "件", "en": "count"},
    "unit.per_10k": {"zh": "每万", "en": "per 10k"},
    "unit.yi_yuan": {"zh": "亿元", "en": "bn CNY"},
    "unit.wan_yuan": {"zh": "万元", "en": "m CNY"},
    "unit.score": {"zh": "分", "en": "points"},
    "unit.visits": {"zh": "次", "en": "visits"},
    "unit.pp": {"zh": "个百分点", "en": "pp"},
    # tables (dashboard/tables.py)
    "table.download_csv": {"zh": "下载 CSV", "en": "Download CSV"},
    "table.download_xlsx": {"zh": "下载 Excel", "en": "Download Excel"},
    "table.no_rows": {"zh": "没有符合条件的记录", "en": "No rows match"},
    "table.export_refused": {"zh": "您的账号为只读，不能下载数据", "en": "Your account is read-only and cannot download data"},
    "table.export_out_of_scope": {"zh": "无权下载该区域的明细", "en": "You may not download this area's details"},
    # alerts (models.alerts), as the CLI, the dashboard and the bulletin word them
    "alert.severity.high": {"zh": "严重", "en": "high"},
    "alert.severity.medium": {"zh": "一般", "en": "medium"},
    "alert.target_missed": {"zh": "{region}{kpi}为 {value}，未达到目标 {target}",
                            "en": "{region}: {kpi} is {value}, missing its target of {target}"},
    "alert.target_missed_worse": {"zh": "{region}{kpi}为 {value}，未达到目标 {target}，且较上月变差 {change}",
                                  "en": "{region}: {kpi} is {value}, missing its target of {target}, and worse than "
                                        "last month by {change}"},
    "alert.open_overdue_cases": {"zh": "{region}有 {count} 件办件超期未办结，最早应于 {oldest} 办结",
                                 "en": "{region}: {count} approval cases are open past their due date; the oldest "
                                       "was due {oldest}"},
    "alert.bad_review_overdue": {"zh": "{region}有 {count} 条核实差评超过整改期限未整改，最早的评价于 {oldest}",
                                 "en": "{region}: {count} verified bad reviews are past their rectification deadline; "
                                       "the oldest was given {oldest}"},
}


def _merge_areas() -> None:
    """Fold each area's messages into MESSAGES; a key defined twice is a bug, so it stops the import."""
    from bizenv.messages import approvals, auth, bulletin, county, dataops, ranking, service, submissions

    for area in (approvals, auth, bulletin, county, dataops, ranking, service, submissions):
        repeated = sorted(set(area.MESSAGES) & set(MESSAGES))
        if repeated:
            raise RuntimeError(f"{area.__name__}: message keys defined twice: {', '.join(repeated)}")
        for key, texts in area.MESSAGES.items():
            if set(texts) != set(LANGS):
                raise RuntimeError(f"{area.__name__}: {key} needs exactly the languages {LANGS}")
        MESSAGES.update(area.MESSAGES)  # type: ignore[arg-type]


_merge_areas()

# Decimal places per unit, and the factor that turns the stored value into the displayed number per language
# (亿元 shown in English as billions: 1 亿 = 0.1 bn; 万元 as millions: 1 万 = 0.01 m).
_DECIMALS: dict[str, int] = {"working_days": 1, "ratio": 1, "count": 0, "per_10k": 1, "yi_yuan": 2,
                             "wan_yuan": 1, "score": 1, "visits": 2}
_SCALE: dict[tuple[str, Lang], float] = {("ratio", "zh"): 100.0, ("ratio", "en"): 100.0,
                                         ("yi_yuan", "en"): 0.1, ("wan_yuan", "en"): 0.01}
_EN_DECIMALS: dict[str, int] = {"yi_yuan": 2, "wan_yuan": 2}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class NamedInBothLanguages(Protocol):
    name_zh: str
    name_en: str


def normalise_lang(value: Any, default: Lang = DEFAULT_LANG) -> Lang:
    """The language to render in; anything unknown (e.g. a stale localStorage value) falls back to the default."""
    return value if value in LANGS else default


def t(key: str, lang: str, **values: Any) -> str:
    """The message for `key` in `lang`, with `{name}` placeholders filled; unknown keys fail loudly in tests."""
    text = MESSAGES[key][normalise_lang(lang)]
    return text.format(**values) if values else text


def _is_missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _decimals(unit: str, lang: Lang) -> int:
    return _EN_DECIMALS.get(unit, _DECIMALS.get(unit, 1)) if lang == "en" else _DECIMALS.get(unit, 1)


def format_number(value: float | None, unit: str, lang: str, *, signed: bool = False,
                  distinct_from: float | None = None) -> str:
    """The bare number as shown for a unit (ratio 0.987 → "98.7%"), for bar labels and inside longer texts.

    With `distinct_from` (a target), up to two more decimals are shown when rounding would make a value that
    misses the target look equal to it ("2.04" rather than "2.0" against a target of 2.0).
    """
    lang = normalise_lang(lang)
    if _is_missing(value):
        return MISSING
    decimals = _decimals(unit, lang)
    scale = display_scale(unit, lang)
    if not _is_missing(distinct_from) and float(value) != float(distinct_from):
        limit = decimals + 2
        while decimals < limit and round(float(value) * scale, decimals) == round(float(distinct_from) * scale, decimals):
            decimals += 1
    shown = round(float(value) * scale, decimals)
    while unit == "ratio" and not signed and shown == 100.0 and float(value) < 1.0 and decimals < 3:
        decimals += 1  # 0.9996 is "99.96%", never a rounded-up "100.0%"
        shown = round(float(value) * 100.0, decimals)
        if shown == 100.0 and decimals == 3:
            shown = math.floor(float(value) * 100_000.0) / 1000.0
    shown = 0.0 if shown == 0 else shown  # never "-0.0"
    return f"{shown:{'+' if signed else ''},.{decimals}f}" + ("%" if unit == "ratio" else "")


def display_scale(unit: str, lang: str) -> float:
    """The factor from a stored value to the displayed number (ratio → percent, 亿元 → bn in English)."""
    return _SCALE.get((unit, normalise_lang(lang)), 1.0)


def unit_label(unit: str, lang: str) -> str:
    """The unit alone, for axis titles ("工作日", "working days")."""
    return t(f"unit.{unit}", lang)


def format_value(value: float | None, unit: str, lang: str) -> str:
    """A KPI value with its unit in the reader's language: "99.1%", "4.3 个工作日", "1,234 件", or "—"."""
    number = format_number(value, unit, lang)
    return number if number == MISSING else t(f"value.{unit}", lang, n=number)


def value_parts(value: float | None, unit: str, lang: str, *,
                distinct_from: float | None = None) -> tuple[str, str, str]:
    """A formatted value split into (prefix, number, suffix), so a card can show the number large, the unit small."""
    number = format_number(value, unit, lang, distinct_from=distinct_from)
    if number == MISSING:
        return "", number, ""
    prefix, _, suffix = MESSAGES[f"value.{unit}"][normalise_lang(lang)].partition("{n}")
    return prefix, number, suffix


def format_change(change: float | None, unit: str, lang: str) -> str:
    """A month-on-month change with its sign; ratio changes are percentage points ("+0.4 个百分点", "+0.4 pp")."""
    if _is_missing(change):
        return MISSING
    if unit == "ratio":
        return f"{format_number(change * 100.0, 'score', lang, signed=True)} {t('unit.pp', lang)}"
    return t(f"value.{unit}", lang, n=format_number(change, unit, lang, signed=True))


def format_period(period: str, lang: str) -> str:
    """A `YYYY-MM` month as "2026年10月" or "Oct 2026"."""
    year, month = int(period[:4]), int(period[5:7])
    return f"{year}年{month}月" if normalise_lang(lang) == "zh" else f"{_MONTHS_EN[month - 1]} {year}"


def format_datetime(when: dt.datetime | None, lang: str) -> str:
    """A timestamp to the minute as "2026年11月25日 08:30" or "25 Nov 2026 08:30"."""
    if when is None or when != when:  # None, or a missing time out of pandas (NaT is not equal to itself)
        return MISSING
    if normalise_lang(lang) == "zh":
        return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}"
    return f"{when.day} {_MONTHS_EN[when.month - 1]} {when.year} {when:%H:%M}"


def name_in(item: NamedInBothLanguages, lang: str) -> str:
    """An item's full name (a KPI, a region) in the reader's language, as configured."""
    return item.name_zh if normalise_lang(lang) == "zh" else item.name_en


def region_name(row: Any, lang: str, *, short: bool = True) -> str:
    """A region's label by language: short_zh (榆次) / short_en (Yuci), or the full names when `short` is off."""
    get = row.get if isinstance(row, dict) else (lambda key: getattr(row, key))
    if normalise_lang(lang) == "zh":
        return str(get("short_zh") if short else get("name_zh"))
    return str(get("short_en") if short else get("name_en"))


def target_operator(direction: str) -> str:
    """"≥" for a higher-is-better target, "≤" for a lower-is-better one."""
    return "≥" if direction == "higher_is_better" else "≤"


def dropdown_labels(lang: str) -> dict[str, str]:
    """The built-in texts of a Dash 4 dropdown in the reader's language."""
    keys = ("search", "clear_search", "clear_selection", "no_options_found")
    return {k: MESSAGES[f"dropdown.{k}"][normalise_lang(lang)] for k in keys}


def describe_alert(alert: Any, lang: str, config: Any) -> str:
    """One sentence for an alert (a models.alerts.Alert), the same on every page, in the bulletin and the CLI."""
    lang = normalise_lang(lang)
    region = config.city if alert.region_code == config.city.code else next(
        (u for u in config.city.units if u.code == alert.region_code), None)
    region_text = name_in(region, lang) if region is not None else alert.region_code
    kpi = config.kpi_by_code.get(alert.kpi_code) if alert.kpi_code else None
    if alert.kind == "target_missed" and kpi is not None:
        worse = alert.severity == "high" and alert.mom_change is not None
        return t("alert.target_missed_worse" if worse else "alert.target_missed", lang, region=region_text,
                 kpi=name_in(kpi, lang), value=format_value(alert.value, kpi.unit, lang),
                 target=format_value(alert.target, kpi.unit, lang),
                 change=format_change(abs(alert.mom_change), kpi.unit, lang) if worse else "")
    oldest = alert.oldest.isoformat() if alert.oldest else MISSING
    return t(f"alert.{alert.kind}", lang, region=region_text, count=f"{alert.count:,}", oldest=oldest)
