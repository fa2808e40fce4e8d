"""Tables every page uses: an AG Grid that pages and sorts, with CSV and XLSX downloads of the viewer's rows.

A page registers a *table source* once, at import: a function (session, viewer, config, filters) -> DataFrame
that reads through `models/` with the viewer's scope. The grid shows the source's rows for the page's filters;
the download buttons call the same source again on the server with the same filters and the *current* viewer,
so a download can never hold a row the viewer may not see, whatever the browser sends.

Who may export (issue 6: "exports follow the same rules as views"): admins and analysts, everything they see; a
county bureau, its own scope (the source refuses another county's rows); a leader reads only, so a leader's click
gets a polite note and no file. Every download, refused ones too, is written to the audit log when the login is
installed.

    register_table_source("approvals-overdue", overdue_cases_source)
    data_table(table_id="approvals-overdue", frame=frame, columns=[Column("case_id", "approvals.col.case")],
               lang=lang, filters={"region": "140702"})
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash_ag_grid as dag
import flask
import pandas as pd
from dash import MATCH, Dash, Input, Output, State, dcc, html, no_update
from sqlalchemy.orm import Session

from bizenv.exports import csv_bytes, xlsx_bytes
from bizenv.i18n import t
from dashboard.context import current_config, current_lang, current_viewer, current_warehouse
from models.config import Config
from models.scope import Viewer

TableSource = Callable[[Session, Viewer, Config, Mapping[str, Any]], pd.DataFrame]
EXPORT_ROLES = frozenset({"admin", "analyst", "county"})  # leaders read only
FORMATS = ("csv", "xlsx")
_SOURCES: dict[str, TableSource] = {}
_COLUMNS: dict[str, Sequence[Column]] = {}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: the frame's field, the catalogue key of its header, and how to show it."""

    field: str
    header_key: str
    kind: str = "text"  # text | int | float1 | float2 | percent | date | datetime
    width: int | None = None


def register_table_source(table_id: str, source: TableSource, columns: Sequence[Column]) -> None:
    """Declare how a table's rows are read; the download handler reads them again through the same function."""
    _SOURCES[table_id] = source
    _COLUMNS[table_id] = tuple(columns)


def _value_formatter(kind: str) -> dict | None:
    formats = {
        "int": "params.value == null ? '—' : d3.format(',d')(params.value)",
        "float1": "params.value == null ? '—' : d3.format(',.1f')(params.value)",
        "float2": "params.value == null ? '—' : d3.format(',.2f')(params.value)",
        "percent": "params.value == null ? '—' : d3.format('.1%')(params.value)",
    }
    return {"function": formats[kind]} if kind in formats else None


def _column_defs(columns: Sequence[Column], lang: str) -> list[dict]:
    defs = []
    for c in columns:
        d: dict[str, Any] = {"field": c.field, "headerName": t(c.header_key, lang), "sortable": True,
                             "resizable": True}
        fmt = _value_formatter(c.kind)
        if fmt:
            d["valueFormatter"] = fmt
            d["type"] = "rightAligned"
        if c.width:
            d["width"] = c.width
        defs.append(d)
    return defs


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain dicts (None for missing, times as text), column by column: `to_dict("records")` boxes every
    value through pandas, a third of a table callback's time."""
    columns = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d %H:%M")
        column = values.to_numpy(dtype=object, copy=True)
        missing = pd.isna(column)
        if missing.any():
            column[missing] = None
        columns.append(column.tolist())
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def data_table(*, table_id: str, frame: pd.DataFrame, lang: str, filters: Mapping[str, Any] | None = None,
               page_size: int = 15, height: int = 460) -> html.Div:
    """The grid with its download buttons; plain text cells only (AG Grid renders values as text, never HTML)."""
    columns = _COLUMNS[table_id]
    buttons = html.Div([
        html.Button(t("table.download_csv", lang), id={"type": "table-download-button", "table": table_id,
                                                        "format": "csv"}, className="btn btn-sm btn-outline-secondary"),
        html.Button(t("table.download_xlsx", lang), id={"type": "table-download-button", "table": table_id,
                                                         "format": "xlsx"},
                    className="btn btn-sm btn-outline-secondary ms-2"),
        *[html.Span(id={"type": "table-download-note", "table": table_id, "format": fmt}, role="status",
                    className="small text-muted ms-2 align-self-center table-download-note") for fmt in FORMATS],
    ], className="d-flex justify-content-end flex-wrap mb-2 table-toolbar")
    grid = dag.AgGrid(
        id=f"{table_id}-grid", rowData=_records(frame[[c.field for c in columns]]),
        columnDefs=_column_defs(columns, lang), columnSize="responsiveSizeToFit",
        defaultColDef={"minWidth": 90, "filter": False},
        # AG Grid 33+ themes by its Theming API (a legacy class name here blanks the cells); plain-text locale.
        dashGridOptions={"pagination": True, "paginationPageSize": page_size, "paginationPageSizeSelector": False,
                         "domLayout": "normal", "theme": "themeAlpine", "suppressCellFocus": True,
                         "localeText": {"noRowsToShow": t("table.no_rows", lang)}},
        style={"height": f"{height}px", "width": "100%"},
    )
    return html.Div([
        buttons,
        dcc.Store(id={"type": "table-filters-store", "table": table_id}, data=dict(filters or {})),
        dcc.Download(id={"type": "table-download", "table": table_id, "format": "csv"}),
        dcc.Download(id={"type": "table-download", "table": table_id, "format": "xlsx"}),
        html.Div(grid, className="table-scroll"),
    ], className="data-table")


def export_frame(*, table_id: str, viewer: Viewer, config: Config, session: Session, lang: str,
                 filters: Mapping[str, Any]) -> pd.DataFrame:
    """The rows a download holds: the source read again for this viewer, with headers in the reader's language."""
    columns = _COLUMNS[table_id]
    frame = _SOURCES[table_id](session, viewer, config, filters)
    frame = frame[[c.field for c in columns]].copy()
    frame.columns = [t(c.header_key, lang) for c in columns]
    return frame


def may_export(viewer: Viewer) -> bool:
    """Whether a role may download tables at all; what it may download is the source's business (its scope)."""
    return viewer.role in EXPORT_ROLES


def _audit_export(*, table_id: str, fmt: str, rows: int, success: bool, reason: str | None = None) -> None:
    """One audit entry per download (or refused download); nothing to write to when the login is not installed."""
    if not flask.current_app.config.get("BIZENV_AUTH"):
        return
    from dashboard.auth import record

    details: dict[str, Any] = {"table": table_id, "format": fmt, "rows": rows}
    if reason:
        details["reason"] = reason
    record("export", success=success, details=details)


def download(n_clicks: int | None, filters: Mapping[str, Any] | None, lang: str | None, button_id: dict) -> Any:
    """Serve a table as CSV or XLSX; the rows come from the server-side source, never from the browser.

    Returns (file, note): a refused download gets no file and a note saying why.
    """
    if not n_clicks or not isinstance(button_id, dict):
        return no_update, no_update
    table_id, fmt = button_id.get("table"), button_id.get("format")
    if table_id not in _SOURCES or fmt not in FORMATS:
        return no_update, no_update
    lang = current_lang(lang)
    viewer = current_viewer()
    if not may_export(viewer):
        _audit_export(table_id=table_id, fmt=fmt, rows=0, success=False, reason="role")
        return no_update, t("table.export_refused", lang)
    try:
        with current_warehouse().session() as session:
            frame = export_frame(table_id=table_id, viewer=viewer, config=current_config(), session=session,
                                 lang=lang, filters=filters or {})
    except PermissionError:  # models.details.DetailScopeError: another county's rows, asked for by a forged request
        _audit_export(table_id=table_id, fmt=fmt, rows=0, success=False, reason="scope")
        return no_update, t("table.export_out_of_scope", lang)
    _audit_export(table_id=table_id, fmt=fmt, rows=len(frame), success=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        return dcc.send_bytes(csv_bytes(frame), f"{table_id}-{stamp}.csv"), ""
    return dcc.send_bytes(xlsx_bytes({table_id: frame}), f"{table_id}-{stamp}.xlsx"), ""


def register_callbacks(app: Dash) -> None:
    """One pattern-matching download handler for every table of every page."""
    for fmt in FORMATS:
        app.callback(
            Output({"type": "table-download", "table": MATCH, "format": fmt}, "data"),
            Output({"type": "table-download-note", "table": MATCH, "format": fmt}, "children"),
            Input({"type": "table-download-button", "table": MATCH, "format": fmt}, "n_clicks"),
            State({"type": "table-filters-store", "table": MATCH}, "data"),
            State("app-lang-store", "data"),
            State({"type": "table-download-button", "table": MATCH, "format": fmt}, "id"),
            prevent_initial_call=True,
        )(download)
