"""Regions: the city and its units from config, and resolution of every spelling sources use."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.config import Config
from models.dims import DimRegion, DimRegionAlias


def region_rows(config: Config) -> list[dict]:
    """`dim_region` rows: the city first, then the units in configured order."""
    city = config.city
    rows = [
        dict(code=city.code, parent_code=None, name_zh=city.name_zh, name_en=city.name_en,
             short_zh=city.name_zh, short_en=city.name_en, level="city", sort_order=0)
    ]
    for i, u in enumerate(city.units, start=1):
        rows.append(dict(code=u.code, parent_code=city.code, name_zh=u.name_zh, name_en=u.name_en,
                         short_zh=u.short_zh, short_en=u.short_en, level="county", sort_order=i))
    return rows


def alias_map(config: Config) -> dict[str, str]:
    """Every accepted spelling of a unit (code, names, short names, aliases, retired codes) -> current code."""
    return {alias: code for alias, (code, _kind) in _alias_kinds(config).items()}


def _alias_kinds(config: Config) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for u in config.city.units:
        for alias, kind in [(u.code, "code"), (u.name_zh, "name"), (u.name_en, "name"), (u.short_zh, "short"),
                            (u.short_en, "short"), *[(a, "alias") for a in u.aliases]]:
            out.setdefault(_norm(alias), (u.code, kind))
    for old, new in config.city.retired_codes.items():
        out[_norm(old)] = (new, "retired_code")
    return out


def _norm(text: str) -> str:
    return text.strip().casefold()


def normalise_region_text(text: str) -> str:
    """The key under which `alias_map` stores a spelling."""
    return _norm(text)


def sync_regions(*, session: Session, config: Config) -> None:
    """Make `dim_region` and `dim_region_alias` match config, without touching rows that are already right."""
    wanted = {r["code"]: r for r in region_rows(config)}
    existing = {r.code: r for r in session.scalars(select(DimRegion))}
    for code, row in wanted.items():
        current = existing.get(code)
        if current is None:
            session.add(DimRegion(**row))
        else:
            for key, value in row.items():
                if getattr(current, key) != value:
                    setattr(current, key, value)
    session.flush()
    aliases = _alias_kinds(config)
    have = {a.alias: a for a in session.scalars(select(DimRegionAlias))}
    stale = set(have) - set(aliases)
    if stale:
        session.execute(delete(DimRegionAlias).where(DimRegionAlias.alias.in_(stale)))
    for alias, (code, kind) in aliases.items():
        current = have.get(alias)
        if current is None:
            session.add(DimRegionAlias(alias=alias, region_code=code, kind=kind))
        elif (current.region_code, current.kind) != (code, kind):
            current.region_code, current.kind = code, kind
    session.flush()
