"""Working-day calendar: China's official holidays and swapped working days, plus configured overrides.

Processing times are counted in working days (工作日). The calendar is built once over a fixed span as a
cumulative index, so counting working days between millions of date pairs is two array look-ups.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar
import numpy as np

log = logging.getLogger(__name__)

SPAN_START = dt.date(2015, 1, 1)
SPAN_END = dt.date(2035, 12, 31)


class CalendarFallbackWarning(UserWarning):
    """A year the holiday package does not know yet: weekends plus overrides are used instead."""


@dataclass(frozen=True, slots=True)
class DayInfo:
    """One calendar day as stored in `dim_calendar`."""

    day: dt.date
    is_working_day: bool
    kind: str  # workday | weekend | holiday | swapped_workday
    holiday_name: str | None
    source: str  # chinese_calendar | weekend_fallback | override


# chinese-calendar's own tables. Its is_workday/get_holiday_detail rescan them for the supported years on every
# call (0.7 s for the calendar span); the same rules applied to the tables directly take milliseconds.
_HOLIDAYS: Mapping[dt.date, str] = chinese_calendar.holidays
_WORKDAYS: Mapping[dt.date, str] = chinese_calendar.workdays
_KNOWN_YEARS = range(min(_HOLIDAYS).year, max(_HOLIDAYS).year + 1)


def _official_day(day: dt.date) -> DayInfo | None:
    """Classify a day as `chinese-calendar` does, or None when the package does not cover its year."""
    if day.year not in _KNOWN_YEARS:
        return None
    weekend = day.weekday() >= 5
    if day in _WORKDAYS:  # a swapped working day (调休) or an ordinary one listed by the package
        name = _WORKDAYS[day]
        return DayInfo(day, True, "swapped_workday" if weekend else "workday", name if weekend else None,
                       "chinese_calendar")
    if day in _HOLIDAYS:
        return DayInfo(day, False, "holiday" if _HOLIDAYS[day] else "weekend", _HOLIDAYS[day] or None,
                       "chinese_calendar")
    return DayInfo(day, not weekend, "weekend" if weekend else "workday", None, "chinese_calendar")


def _fallback_day(day: dt.date) -> DayInfo:
    """Weekends only, for years the package does not know yet."""
    weekend = day.weekday() >= 5
    return DayInfo(day, not weekend, "weekend" if weekend else "workday", None, "weekend_fallback")


def _override_day(day: dt.date, working: bool, note: str | None) -> DayInfo:
    """A day fixed by configuration, which wins over the package."""
    weekend = day.weekday() >= 5
    if working:
        kind = "swapped_workday" if weekend else "workday"
    else:
        kind = "weekend" if (weekend and not note) else "holiday"
    return DayInfo(day, working, kind, note, "override")


class WorkCalendar:
    """Working days over a fixed span, with vectorised counting for ETL-sized arrays."""

    def __init__(
        self,
        *,
        overrides: Mapping[dt.date, tuple[bool, str | None]] | None = None,
        start: dt.date = SPAN_START,
        end: dt.date = SPAN_END,
    ) -> None:
        self.start, self.end = start, end
        overrides = dict(overrides or {})
        days: list[DayInfo] = []
        fallback_years: set[int] = set()
        day = start
        while day <= end:
            if day in overrides:
                working, note = overrides[day]
                info = _override_day(day, working, note)
            else:
                official = _official_day(day)
                if official is None:
                    fallback_years.add(day.year)
                    info = _fallback_day(day)
                else:
                    info = official
            days.append(info)
            day += dt.timedelta(days=1)
        self.days = days
        self.fallback_years = frozenset(fallback_years)
        self._working = np.fromiter((d.is_working_day for d in days), dtype=bool, count=len(days))
        # _cum[i] = working days among the first i days of the span (so _cum[0] == 0).
        self._cum = np.concatenate([[0], np.cumsum(self._working, dtype=np.int64)])
        self._epoch = np.datetime64(start, "D")
        self._warned: set[int] = set()

    # -- single days -------------------------------------------------------------------------------
    def _index(self, day: dt.date) -> int:
        if not (self.start <= day <= self.end):
            raise ValueError(f"{day} is outside the working-day calendar span {self.start}..{self.end}")
        self._warn_fallback(day.year)
        return (day - self.start).days

    def _warn_fallback(self, year: int) -> None:
        if year in self.fallback_years and year not in self._warned:
            self._warned.add(year)
            message = (
                f"chinese-calendar has no official holiday schedule for {year}; counting weekends plus "
                "calendar.overrides from config.yaml. Add that year's holidays to the overrides."
            )
            warnings.warn(message, CalendarFallbackWarning, stacklevel=3)
            log.warning(message)

    def is_working_day(self, day: dt.date) -> bool:
        """Whether a government office is open on that day."""
        return bool(self._working[self._index(day)])

    def working_days_between(self, start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> int:
        """Working days d with start < d <= end: the acceptance day itself does not count."""
        s = start.date() if isinstance(start, dt.datetime) else start
        e = end.date() if isinstance(end, dt.datetime) else end
        return int(self._cum[self._index(e) + 1] - self._cum[self._index(s) + 1])

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The date that is n working days after start (start itself when n is 0)."""
        if n <= 0:
            return start
        target = self._cum[self._index(start) + 1] + n
        pos = int(np.searchsorted(self._cum, target, side="left"))
        if pos > len(self.days):
            raise ValueError(f"{n} working days after {start} is past the calendar span")
        return self.start + dt.timedelta(days=pos - 1)

    # -- arrays ------------------------------------------------------------------------------------
    def _positions(self, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Day offsets into the span, and a mask of the values that are present and inside it."""
        d = np.asarray(days, dtype="datetime64[D]")
        valid = ~np.isnat(d)
        offs = np.zeros(d.shape, dtype=np.int64)
        offs[valid] = (d[valid] - self._epoch).astype(np.int64)
        valid &= (offs >= 0) & (offs < len(self.days))
        for year in self.fallback_years:
            if year not in self._warned and valid.any():
                lo = (np.datetime64(f"{year}-01-01", "D") - self._epoch).astype(np.int64)
                hi = (np.datetime64(f"{year + 1}-01-01", "D") - self._epoch).astype(np.int64)
                if ((offs >= lo) & (offs < hi) & valid).any():
                    self._warn_fallback(year)
        return offs, valid

    def working_days_between_many(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Vectorised `working_days_between`; NaN where either date is missing or outside the span."""
        s, sv = self._positions(starts)
        e, ev = self._positions(ends)
        ok = sv & ev
        out = np.full(s.shape, np.nan)
        out[ok] = self._cum[e[ok] + 1] - self._cum[s[ok] + 1]
        return out

    def is_working_day_many(self, days: np.ndarray) -> np.ndarray:
        """Vectorised `is_working_day`; False outside the span."""
        offs, valid = self._positions(days)
        out = np.zeros(offs.shape, dtype=bool)
        out[valid] = self._working[offs[valid]]
        return out

    def add_working_days_many(self, starts: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Vectorised `add_working_days` over datetime64[D] starts; NaT where the result leaves the span."""
        offs, valid = self._positions(starts)
        n = np.maximum(np.asarray(n, dtype=np.int64), 0)
        target = self._cum[np.where(valid, offs, 0) + 1] + n
        pos = np.searchsorted(self._cum, target, side="left") - 1
        pos = np.where(n == 0, offs, pos)
        ok = valid & (pos < len(self.days))
        out = np.full(offs.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        out[ok] = self._epoch + pos[ok].astype("timedelta64[D]")
        return out


@lru_cache(maxsize=8)
def _cached(overrides: tuple[tuple[dt.date, bool, str | None], ...]) -> WorkCalendar:
    return WorkCalendar(overrides={d: (w, n) for d, w, n in overrides})


def get_calendar(overrides: Mapping[dt.date, tuple[bool, str | None]] | None = None) -> WorkCalendar:
    """A shared calendar per set of overrides: building one walks twenty years of days."""
    key = tuple(sorted((d, w, n) for d, (w, n) in (overrides or {}).items()))
    return _cached(key)


def working_days_between(
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime,
    *,
    overrides: Mapping[dt.date, tuple[bool, str | None]] | None = None,
) -> int:
    """Working days from start (exclusive) to end (inclusive), by the official calendar plus overrides."""
    return get_calendar(overrides).working_days_between(start, end)
