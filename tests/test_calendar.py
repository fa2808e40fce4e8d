"""Working days follow China's official holidays, swapped working days and config overrides."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest

from models.calendar import CalendarFallbackWarning, WorkCalendar, working_days_between

D = dt.date


def test_2026_spring_festival_counts_swapped_saturdays() -> None:
    # 2026 Spring Festival: 15-23 Feb off; Saturday 14 Feb and Saturday 28 Feb are working days.
    cal = WorkCalendar()
    assert cal.is_working_day(D(2026, 2, 14)) and cal.is_working_day(D(2026, 2, 28))
    assert not any(cal.is_working_day(D(2026, 2, d)) for d in range(15, 24))
    # Accepted Fri 13 Feb: working days after it up to Tue 24 Feb are Sat 14 and Tue 24 (hand count).
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2
    # ... up to Mon 2 Mar: 14, 24, 25, 26, 27, 28 (Sat), 2 Mar.
    assert working_days_between(D(2026, 2, 13), D(2026, 3, 2)) == 7
    # Same-day completion is zero working days; a completion time-of-day does not matter.
    assert working_days_between(dt.datetime(2026, 2, 13, 9), dt.datetime(2026, 2, 13, 17)) == 0


def test_add_working_days_inverts_counting() -> None:
    cal = WorkCalendar()
    assert cal.add_working_days(D(2026, 2, 13), 2) == D(2026, 2, 24)
    assert cal.add_working_days(D(2026, 2, 13), 0) == D(2026, 2, 13)


def test_vectorised_matches_a_day_by_day_count() -> None:
    cal = WorkCalendar()
    rng = np.random.default_rng(7)
    starts = np.datetime64("2023-01-01") + rng.integers(0, 1400, 300).astype("timedelta64[D]")
    ends = starts + rng.integers(0, 60, 300).astype("timedelta64[D]")
    got = cal.working_days_between_many(starts, ends)
    for s, e, g in zip(starts.astype(object), ends.astype(object), got, strict=True):
        brute = sum(cal.is_working_day(s + dt.timedelta(days=i)) for i in range(1, (e - s).days + 1))
        assert g == brute


def test_missing_dates_give_nan_not_errors() -> None:
    cal = WorkCalendar()
    out = cal.working_days_between_many(np.array(["2026-02-13", "NaT"], dtype="datetime64[D]"),
                                        np.array(["NaT", "2026-02-24"], dtype="datetime64[D]"))
    assert np.isnan(out).all()


def test_unknown_year_falls_back_to_weekends_plus_overrides_with_a_warning() -> None:
    cal = WorkCalendar(overrides={D(2027, 1, 1): (False, "元旦"), D(2027, 1, 9): (True, "调休")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Thu 31 Dec 2026 -> Mon 11 Jan 2027: Jan 1 holiday (override), Jan 4-8 work, Sat 9 swapped, Jan 11.
        assert cal.working_days_between(D(2026, 12, 31), D(2027, 1, 11)) == 7
    assert any(issubclass(w.category, CalendarFallbackWarning) and "2027" in str(w.message) for w in caught)
    assert not cal.is_working_day(D(2027, 1, 1))


def test_override_beats_the_package() -> None:
    cal = WorkCalendar(overrides={D(2026, 2, 24): (False, "防疫停工")})
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2
    assert cal.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 1


def test_outside_span_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="outside the working-day calendar span"):
        WorkCalendar().is_working_day(D(1990, 1, 1))
