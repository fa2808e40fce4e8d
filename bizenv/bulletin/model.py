"""The bulletin's content model: what every renderer draws, built once from the marts, formatted once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import plotly.graph_objects as go

Tone = Literal["good", "bad", "muted", "plain"]


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell: the text PDF and Word show, and the raw value and number format Excel stores."""

    text: str
    value: float | int | str | None = None  # None: Excel stores `text`
    num_format: str | None = None
    tone: Tone = "plain"


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True, slots=True)
class Para:
    text: str
    style: Literal["body", "note", "lead"] = "body"


@dataclass(frozen=True, slots=True)
class Table:
    """A table; Excel gives each its own sheet named `sheet`."""

    sheet: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...]  # relative column widths for PDF and Word
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart placed in the text; its figure is exported once per run and reused by PDF and Word."""

    key: str
    title: str
    width_px: int
    height_px: int


@dataclass(frozen=True, slots=True)
class PageBreak:
    pass


Block = Heading | Para | Table | Chart | PageBreak


@dataclass(frozen=True)
class Bulletin:
    """One edition (city or one county) of one month in one language."""

    period: str
    region_code: str  # the city code for the city edition
    is_city: bool
    lang: str
    title: str
    edition: str
    issuer: str
    generated_at: dt.datetime
    data_as_of: dt.datetime | None
    summary: tuple[str, ...]
    blocks: tuple[Block, ...]
    figures: dict[str, dict | go.Figure] = field(default_factory=dict)  # plain specs or Plotly figures

    def tables(self) -> list[Table]:
        """The tables in reading order (Excel writes one sheet each)."""
        return [b for b in self.blocks if isinstance(b, Table)]
