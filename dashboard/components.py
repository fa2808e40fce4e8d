"""Reusable pieces of page layout built from model data: pure functions, no database and no callbacks."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from bizenv.i18n import format_change, format_value, name_in, t, target_operator, value_parts
from models.kpis import KpiCard

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
