"""Filters in the URL: a shared link opens the same view, and the browser's back and forward buttons work.

How a page adopts it (three steps, no other wiring):

1. Restore: the page's `layout(**query)` receives the query string as keyword arguments (Dash pages does that).
   Validate each one against what is allowed, falling back to the default::

       def layout(lang=None, month=None, kpi=None, **_query):
           month = restore(month, allowed=periods, default=periods[0] if periods else None)
           kpi = restore(kpi, allowed=[k.code for k in config.kpis], default="on_time_rate")

2. Place the page-local location in the layout: `url_location("overview")` (id `overview-url-location`).

3. Write back, once, in the page's `register_callbacks(app)`::

       register_url_sync(app, page="overview", fields={"month": ("overview-month-dropdown", "value"),
                                                       "kpi": ("overview-kpi-dropdown", "value")})

   Every change of a field pushes a history entry (`?month=2026-09&kpi=on_time_rate`). A value equal to the
   field's default can be left out with `defaults=` so plain links stay short.

Why `refresh="callback-nav"`: the new query must reach Dash's own page location too, or Back/Forward would
find that location unchanged and restore nothing. The price is that the router rebuilds the page from the query
after each filter change (the layout and its callbacks run again); with the reads behind
`dashboard.context.cached_read` that second round is served from the cache. The write-back callback skips its
initial call and writes nothing when the URL already says the same, so there is no loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from dash import Dash, Input, Output, State, dcc, no_update

T = TypeVar("T")


def location_id(page: str) -> str:
    """The id of a page's own location component."""
    return f"{page}-url-location"


def url_location(page: str) -> dcc.Location:
    """The page-local location that `register_url_sync` writes the filters to (put it anywhere in the layout)."""
    return dcc.Location(id=location_id(page), refresh="callback-nav")


def restore(value: Any, *, allowed: Iterable[Any] | None = None, default: T, cast: type | None = None) -> Any:
    """A filter value from the query, if it is one of `allowed` (after `cast`); otherwise the default.

    A query value is text; `cast=int` turns "3" into 3 (a bad number falls back to the default too).
    """
    if value is None or value == "":
        return default
    if cast is not None:
        try:
            value = cast(value)
        except (TypeError, ValueError):
            return default
    if allowed is not None and value not in set(allowed):
        return default
    return value


def query_string(values: Mapping[str, Any], *, defaults: Mapping[str, Any] | None = None) -> str:
    """`?a=1&b=x` for the set values, in the given order, leaving out empty ones and those equal to their default."""
    defaults = defaults or {}
    pairs = [(k, str(v)) for k, v in values.items()
             if v is not None and v != "" and not (k in defaults and defaults[k] == v)]
    return "?" + urlencode(pairs) if pairs else ""


def parse_query(search: str | None) -> dict[str, str]:
    """The query of a `?a=1&b=x` string as a dict (the last value of a repeated key wins)."""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))


def register_url_sync(app: Dash, *, page: str, fields: Mapping[str, tuple[str, str]],
                      defaults: Mapping[str, Any] | None = None) -> None:
    """Write the page's filters to its URL whenever one changes; `fields` maps a query key to (id, property)."""
    keys = list(fields)

    def write(*args: Any) -> Any:
        *values, search = args
        wanted = query_string(dict(zip(keys, values, strict=True)), defaults=defaults)
        if parse_query(wanted) == parse_query(search):
            return no_update
        return wanted

    app.callback(Output(location_id(page), "search"), *[Input(cid, prop) for cid, prop in fields.values()],
                 State(location_id(page), "search"), prevent_initial_call=True)(write)
