"""Reusable pieces of page layout built from model data: pure functions, no database and no callbacks."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from bizenv.i18n import MESSAGES, MISSING, format_change, format_value, name_in, t, target_operator, value_parts
from dashboard.figures import STATUS_ICONS, STATUS_ORDER, sparkline_svg, status_colour
from models.config import KpiDefinition
from models.kpis import KpiCard
from models.ops_reads import KpiSnapshot

# Better/worse is said in words and arrows as well as colour (blue/orange stays apart for colour-blind readers).
TONE_CLASS = {True: "kpi-better", False: "kpi-worse", None: "kpi-neutral"}


def _change_line(card: KpiCard, lang: str) -> html.Div:
    """"较上月 ▲ +0.4 个百分点 向好": the arrow follows the number, the word and colour follow the direction."""
    label = html.Span(t("card.vs_last_month", lang), className="text-muted me-1")
    if card.value is None:
        return html.Div([label, html.Span(t("card.no_value", lang))], className="kpi-card-change")
    if card.change is None:
        return html.Div([label, html.Span(t("card.no_previous", lang))], className="kpi-card-change")
    if card.change == 0:
        return html.Div([label, html.Span(t("card.unchanged", lang))], className="kpi-card-change")
    arrow = "▲" if card.change > 0 else "▼"
    verdict = t("card.better" if card.improved else "card.worse", lang)
    return html.Div(
        [label, html.Span(f"{arrow} {format_change(card.change, card.unit, lang)}", className="me-1"),
         html.Span(verdict, className="kpi-verdict")],
        className=f"kpi-card-change {TONE_CLASS[card.improved]}",
    )


def _target_line(card: KpiCard, lang: str) -> html.Div:
    """"目标 ≥ 99.0% · 已达标 ✓", or that no target is set for the year."""
    if card.target is None:
        return html.Div(t("card.no_target", lang), className="kpi-card-target text-muted")
    target = t("card.target", lang, op=target_operator(card.direction),
               target=format_value(card.target, card.unit, lang))
    parts: list = [html.Span(target, className="me-2")]
    if card.target_met is not None:
        met = t("card.target_met" if card.target_met else "card.target_missed", lang)
        mark = "✓" if card.target_met else "✗"
        parts.append(html.Span(f"{mark} {met}", className=f"kpi-badge {TONE_CLASS[card.target_met]}"))
    return html.Div(parts, className="kpi-card-target")


def _value_line(card: KpiCard, lang: str) -> html.Div:
    """The value large and its unit small, so "3.6 working days" fits a narrow card."""
    prefix, number, suffix = value_parts(card.value, card.unit, lang, distinct_from=card.target)
    return html.Div([html.Span(prefix, className="kpi-card-unit"), html.Span(number, className="kpi-card-number"),
                     html.Span(suffix, className="kpi-card-unit")], className="kpi-card-value")


def kpi_card(card: KpiCard, lang: str) -> dbc.Card:
    """One headline KPI: name, value with unit, change against last month, target and sample size."""
    return dbc.Card(
        dbc.CardBody([
            html.H3(name_in(card, lang), className="kpi-card-name"),
            _value_line(card, lang),
            _change_line(card, lang),
            _target_line(card, lang),
            html.Div(t("card.sample", lang, n=f"{card.sample_size:,}"), className="kpi-card-sample text-muted"),
        ]),
        className=f"kpi-card h-100 {TONE_CLASS[card.target_met]}-edge",
    )


def kpi_cards_row(cards: list[KpiCard], lang: str) -> list[dbc.Col]:
    """Cards in grid columns: stacked on a phone, two across on a tablet, three on a laptop, four on a wide screen."""
    return [dbc.Col(kpi_card(card, lang), xs=12, md=6, lg=4, xxl=3) for card in cards]


# ---- the target-status colour language: an icon and a word with every colour ------------------------------------

STATUS_CLASS = {"met": "status-met", "near": "status-near", "missed": "status-missed", None: "status-none"}


def status_badge(status: str | None, lang: str) -> html.Span:
    """"✓ 达标" / "≈ 接近目标" / "✗ 未达标" / "– 未设目标": the status as icon, word and colour together."""
    key = status if status in STATUS_ICONS and status is not None else None
    return html.Span([html.Span(STATUS_ICONS[key], className="status-icon", **{"aria-hidden": "true"}),
                      t(f"status.{key or 'none'}", lang)], className=f"status-badge {STATUS_CLASS[key]}")


def status_legend(lang: str, *, id: str | None = None) -> html.Div:  # noqa: A002 - Dash's own prop name
    """What each colour means, shown once near the cards and maps that use it."""
    return html.Div([html.Span(t("status.legend", lang), className="me-2 text-muted"),
                     *[status_badge(s, lang) for s in (*STATUS_ORDER, None)]],
                    className="status-legend", **({"id": id} if id else {}))


# ---- KPI help: definition, formula and source from config, as a popover any page can add --------------------------


def kpi_help(kpi: KpiDefinition, lang: str, *, id_prefix: str) -> html.Span:
    """An ⓘ button with a click/tap popover: the KPI's definition (config), formula, direction and source.

    `id_prefix` keeps ids unique per page, e.g. `kpi_help(kpi, lang, id_prefix="county")` gives the button
    `county-help-<code>-button`. The popover needs no callback.
    """
    button_id = f"{id_prefix}-help-{kpi.code}-button"
    description = kpi.description_zh if lang == "zh" else kpi.description_en
    formula_key = f"formula.{kpi.computation}"
    body = [html.Dt(t("help.definition", lang)), html.Dd(description or name_in(kpi, lang))]
    if formula_key in MESSAGES:
        body += [html.Dt(t("help.formula", lang)),
                 html.Dd(t("help.formula_direction", lang, formula=t(formula_key, lang),
                           direction=t(f"help.direction.{kpi.direction}", lang)))]
    body += [html.Dt(t("help.source", lang)), html.Dd(t(f"source.{kpi.pillar}", lang))]
    return html.Span([
        html.Button("ⓘ", id=button_id, type="button", className="kpi-help-button",
                    title=t("help.button", lang, kpi=name_in(kpi, lang)),
                    **{"aria-label": t("help.button", lang, kpi=name_in(kpi, lang))}),
        dbc.Popover([dbc.PopoverHeader(name_in(kpi, lang)), dbc.PopoverBody(html.Dl(body, className="mb-0"))],
                    target=button_id, trigger="legacy", placement="bottom", className="kpi-help-popover"),
    ], className="kpi-help")


# ---- headline cards from mart snapshots (value, status, MoM, YoY, 12-month sparkline) ------------------------------


def _delta(label: str, change: float | None, kpi: KpiDefinition, lang: str) -> html.Span:
    """"环比 ▲ +0.4 个百分点" with better/worse in colour *and* arrow and a word for screen readers."""
    if change is None:
        return html.Span([html.Span(label, className="text-muted me-1"), MISSING], className="kpi-delta")
    if change == 0:
        return html.Span([html.Span(label, className="text-muted me-1"), t("card.unchanged", lang)],
                         className="kpi-delta")
    better = (change > 0) == (kpi.direction == "higher_is_better")
    arrow = "▲" if change > 0 else "▼"
    return html.Span([html.Span(label, className="text-muted me-1"),
                      f"{arrow} {format_change(change, kpi.unit, lang)}",
                      html.Span(f" {t('card.better' if better else 'card.worse', lang)}", className="kpi-verdict")],
                     className=f"kpi-delta {TONE_CLASS[better]}")


def _sparkline(snapshot: KpiSnapshot, kpi: KpiDefinition, lang: str, *, width: int = 120) -> html.Img:
    values = [v for v in snapshot.series if v is not None]
    alt = t("card.trend_alt", lang, first=format_value(values[0], kpi.unit, lang) if values else MISSING,
            last=format_value(values[-1], kpi.unit, lang) if values else MISSING)
    return html.Img(src=sparkline_svg(snapshot.series, colour=status_colour(snapshot.target_status), width=width),
                    alt=alt, title=alt, className="kpi-sparkline")


def headline_card(snapshot: KpiSnapshot, kpi: KpiDefinition, lang: str, *, id_prefix: str = "overview") -> dbc.Card:
    """A key KPI, large: name and help, value, target status, MoM and YoY, a 12-month sparkline."""
    prefix, number, suffix = value_parts(snapshot.value, kpi.unit, lang, distinct_from=snapshot.target)
    target = (t("card.target", lang, op=target_operator(kpi.direction),
                target=format_value(snapshot.target, kpi.unit, lang)) if snapshot.target is not None else "")
    return dbc.Card(dbc.CardBody([
        html.Div([html.H4(name_in(kpi, lang), className="kpi-card-name"), kpi_help(kpi, lang, id_prefix=id_prefix)],
                 className="kpi-card-title"),
        html.Div([
            html.Div([html.Span(prefix, className="kpi-card-unit"), html.Span(number, className="kpi-card-number"),
                      html.Span(suffix, className="kpi-card-unit")], className="kpi-card-value"),
            _sparkline(snapshot, kpi, lang),
        ], className="kpi-card-main"),
        html.Div([status_badge(snapshot.target_status if snapshot.target is not None else None, lang),
                  html.Span(target, className="kpi-card-target-text")], className="kpi-card-target"),
        html.Div([_delta(t("card.mom", lang), snapshot.mom_change, kpi, lang),
                  _delta(t("card.yoy", lang), snapshot.yoy_change, kpi, lang)], className="kpi-card-deltas"),
    ]), className=f"kpi-card h-100 {STATUS_CLASS[snapshot.target_status]}-edge")


def compact_kpi_row(snapshot: KpiSnapshot, kpi: KpiDefinition, lang: str, *, id_prefix: str = "overview") -> html.Li:
    """A secondary KPI on one line: status icon, name and help, value, MoM, sparkline."""
    key = snapshot.target_status if snapshot.target is not None else None
    return html.Li([
        html.Span(STATUS_ICONS[key], className=f"status-dot {STATUS_CLASS[key]}",
                  title=t(f"status.{key or 'none'}", lang)),
        html.Span([name_in(kpi, lang), kpi_help(kpi, lang, id_prefix=id_prefix)], className="kpi-row-name"),
        html.Span(format_value(snapshot.value, kpi.unit, lang), className="kpi-row-value"),
        _delta(t("card.mom", lang), snapshot.mom_change, kpi, lang),
        _sparkline(snapshot, kpi, lang, width=72),
    ], className="kpi-row")


def pillar_section(pillar: str, snapshots: list[tuple[KpiSnapshot, KpiDefinition]], lang: str, *,
                   headline: int = 2, id_prefix: str = "overview") -> html.Section:
    """One pillar: its first `headline` KPIs as cards, the rest as a compact list that opens on a tap."""
    top, rest = snapshots[:headline], snapshots[headline:]
    counts = {s: sum(1 for snap, _ in snapshots if snap.target is not None and snap.target_status == s)
              for s in STATUS_ORDER}
    summary = html.Span([html.Span(f"{STATUS_ICONS[s]} {counts[s]}", className=f"pillar-count {STATUS_CLASS[s]}",
                                   title=t(f"status.{s}", lang)) for s in STATUS_ORDER if counts[s]],
                        className="pillar-counts")
    children: list = [
        html.H3([t(f"pillar.{pillar}", lang), summary], className="pillar-heading"),
        dbc.Row([dbc.Col(headline_card(s, k, lang, id_prefix=id_prefix), xs=12, sm=6) for s, k in top],
                className="g-2 mb-2"),
    ]
    if rest:
        children.append(html.Details([
            html.Summary(t("overview.more", lang, n=len(rest))),
            html.Ul([compact_kpi_row(s, k, lang, id_prefix=id_prefix) for s, k in rest], className="kpi-rows"),
        ], className="pillar-more"))
    return html.Section(children, className="pillar-section")
