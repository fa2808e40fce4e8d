"""Callback responses encoded by orjson directly, with plotly's encoder as the fallback.

Dash encodes every callback response with plotly's `to_json_plotly`, which first walks the whole response in Python
(`clean_to_json_compatible`: a call per dict, list and value) before handing it to orjson. For a table of 200 rows
or a tree of a few hundred components that walk was 10-20 ms of a 60-110 ms callback on this machine. Here orjson
walks it in C and calls back only for what it cannot encode itself: components and figures (their
`to_plotly_json`), pandas' missing values and containers, decimals. Anything else, or anything orjson refuses,
falls back to plotly's encoder for the whole response, so a response is never lost, only slower.
`tests/test_plain_figures.py` checks, for every callback of every page, that both encoders give the same JSON.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import dash._callback
import orjson
import pandas as pd
from plotly.io.json import to_json_plotly

# As plotly's own orjson path: numpy arrays and scalars natively, whole seconds for times. Non-string keys too.
OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_OMIT_MICROSECONDS | orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:  # noqa: ANN401 - whatever a callback returned
    """What orjson cannot encode by itself, as plotly's encoder would give it; TypeError for anything else."""
    to_plotly_json = getattr(obj, "to_plotly_json", None)
    if to_plotly_json is not None:  # Dash components, plotly figures
        return to_plotly_json()
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, pd.Timestamp):
        return obj.to_pydatetime()
    if isinstance(obj, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        return [None if v is pd.NA or v is pd.NaT else v for v in obj.tolist()]
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, dt.date):  # a subclass orjson does not take as its own
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not encoded here")


def encode(value: Any) -> str:  # noqa: ANN401 - whatever a callback returned
    """A callback response as JSON text: orjson, or plotly's encoder for what orjson refuses."""
    try:
        return orjson.dumps(value, default=_default, option=OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError included
        return to_json_plotly(value)


def install() -> None:
    """Have Dash encode callback responses with `encode` (layouts keep Dash's own encoder)."""
    dash._callback.to_json = encode
