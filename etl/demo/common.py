"""Shared machinery for the demo sources: the run context, county profiles, time helpers and bad-row budgets."""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from etl.demo.units import BUREAU_OPENED, POPULATION_10K, RETIRED_CODES, UnitSpec
from models.calendar import WorkCalendar

DAY = 86_400
HOUR = 3_600
MINUTE = 60
CITY_BUREAU_OPENED = np.datetime64("2024-03-29", "D")
DEFAULT_SCALE = 0.02
REFERENCE_MONTHS = 46  # 2023-01..2026-10: the window the bad-row bases are tuned for

# Stable per-source tags mixed into every random stream, so adding a source never shifts another.
TAG_PROFILE, TAG_CATALOGUE, TAG_CASES, TAG_RATINGS, TAG_RATING_FILES, TAG_HOTLINE, TAG_COUNTY, TAG_PLAN = (
    101, 102, 103, 104, 105, 106, 107, 108)
TAG_BUNDLES = 109


@dataclass(frozen=True)
class CountyProfile:
    """How one county behaves: fixed per county code so its character survives a change of seed."""

    weight: float  # population in 10k, drives volumes
    speed: float  # multiplier on processing time (>1 slower)
    online: float  # additive offset on the online share
    bad_review: float  # multiplier on the bad-review rate
    overdue: float  # multiplier on the overdue share
    coverage: float  # share of completed cases that get rated
    hotline_speed: float  # multiplier on hotline handling time
    hotline_quality: float  # additive offset on hotline resolution rate
    bureau_opened: np.datetime64  # when the county's own bureau opened


def county_profile(unit: UnitSpec) -> CountyProfile:
    """Derive a county's character from its code alone (deterministic, seed-independent)."""
    rng = np.random.default_rng([TAG_PROFILE, zlib.crc32(unit.code.encode())])
    weight = POPULATION_10K.get(unit.code, float(rng.uniform(8.0, 40.0)))
    opened = BUREAU_OPENED.get(unit.code)
    opened_day = np.datetime64(opened, "D") if opened else (
        np.datetime64("2024-04-09", "D") + np.timedelta64(int(rng.integers(14, 200)), "D"))
    return CountyProfile(
        weight=weight,
        speed=float(np.exp(rng.uniform(-0.28, 0.30))),
        online=float(rng.uniform(-0.12, 0.12)),
        bad_review=float(np.exp(rng.uniform(-0.7, 0.7))),
        overdue=float(np.exp(rng.uniform(-0.7, 0.8))),
        coverage=float(rng.uniform(0.70, 0.90)),
        hotline_speed=float(np.exp(rng.uniform(-0.25, 0.25))),
        hotline_quality=float(rng.uniform(-0.05, 0.04)),
        bureau_opened=opened_day,
    )


@dataclass(frozen=True)
class Month:
    """One calendar month of the generated span."""

    index: int
    start: np.datetime64  # first day, datetime64[D]
    end: np.datetime64  # first day of the next month

    @property
    def label(self) -> str:
        return str(self.start)[:7]

    @property
    def days(self) -> np.ndarray:
        return np.arange(self.start, self.end, dtype="datetime64[D]")


@dataclass
class Context:
    """Everything a source generator needs: units, their profiles, the calendar and the random streams."""

    units: list[UnitSpec]
    months: list[Month]
    scale: float
    seed: int
    now: int  # epoch seconds, naive Shanghai wall clock
    calendar: WorkCalendar
    profiles: list[CountyProfile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.profiles = [county_profile(u) for u in self.units]
        self.codes = np.array([u.code for u in self.units])
        self.weights = np.array([p.weight for p in self.profiles])
        self.shares = self.weights / self.weights.sum()
        self.speed = np.array([p.speed for p in self.profiles])
        self.online = np.array([p.online for p in self.profiles])
        self.bad_review = np.array([p.bad_review for p in self.profiles])
        self.overdue = np.array([p.overdue for p in self.profiles])
        self.coverage = np.array([p.coverage for p in self.profiles])
        self.hotline_speed = np.array([p.hotline_speed for p in self.profiles])
        self.hotline_quality = np.array([p.hotline_quality for p in self.profiles])
        self.opened = np.array([p.bureau_opened for p in self.profiles], dtype="datetime64[D]")
        retired = {new: old for old, new in RETIRED_CODES.items()}
        self.retired_for = [retired.get(u.code) for u in self.units]

    def rng(self, tag: int, *key: int) -> np.random.Generator:
        """An independent random stream for (seed, source tag, key...)."""
        return np.random.default_rng([self.seed & 0xFFFFFFFF, self.seed >> 32, tag, *key])

    @property
    def now_day(self) -> np.datetime64:
        return np.datetime64(self.now // DAY, "D")

    @property
    def data_end(self) -> int:
        """Epoch seconds where generated events stop being *created* (end of end_month, capped at now)."""
        return min(int(self.months[-1].end.astype("datetime64[s]").astype(np.int64)), self.now)

    @property
    def volume_factor(self) -> float:
        """How big this run is against the default one, for sub-linear bad-row budgets."""
        return math.sqrt(self.scale / DEFAULT_SCALE * len(self.months) / REFERENCE_MONTHS)


def parse_month(text: str) -> np.datetime64:
    """'2026-10' -> datetime64[D] of its first day, with a clear error for anything else."""
    try:
        year, month = (int(p) for p in text.split("-"))
        return np.datetime64(dt.date(year, month, 1), "D")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"month must look like 'YYYY-MM', got {text!r}") from exc


def month_span(start_month: str, end_month: str) -> list[Month]:
    """The months from start to end inclusive."""
    first = parse_month(start_month).astype("datetime64[M]")
    last = parse_month(end_month).astype("datetime64[M]")
    if last < first:
        raise ValueError(f"end_month {end_month} is before start_month {start_month}")
    out = []
    for i, m in enumerate(np.arange(first, last + 1)):
        out.append(Month(i, m.astype("datetime64[D]"), (m + 1).astype("datetime64[D]")))
    return out


# -- time helpers -------------------------------------------------------------------------------------

def day_seconds(days: np.ndarray) -> np.ndarray:
    """datetime64[D] -> epoch seconds of midnight."""
    return days.astype("datetime64[D]").astype(np.int64) * DAY


def day_of(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds -> datetime64[D]."""
    return (np.asarray(ts, dtype=np.int64) // DAY).astype("datetime64[D]")


def fmt_ts(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds -> 'YYYY-MM-DD HH:MM:SS' (fixed-width unicode array)."""
    out = np.datetime_as_string(np.asarray(ts, dtype=np.int64).astype("datetime64[s]"), unit="s")
    out = np.ascontiguousarray(out, dtype="U19")
    if len(out):
        out.view(np.uint32).reshape(len(out), 19)[:, 10] = ord(" ")
    return out


def fmt_opt(ts: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Like `fmt_ts`, but None where the event has not happened (object array)."""
    out = np.full(len(ts), None, dtype=object)
    if present.any():
        out[present] = fmt_ts(ts[present])
    return out


def fmt_day(days: np.ndarray, sep: str = "-") -> np.ndarray:
    """datetime64[D] -> 'YYYY-MM-DD' (or another separator)."""
    out = np.datetime_as_string(days.astype("datetime64[D]"), unit="D")
    return out if sep == "-" else sreplace(out, "-", sep)


def sreplace(a: np.ndarray, old: str, new: str) -> np.ndarray:
    """np.char.replace that also accepts empty arrays."""
    a = np.asarray(a)
    return a if a.size == 0 else np.char.replace(a, old, new)


def serial(prefix: np.ndarray | str, days: np.ndarray, seq: np.ndarray, width: int = 6) -> np.ndarray:
    """Serial numbers like prefix + YYYYMMDD + zero-padded running number."""
    if len(seq) == 0:
        return np.array([], dtype="U1")
    number = np.char.zfill(np.asarray(seq).astype(f"U{width + 2}"), width)
    return np.char.add(np.char.add(prefix, fmt_day(days, "")), number)


def office_time(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds of day within office hours (08:30-12:00, 14:30-18:00), mornings busier."""
    morning = rng.random(n) < 0.58
    lo = np.where(morning, 8 * HOUR + 30 * MINUTE, 14 * HOUR + 30 * MINUTE)
    return lo + rng.integers(0, int(3.5 * HOUR), n)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 before, 1 after, smooth in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def improvement(ctx: Context, days: np.ndarray, county: np.ndarray) -> np.ndarray:
    """0 before the city bureau opened, ramping to 1 over ~6 months (70% city, 30% the county's own bureau)."""
    d = days.astype("datetime64[D]")
    city = smoothstep((d - CITY_BUREAU_OPENED).astype(np.float64) / 182.0)
    local = smoothstep((d - ctx.opened[county]).astype(np.float64) / 120.0)
    return 0.7 * city + 0.3 * local


def growth(month: Month) -> float:
    """Slow growth of every volume, 3% a year, so 2025 sits at the nominal yearly volume."""
    years = (month.start - np.datetime64("2025-07-01", "D")).astype(np.int64) / 365.25
    return float(1.03 ** years)


def add_working_days(ctx: Context, days: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Vectorised working-day addition that never returns NaT inside the calendar span."""
    return ctx.calendar.add_working_days_many(days.astype("datetime64[D]"), n.astype(np.int64))


def working_days_between(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Working days after day a up to day b (integer, 0 where unknown)."""
    out = ctx.calendar.working_days_between_many(a.astype("datetime64[D]"), b.astype("datetime64[D]"))
    return np.nan_to_num(out, nan=0.0).astype(np.int64)


def weekday_weight(days: np.ndarray, working: np.ndarray, off_weight: float) -> np.ndarray:
    """Relative daily volume: Mondays busiest, Fridays quieter, non-working days at `off_weight`."""
    wd = (days.astype("datetime64[D]").astype(np.int64) - 4) % 7  # 0 = Monday
    base = np.array([1.15, 1.05, 1.0, 1.0, 0.9, 0.75, 0.75])[wd]
    return np.where(working, base, off_weight)


# -- bad rows ---------------------------------------------------------------------------------------------

def bad_budget(ctx: Context, bases: dict[str, int]) -> dict[str, int]:
    """Bad rows per kind: sub-linear in volume (square root), at least two of each kind."""
    return {k: max(2, int(round(v * ctx.volume_factor))) for k, v in bases.items()}


def spread_over_months(ctx: Context, tag: int, total: dict[str, int], weights: np.ndarray) -> np.ndarray:
    """Split each kind's budget over months in proportion to volume: array [month, kind]."""
    rng = ctx.rng(TAG_PLAN, tag)
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum()
    return np.stack([rng.multinomial(n, p) for n in total.values()], axis=1)


def month_weights(ctx: Context) -> np.ndarray:
    """Expected relative volume of each month (working days x growth)."""
    out = []
    for m in ctx.months:
        working = ctx.calendar.is_working_day_many(m.days).sum()
        out.append(max(working, 1) * growth(m))
    return np.array(out, dtype=np.float64)


def pick_disjoint(rng: np.random.Generator, candidates: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    """Disjoint random subsets of `candidates` with the given sizes (smaller when candidates run out)."""
    perm = rng.permutation(candidates)
    out, pos = [], 0
    for c in counts:
        out.append(np.sort(perm[pos:pos + c]))
        pos += len(out[-1])
    return out


def group_sequence(keys: np.ndarray, order_by: np.ndarray) -> np.ndarray:
    """1-based running number within each key, in `order_by` order (vectorised group cumcount)."""
    order = np.lexsort((order_by, keys))
    sk = keys[order]
    n = len(keys)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = sk[1:] != sk[:-1]
    idx = np.arange(n)
    first = np.maximum.accumulate(np.where(starts, idx, 0))
    seq = np.empty(n, dtype=np.int64)
    seq[order] = idx - first + 1
    return seq


@lru_cache(maxsize=1)
def demo_calendar() -> WorkCalendar:
    """A private calendar, so warnings about unknown years do not mark the shared one as already warned."""
    return WorkCalendar()


def epoch_seconds(value: dt.datetime) -> int:
    """Naive wall-clock datetime -> epoch seconds on the same naive clock."""
    return int(np.datetime64(value.replace(microsecond=0), "s").astype(np.int64))
