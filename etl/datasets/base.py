"""What every dataset definition shares: the context it validates against, and quarantine helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.parsing import clean_text
from models.calendar import WorkCalendar
from models.config import Config
from models.regions import normalise_region_text

REJECT_COLUMNS = ["source", "source_line", "reason_code", "raw"]


@dataclass(frozen=True)
class Context:
    """What validation needs from the warehouse and config, read once per run."""

    config: Config
    aliases: Mapping[str, str]
    calendar: WorkCalendar
    run_id: int
    items: Mapping[str, tuple[str | None, int | None, int | None, bool]] = field(default_factory=dict)


@dataclass
class Prepared:
    """A batch split into loadable rows (warehouse columns) and quarantined rows (with reasons)."""

    rows: pd.DataFrame
    rejects: pd.DataFrame


class FieldMappingError(Exception):
    """A source's records lack a field the dataset needs: the whole batch is refused."""


def source_field(aliases: Mapping[str, Sequence[str]], overrides: Mapping[str, str] | None, canonical: str) -> str:
    """The source's name for a canonical field: the configured override, else the first default alias."""
    return (overrides or {}).get(canonical) or aliases[canonical][0]


def take_fields(raw: pd.DataFrame, aliases: Mapping[str, Sequence[str]], *, overrides: Mapping[str, str] | None,
                required: Sequence[str], where: str) -> pd.DataFrame:
    """Canonical columns from source columns (API fields or file headers): the configured name first, then aliases.

    A missing required field stops the batch with its name, because every row would be wrong.
    """
    out = pd.DataFrame(index=raw.index)
    missing = []
    for canon, names in aliases.items():
        candidates = [overrides[canon], *names] if overrides and canon in overrides else list(names)
        found = next((c for c in candidates if c in raw.columns), None)
        if found is None and canon in required:
            missing.append(f"{canon} (looked for: {', '.join(candidates)})")
        out[canon] = raw[found] if found is not None else pd.Series(pd.NA, index=raw.index, dtype="object")
    if missing and len(raw):
        raise FieldMappingError(f"{where}: no column for {'; '.join(missing)}; "
                                "map it under jobs.<job>.fields in config.yaml")
    return out


def line_numbers(raw: pd.DataFrame, lines: pd.Series | None) -> pd.Series:
    """Source line of each row: the file's own line numbers, or the position on an API page (1-based)."""
    if lines is not None:
        return pd.Series(np.asarray(lines), index=raw.index)
    return pd.Series(np.arange(1, len(raw) + 1), index=raw.index)


def per_distinct(values: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    """`fn` of each text value, called once per distinct value: coded columns repeat a few values over 50k rows."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = pd.array([fn(str(u)) for u in uniques] + [None], dtype="string[pyarrow]")
    return pd.Series(mapped.take(np.where(codes >= 0, codes, len(uniques))), index=values.index)


def resolve_region(values: pd.Series, aliases: Mapping[str, str]) -> pd.Series:
    """Current unit codes from codes, names, short names, aliases or retired codes; NA when unknown."""
    text = clean_text(values)
    distinct = text.dropna().unique()  # a handful of spellings per batch: normalise each once
    codes = {v: aliases.get(normalise_region_text(v)) for v in distinct}
    return text.map(codes).astype("string")


def first_failure(checks: Sequence[tuple[str, pd.Series]], index: pd.Index) -> pd.Series:
    """The first failing check's reason code per row (NA where every check passes)."""
    if not checks:
        return pd.Series(pd.NA, index=index, dtype="string")
    conds = [mask.fillna(False).to_numpy(dtype=bool) for _, mask in checks]
    codes = [code for code, _ in checks]
    reason = np.select(conds, codes, default="")
    return pd.Series(reason, index=index, dtype="string").replace("", pd.NA)


def _json_value(value: object) -> object:
    """A raw value as JSON can hold it: missing scalars become null; lists and dicts stay as they are."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value


def reject_frame(raw: pd.DataFrame, reasons: pd.Series, *, source: str | pd.Series,
                 lines: pd.Series) -> pd.DataFrame:
    """Quarantine rows with their source (one for the batch, or one per row), line and raw values as JSON."""
    bad = reasons.notna()
    if not bad.any():
        return pd.DataFrame(columns=REJECT_COLUMNS)
    raw_bad = raw.loc[bad]
    raw_json = [json.dumps({k: _json_value(v) for k, v in rec.items()}, ensure_ascii=False, default=str)
                for rec in raw_bad.to_dict("records")]
    sources = source[bad].to_numpy() if isinstance(source, pd.Series) else source
    return pd.DataFrame({"source": sources, "source_line": lines[bad].to_numpy(),
                         "reason_code": reasons[bad].to_numpy(), "raw": raw_json})


def finish_rows(rows: pd.DataFrame, *, hashed: Sequence[str], key: Sequence[str], ctx: Context,
                source: str | pd.Series, lines: pd.Series) -> pd.DataFrame:
    """Add the row hash and provenance to validated rows; a record delivered twice in a batch keeps its last copy,
    as it would across batches."""
    out = rows.copy()
    out["row_hash"] = row_hash(out, hashed)
    out["etl_run_id"] = ctx.run_id
    out["source"] = source
    out["source_line"] = lines.loc[out.index]
    return out.drop_duplicates(subset=list(key), keep="last").reset_index(drop=True)


def row_hash(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A stable 16-hex-digit hash of the business columns, so unchanged rows are recognised on re-delivery."""
    text = frame[list(columns)].astype("string").fillna("\x00")
    hashed = pd.util.hash_pandas_object(text, index=False).to_numpy(dtype=np.uint64)
    digits = hashed.astype(">u8").tobytes().hex()  # the same text as "%016x" per value, without a call per value
    return np.array([digits[i:i + 16] for i in range(0, len(digits), 16)], dtype=object)
