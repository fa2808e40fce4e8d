"""`bizenv report`: build, archive and optionally copy out one edition of the monthly bulletin."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bizenv.bulletin.archive import archive_root
from bizenv.bulletin.errors import BulletinError
from bizenv.bulletin.service import FORMATS, generate_bulletins
from models.config import Config
from models.db import Warehouse
from models.regions import alias_map, normalise_region_text


def parse_formats(text: str | None, default: Sequence[str]) -> list[str]:
    """'pdf,xlsx' → ['pdf', 'xlsx']; unknown formats stop with the list of known ones."""
    if not text:
        return list(default)
    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise ValueError(f"unknown format(s) {', '.join(unknown) or text!r}; choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(wanted))


def resolve_region(config: Config, text: str | None) -> str:
    """The edition's region code from a code or any configured spelling; the city edition when absent."""
    if not text or text in (config.city.code, config.city.name_zh, config.city.name_en):
        return config.city.code
    code = alias_map(config).get(normalise_region_text(text))
    if code is None:
        raise ValueError(f"unknown region {text!r}: use the city code {config.city.code} or a unit code, e.g. "
                         f"{config.city.units[0].code} or {config.city.units[0].name_zh}")
    return code


def _copy_out(source: Path, out_dir: Path, echo: Callable[[str], None]) -> None:
    target = out_dir / source.name
    if target.exists():
        echo(f"  not copied: {target} exists (an existing file is never overwritten)")
        return
    shutil.copyfile(source, target)
    echo(f"  copied to {target}")


def run_report(*, warehouse: Warehouse, config: Config, month: str, region: str | None, formats: str | None,
               out: str | None, lang: str | None, echo: Callable[[str], None] = print) -> int:
    """Build and archive one edition; a missing browser, font or month is explained, never a stack trace."""
    started = time.perf_counter()
    try:
        code = resolve_region(config, region)
        chosen = parse_formats(formats, config.bulletin.formats)
        entries = generate_bulletins(warehouse=warehouse, config=config, period=month, region_codes=[code],
                                     formats=chosen, lang=lang, trigger="manual")
    except (BulletinError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = archive_root(config)
    out_dir = Path(out) if out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    for e in entries:
        path = root / e.period / e.region_code / e.filename
        echo(f"{e.format}: {path} (version {e.version}, {e.size_bytes / 1024:,.0f} KB, sha256 {e.checksum[:12]}…)")
        if out_dir:
            _copy_out(path, out_dir, echo)
    echo(f"built the {month} bulletin for {code} in {time.perf_counter() - started:.1f}s")
    return 0
