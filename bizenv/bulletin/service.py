"""Service functions the CLI, the scheduler and the dashboard's bulletin page call: build, archive, generate."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bizenv.bulletin.archive import ArchiveEntry, archive_file, check_edition_access
from bizenv.bulletin.charts import ChartExporter
from bizenv.bulletin.content import build_content
from bizenv.bulletin.docx import render_docx
from bizenv.bulletin.errors import NoData
from bizenv.bulletin.facts import EditionFacts, gather_facts, scope_facts
from bizenv.bulletin.model import Bulletin
from bizenv.bulletin.pdf import render_pdf
from bizenv.bulletin.xlsx import render_xlsx
from bizenv.i18n import t
from models.config import Config
from models.db import Warehouse
from models.marts import MartKpiMonthly
from models.scope import Viewer

FORMATS = ("pdf", "xlsx", "docx")
Progress = Callable[[int, int, str], None]  # (done, total, what was just built)


@dataclass(frozen=True)
class BuiltBulletin:
    """One edition's content and its files by format."""

    bulletin: Bulletin
    files: dict[str, bytes]
    seconds: float


def edition_regions(config: Config) -> list[str]:
    """Every edition of a month: the city, then each county in configured order."""
    return [config.city.code, *config.unit_codes()]


def _render(bulletin: Bulletin, fmt: str, images: dict[str, bytes]) -> bytes:
    if fmt == "pdf":
        return render_pdf(bulletin, images)
    if fmt == "xlsx":
        return render_xlsx(bulletin)
    if fmt == "docx":
        return render_docx(bulletin, images)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


def _check_region(config: Config, region_code: str) -> None:
    if region_code not in edition_regions(config):
        raise ValueError(f"unknown region {region_code!r}: expected the city {config.city.code} or a unit code")


def _check_month(session: Session, config: Config, period: str, region_code: str) -> None:
    _check_region(config, region_code)
    if session.scalar(select(MartKpiMonthly.period).where(MartKpiMonthly.period == period).limit(1)) is None:
        raise NoData(t("bulletin.error.no_data", "en", period=period) + " / " +
                     t("bulletin.error.no_data", "zh", period=period))


def render_edition(*, config: Config, facts: EditionFacts, lang: str, formats: Sequence[str],
                   generated_at: dt.datetime, exporter: ChartExporter | None = None) -> BuiltBulletin:
    """Draw one edition from its facts in every format, so all formats show the same content."""
    started = time.perf_counter()
    pictures = bool(set(formats) & {"pdf", "docx"})
    bulletin = build_content(config=config, facts=facts, lang=lang, generated_at=generated_at,
                             with_figures=pictures)
    images: dict[str, bytes] = {}
    if pictures:
        with _exporter(exporter, formats) as charts:
            images = charts.images(bulletin.figures)
    files = {fmt: _render(bulletin, fmt, images) for fmt in formats}
    return BuiltBulletin(bulletin, files, time.perf_counter() - started)


def _now(config: Config) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(config.timezone)).replace(tzinfo=None, microsecond=0)


def build_bulletin(*, session: Session, config: Config, period: str, region_code: str | None = None,
                   lang: str | None = None, formats: Sequence[str] = FORMATS, viewer: Viewer | None = None,
                   exporter: ChartExporter | None = None, generated_at: dt.datetime | None = None,
                   today: dt.date | None = None) -> BuiltBulletin:
    """Build one edition in the given formats (nothing is archived), refusing a county viewer other editions."""
    region = region_code or config.city.code
    check_edition_access(viewer=viewer or Viewer.city_wide(), region_code=region)
    _check_month(session, config, period, region)
    with _exporter(exporter, formats) as charts:  # the browser starts while the marts are read
        facts = gather_facts(session=session, config=config, period=period, region_code=region, today=today)
        return render_edition(config=config, facts=facts, lang=lang or config.bulletin.language, formats=formats,
                              generated_at=generated_at or _now(config), exporter=charts)


def _exporter(exporter: ChartExporter | None, formats: Sequence[str]) -> AbstractContextManager:
    """The caller's chart exporter, a new one when PDF or Word need charts, or nothing for Excel alone."""
    if exporter is not None or not set(formats) & {"pdf", "docx"}:
        return nullcontext(exporter)
    return ChartExporter()


def archive_bulletin(*, session: Session, config: Config, built: BuiltBulletin,
                     trigger: str = "manual") -> list[ArchiveEntry]:
    """Archive every file of a built edition as a new version; nothing archived before is touched."""
    b = built.bulletin
    return [archive_file(session=session, config=config, period=b.period, region_code=b.region_code, fmt=fmt,
                         lang=b.lang, content=content, data_as_of=b.data_as_of, generated_at=b.generated_at,
                         trigger=trigger) for fmt, content in built.files.items()]


def generate_bulletins(*, warehouse: Warehouse, config: Config, period: str,
                       region_codes: Sequence[str] | None = None, formats: Sequence[str] | None = None,
                       lang: str | None = None, viewer: Viewer | None = None, trigger: str = "manual",
                       progress: Progress | None = None, today: dt.date | None = None) -> list[ArchiveEntry]:
    """Build and archive editions from one read of the month and one chart browser (the scheduler's and the page's
    task); `progress(done, total, region_code)` follows each edition."""
    regions = list(region_codes or edition_regions(config))
    formats = list(formats or config.bulletin.formats)
    for region in regions:
        _check_region(config, region)
        check_edition_access(viewer=viewer or Viewer.city_wide(), region_code=region)
    entries: list[ArchiveEntry] = []
    lang, when = lang or config.bulletin.language, _now(config)
    with _exporter(None, formats) as exporter:
        with warehouse.session() as session:  # one snapshot of the month for every edition
            _check_month(session, config, period, config.city.code)
            month = gather_facts(session=session, config=config, period=period, region_code=config.city.code,
                                 today=today)
        for i, region in enumerate(regions, start=1):
            facts = scope_facts(month, config=config, region_code=region)
            built = render_edition(config=config, facts=facts, lang=lang, formats=formats, generated_at=when,
                                   exporter=exporter)
            with warehouse.session() as session:
                entries += archive_bulletin(session=session, config=config, built=built, trigger=trigger)
            if progress:
                progress(i, len(regions), region)
    return entries
