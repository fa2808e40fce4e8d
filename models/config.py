"""Configuration: `config.yaml`, validated with pydantic so a wrong key stops with its path and reason."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_CONFIG = "BIZENV_CONFIG"
ENV_DATABASE_URL = "BIZENV_DATABASE_URL"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_]+$")]


class ConfigError(Exception):
    """A configuration problem, with a message that names the file and the key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(_Strict):
    code: Code
    name_zh: str
    name_en: str
    short_zh: str
    short_en: str
    aliases: list[str] = []
    # Approximate centroid [longitude, latitude] (WGS-84), where the dashboard's tile map places the unit.
    centroid: tuple[float, float] | None = None

    @field_validator("centroid")
    @classmethod
    def _lon_lat(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90):
            raise ValueError(f"expected [longitude, latitude], got {list(value)}")
        return value


class City(_Strict):
    code: Code
    name_zh: str
    name_en: str
    units: list[Unit] = Field(min_length=1)
    retired_codes: dict[str, Code] = {}

    @model_validator(mode="after")
    def _codes_unique_and_retired_resolve(self) -> City:
        codes = [u.code for u in self.units]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"unit codes must be unique; repeated: {', '.join(dupes)}")
        if self.code in codes:
            raise ValueError(f"the city code {self.code} cannot also be a unit code")
        for old, new in self.retired_codes.items():
            if new not in codes:
                raise ValueError(f"retired code {old} maps to {new}, which is not a unit code")
            if old in codes:
                raise ValueError(f"retired code {old} is still a current unit code")
        return self


class CalendarOverride(_Strict):
    date: dt.date
    working: bool
    note: str | None = None


class CalendarSettings(_Strict):
    overrides: list[CalendarOverride] = []

    def as_mapping(self) -> dict[dt.date, tuple[bool, str | None]]:
        """The overrides keyed by day, in the form `models.calendar` takes."""
        return {o.date: (o.working, o.note) for o in self.overrides}


class WarehouseSettings(_Strict):
    url: str = "sqlite:///var/bizenv.db"


class PolicyEvent(_Strict):
    """A dated policy event that trend charts annotate (e.g. the bureau's founding)."""

    date: dt.date
    label_zh: str = Field(min_length=1)
    label_en: str = Field(min_length=1)


class DashboardSettings(_Strict):
    default_language: Literal["zh", "en"] = "zh"
    title_zh: str = "晋中市营商环境监测平台"
    title_en: str = "Jinzhong Business Environment Monitor"
    # County monthly figures for a month are due by this day of the following month.
    submission_deadline_day: int = Field(default=5, ge=1, le=28)
    # A GeoJSON of the units (feature id or properties.adcode/code = unit code); the overview map becomes a
    # choropleth. Relative paths resolve against the config folder. Without it the map is a drawn tile map.
    geojson: str | None = None
    events: list[PolicyEvent] = []


class SecuritySettings(_Strict):
    # The n-th wrong password in a row locks the account for lock_minutes.
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    lock_minutes: int = Field(default=15, ge=1)
    # Failed logins allowed per client address per minute before the login answers 429.
    failures_per_ip_per_minute: int = Field(default=20, ge=1)
    # Mark the session cookie Secure: set true when the site is served over HTTPS (behind nginx).
    cookie_secure: bool = False
    session_hours: int = Field(default=12, ge=1, le=24 * 30)


class MonitoringSettings(_Strict):
    """What `/healthz` calls stale: a job whose last successful run is older than its limit makes it answer 503."""

    max_etl_age_minutes: int = Field(default=1560, ge=1)  # 26 h: a daily job that missed one run
    job_max_age_minutes: dict[str, Annotated[int, Field(ge=1)]] = {}  # per job, overriding max_etl_age_minutes

    def limit_for(self, job: str) -> int:
        """The age in minutes beyond which a job's last success is stale."""
        return self.job_max_age_minutes.get(job, self.max_etl_age_minutes)


Pillar = Literal["approval", "ratings", "hotline", "county_development"]
PILLARS: tuple[Pillar, ...] = ("approval", "ratings", "hotline", "county_development")


class IndexBounds(_Strict):
    """The fixed frontier of one indicator for a year: `best` scores 100, `worst` scores 0."""

    best: float
    worst: float

    @model_validator(mode="after")
    def _distinct(self) -> IndexBounds:
        if self.best == self.worst:
            raise ValueError(f"best and worst must differ (both are {self.best})")
        return self


class KpiDefinition(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name_zh: str
    name_en: str
    unit: Literal["working_days", "ratio", "count", "per_10k", "yi_yuan", "wan_yuan", "score", "visits"]
    direction: Literal["higher_is_better", "lower_is_better"]
    pillar: Pillar
    computation: str
    params: dict[str, str | int | float | bool] = {}
    description_zh: str = ""
    description_en: str = ""
    target: dict[int, float] = {}
    # How far short of the target still counts as 'near' (in the KPI's unit); default: targets.near_margin × target.
    near_margin: float | None = Field(default=None, ge=0)
    min_sample: int = Field(default=30, ge=0)
    # Distance-to-frontier bounds per year; a KPI with bounds is an indicator of the composite index.
    index: dict[int, IndexBounds] = {}

    @model_validator(mode="after")
    def _bounds_follow_direction(self) -> KpiDefinition:
        for year, b in self.index.items():
            if (b.best > b.worst) != (self.direction == "higher_is_better"):
                raise ValueError(f"index.{year}: best {b.best} and worst {b.worst} contradict "
                                 f"direction {self.direction}")
        return self

    def target_for(self, period: str) -> float | None:
        """The target in force for a `YYYY-MM` period."""
        return self.target.get(int(period[:4]))

    def bounds_for(self, period: str) -> IndexBounds | None:
        """The index bounds for a period's year; a year not yet configured keeps the latest earlier year's."""
        year = int(period[:4])
        earlier = [y for y in self.index if y <= year]
        return self.index[max(earlier)] if earlier else (self.index[min(self.index)] if self.index else None)


class HttpApiSource(_Strict):
    kind: Literal["http_api"]
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    token_env: str | None = None
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    page_param: str = "page"
    size_param: str = "size"
    page_size: int = Field(default=1000, ge=1, le=100_000)
    first_page: int = 1
    cursor_param: str = "updated_since"
    records_path: str = "data.records"
    total_path: str | None = "data.total"
    timeout_seconds: float = Field(default=30, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    endpoints: dict[str, str]

    def token(self) -> str | None:
        """The API token, read from the environment at call time so it is never stored in config."""
        return os.environ.get(self.token_env) if self.token_env else None


class FilesSource(_Strict):
    kind: Literal["files"]
    path: str
    pattern: str = "*"
    encoding: str | None = None


class SqlViewSource(_Strict):
    kind: Literal["sql_view"]
    url: str
    view: str
    cursor_column: str = "updated_at"


Source = Annotated[HttpApiSource | FilesSource | SqlViewSource, Field(discriminator="kind")]


class JobSettings(_Strict):
    source: str
    dataset: str
    schedule: str
    stream: str | None = None  # the endpoint name, for an http_api source
    fields: dict[str, str] = {}  # canonical field -> source field, overriding the dataset's defaults

    @field_validator("schedule")
    @classmethod
    def _cron_has_five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"expected a 5-field cron expression (minute hour day month weekday), got {value!r}")
        return value


class DemoSettings(_Strict):
    sources_dir: str = "var/demo/sources"
    seed: int = 20240329
    default_scale: float = Field(default=0.02, gt=0)


class TargetSettings(_Strict):
    near_margin: float = Field(default=0.05, ge=0, lt=1)  # relative: within 5% of the target is 'near'


class RankingSettings(_Strict):
    pillar_weights: dict[Pillar, float]
    # A rate whose sample is under the KPI's min_sample is shrunk toward the city (empirical-Bayes
    # beta-binomial), or left out of the county's score and flagged.
    small_sample: Literal["shrink", "exclude"] = "shrink"
    draws: int = Field(default=1000, ge=50, le=20_000)  # posterior draws for the rank interval
    interval: float = Field(default=0.9, gt=0, lt=1)  # central probability of the rank interval
    seed: int = 20240329

    @field_validator("pillar_weights")
    @classmethod
    def _weights_add_up(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()):
            raise ValueError("weights cannot be negative")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights must add up to 1, they add up to {total:g}")
        return value


class BulletinSettings(_Strict):
    """The monthly bulletin (月度通报): when the scheduler builds it, in which formats, and where it is archived."""

    enabled: bool = True
    day: int = Field(default=3, ge=1, le=28)  # day of the month it is built, for the month before
    time: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "08:00"
    cron: str | None = None  # a 5-field cron expression; overrides day and time when set
    formats: list[Literal["pdf", "xlsx", "docx"]] = Field(default=["pdf", "xlsx", "docx"], min_length=1)
    archive_dir: str = "var/reports"  # relative to the config file's folder
    language: Literal["zh", "en"] = "zh"
    # The KPIs the written summary talks about, in this order (codes not configured under kpis are skipped).
    headline_kpis: list[str] = ["avg_processing_days", "on_time_rate", "online_rate", "positive_rate",
                                "hotline_satisfaction_rate"]
    list_size: int = Field(default=3, ge=1, le=5)  # counties on each of the red and black lists (红黑榜)

    @field_validator("cron")
    @classmethod
    def _cron_has_five_fields(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"expected a 5-field cron expression (minute hour day month weekday), got {value!r}")
        return value


class Config(_Strict):
    city: City
    timezone: str = "Asia/Shanghai"
    calendar: CalendarSettings = CalendarSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    dashboard: DashboardSettings = DashboardSettings()
    security: SecuritySettings = SecuritySettings()
    kpis: list[KpiDefinition] = []
    targets: TargetSettings = TargetSettings()
    ranking: RankingSettings | None = None
    sources: dict[str, Source] = {}
    jobs: dict[str, JobSettings] = {}
    demo: DemoSettings = DemoSettings()
    bulletin: BulletinSettings = BulletinSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    # Where the file was read from; relative paths in it resolve against this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        codes = [k.code for k in self.kpis]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"kpis: codes must be unique; repeated: {', '.join(dupes)}")
        self._check_index()
        for name, job in self.jobs.items():
            if job.source not in self.sources:
                raise ValueError(f"jobs.{name}.source: no source named {job.source!r} under sources")
            src = self.sources[job.source]
            if isinstance(src, HttpApiSource) and job.stream not in src.endpoints:
                raise ValueError(f"jobs.{name}.stream: {job.stream!r} is not one of sources.{job.source}.endpoints")
        for name in self.monitoring.job_max_age_minutes:
            if name not in self.jobs:
                raise ValueError(f"monitoring.job_max_age_minutes.{name}: no job named {name!r} under jobs")
        return self

    def _check_index(self) -> None:
        indexed = [(i, k) for i, k in enumerate(self.kpis) if k.index]
        if not indexed:
            return
        if self.ranking is None:
            raise ValueError("ranking: required when any KPI has index bounds (pillar_weights at least)")
        years = set(indexed[0][1].index)
        for i, kpi in indexed:
            if set(kpi.index) != years:
                missing = sorted(years ^ set(kpi.index))
                raise ValueError(f"kpis[{i}].index: missing bound for year(s) {missing}; every indexed KPI "
                                 f"needs bounds for the same years ({sorted(years)})")
        pillars = {k.pillar for _, k in indexed}
        for pillar, weight in self.ranking.pillar_weights.items():
            if weight > 0 and pillar not in pillars:
                raise ValueError(f"ranking.pillar_weights.{pillar}: weighted, but no KPI of that pillar "
                                 "has index bounds")
        for pillar in sorted(pillars - set(self.ranking.pillar_weights)):
            raise ValueError(f"ranking.pillar_weights: no weight for pillar {pillar!r}, which has indexed KPIs")

    def index_kpis(self) -> list[KpiDefinition]:
        """The KPIs that make up the composite index, in config order."""
        return [k for k in self.kpis if k.index]

    @cached_property
    def kpi_by_code(self) -> dict[str, KpiDefinition]:
        """KPI definitions keyed by code."""
        return {k.code: k for k in self.kpis}

    def unit_codes(self) -> list[str]:
        """Reporting unit codes in configured order."""
        return [u.code for u in self.city.units]

    def resolve_path(self, path: str) -> Path:
        """A path from the file, relative to the file's folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)

    def database_url(self) -> str:
        """The warehouse URL: BIZENV_DATABASE_URL wins; relative SQLite paths resolve against the config folder."""
        url = os.environ.get(ENV_DATABASE_URL) or self.warehouse.url
        return resolve_sqlite_url(url, self.base_dir)


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """Make `sqlite:///relative.db` absolute so the warehouse does not depend on the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base_dir / url[len(prefix):]).resolve())
    return url


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("http_api", "files", "sql_view"):
            continue  # pydantic's discriminator tag, not a key the user wrote
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _iter_errors(path: Path, exc: ValidationError) -> Iterator[str]:
    for err in exc.errors(include_url=False):
        where = _format_loc(tuple(err["loc"]))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against docs/configuration.md)"
        yield f"{path}: {where}: {msg}"


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate the configuration named by the argument, BIZENV_CONFIG, or the repo's config.yaml."""
    cfg_path = Path(path or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG).expanduser().resolve()
    if not cfg_path.is_file():
        raise ConfigError(f"{cfg_path}: configuration file not found (set --config or {ENV_CONFIG})")
    try:
        raw = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{cfg_path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{cfg_path}: expected a mapping at the top level")
    try:
        config = Config.model_validate({**raw, "base_dir": cfg_path.parent})
    except ValidationError as exc:
        raise ConfigError("\n".join(_iter_errors(cfg_path, exc))) from None
    _check_kpi_computations(cfg_path, config)
    return config


def _check_kpi_computations(cfg_path: Path, config: Config) -> None:
    from models.computations import COMPUTATIONS, build_computation  # local import: it reads KPI definitions

    for i, kpi in enumerate(config.kpis):
        if kpi.computation not in COMPUTATIONS:
            known = ", ".join(sorted(COMPUTATIONS))
            raise ConfigError(
                f"{cfg_path}: kpis[{i}].computation: unknown computation {kpi.computation!r} (known: {known})"
            )
        try:
            build_computation(kpi.computation, kpi.params)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{cfg_path}: kpis[{i}].params: {exc}") from None
