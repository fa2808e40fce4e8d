"""Everything one edition needs, read from the marts in one place, so the content is built from plain frames."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import cached_property

import pandas as pd
from sqlalchemy.orm import Session

from models.alerts import Alert, kpi_alerts
from models.bulletin_reads import quarantine_counts, read_mart_rows
from models.config import Config, KpiDefinition
from models.kpis import available_periods, data_as_of, previous_period, read_kpi_monthly
from models.ranking import RankChangeExplanation, explain_rank_change, read_county_ranking, read_indicator_scores
from models.scope import Viewer

TREND_MONTHS = 13


@dataclass(frozen=True)
class EditionFacts:
    """The month's numbers for one edition: marts for this month, last month and a year ago, ranking, alerts."""

    period: str
    previous: str
    year_ago: str
    region_code: str  # the edition's scope
    city_code: str
    marts: pd.DataFrame  # read_mart_rows columns, all regions, the three months
    ranking: pd.DataFrame  # read_county_ranking
    scores: pd.DataFrame  # read_indicator_scores of the counties that get a page
    explanations: dict[str, RankChangeExplanation]
    alerts: list[Alert]
    trend: pd.DataFrame  # the city's values over the last TREND_MONTHS months
    data_as_of: dt.datetime | None
    quarantine: dict[str, int]

    def value(self, region: str, kpi: str, period: str | None = None) -> float | None:
        """A mart value, or None."""
        row = self.row(region, kpi, period)
        return None if row is None or pd.isna(row["value"]) else float(row["value"])

    def row(self, region: str, kpi: str, period: str | None = None) -> pd.Series | None:
        """The mart row of a region, KPI and month (this month by default)."""
        key = (region, period or self.period, kpi)
        return self._index.get(key)

    def county_rows(self, kpi: str) -> pd.DataFrame:
        """This month's mart rows of one KPI for the counties (not the city), indexed by region code."""
        return self._by_kpi.get(kpi, self.marts.iloc[0:0].set_index("region_code"))

    def places(self, kpi: KpiDefinition) -> pd.Series:
        """Each county's place (1 = best, ties share the best place) on one KPI this month."""
        if kpi.code not in self._places:
            values = self.county_rows(kpi.code)["value"].dropna()
            self._places[kpi.code] = values.rank(ascending=kpi.direction == "lower_is_better", method="min")
        return self._places[kpi.code]

    @cached_property
    def _places(self) -> dict[str, pd.Series]:
        return {}

    @cached_property
    def _by_kpi(self) -> dict[str, pd.DataFrame]:
        rows = self.marts[(self.marts["period"] == self.period) & (self.marts["region_code"] != self.city_code)]
        return {code: group.set_index("region_code") for code, group in rows.groupby("kpi_code")}

    @cached_property
    def _index(self) -> dict[tuple[str, str, str], pd.Series]:
        return {(r.region_code, r.period, r.kpi_code): r for _, r in self.marts.iterrows()}

def year_ago(period: str) -> str:
    """The same month a year before."""
    return f"{int(period[:4]) - 1}{period[4:]}"


def page_regions(config: Config, region_code: str) -> list[str]:
    """Counties that get a full page: all of them in the city edition, only its own in a county edition."""
    return config.unit_codes() if region_code == config.city.code else [region_code]


def scope_facts(facts: EditionFacts, *, config: Config, region_code: str) -> EditionFacts:
    """A county edition's facts cut from the city edition's: its own alerts, score page and explanation only."""
    if region_code == facts.region_code:
        return facts
    pages = page_regions(config, region_code)
    return replace(facts, region_code=region_code,
                   scores=facts.scores[facts.scores["region_code"].isin(pages)].reset_index(drop=True),
                   explanations={code: facts.explanations[code] for code in pages if code in facts.explanations},
                   alerts=[a for a in facts.alerts if a.region_code == region_code])


def gather_facts(*, session: Session, config: Config, period: str, region_code: str,
                 today: dt.date | None = None) -> EditionFacts:
    """Read one edition's numbers; a county edition reads case-level alerts of its own county only."""
    viewer = Viewer.city_wide()
    months = [period, previous_period(period), year_ago(period)]
    pages = page_regions(config, region_code)
    alert_regions = None if region_code == config.city.code else [region_code]
    return EditionFacts(
        period=period, previous=months[1], year_ago=months[2], region_code=region_code, city_code=config.city.code,
        marts=read_mart_rows(session=session, viewer=viewer, periods=months),
        ranking=read_county_ranking(session=session, config=config, period=period),
        scores=read_indicator_scores(session=session, config=config, period=period, region_codes=pages),
        explanations={code: explain_rank_change(session=session, config=config, region_code=code, period=period)
                      for code in pages},
        alerts=kpi_alerts(session=session, config=config, period=period, region_codes=alert_regions, today=today),
        trend=_trend(session, config, period),
        data_as_of=data_as_of(session=session),
        quarantine=quarantine_counts(session=session),
    )


def _trend(session: Session, config: Config, period: str) -> pd.DataFrame:
    months = [p for p in available_periods(session=session, viewer=Viewer.city_wide()) if p <= period]
    return read_kpi_monthly(session=session, viewer=Viewer.city_wide(), kpi_codes=[k.code for k in config.kpis],
                            periods=months[-TREND_MONTHS:], region_codes=[config.city.code])
