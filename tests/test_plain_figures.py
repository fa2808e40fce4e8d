"""Figures built as plain JSON (no plotly validation while serving) are still valid plotly figures, with the data
the frame holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.views import service as views
from models.config import load_config

PERIODS = ["2026-08", "2026-09", "2026-10"]


def test_levels_figure_is_valid_and_each_month_adds_up_to_one() -> None:
    counts = {5: [60, 70, 0], 4: [20, 20, 0], 3: [10, 5, 0], 2: [5, 5, 0], 1: [5, 0, 1]}
    frame = pd.DataFrame([(p, level, n[i]) for level, n in counts.items() for i, p in enumerate(PERIODS)],
                         columns=["period", "level", "ratings"])
    fig = go.Figure(views.levels_figure(frame, "zh"))  # validates every property: a typo in a key raises here
    assert [tr.name for tr in fig.data] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    shares = np.array([list(tr.y) for tr in fig.data])
    assert shares[:, 0] == pytest.approx([0.6, 0.2, 0.1, 0.05, 0.05])  # August: 100 ratings
    assert shares.sum(axis=0) == pytest.approx([1.0, 1.0, 1.0])
    assert list(fig.data[4].customdata) == [5, 0, 1] and fig.layout.barmode == "stack"
    assert fig.layout.template.layout.paper_bgcolor is not None  # the plotly_white template came with it


def test_rectification_figure_is_valid_with_a_missing_rate() -> None:
    frame = pd.DataFrame({"period": PERIODS, "verified_bad": [10, 4, 0], "rectified": [7, 4, 0],
                          "rectification_rate": [0.7, 1.0, np.nan], "due": [10, 4, 0],
                          "rectified_on_time": [5, 3, 0], "on_time_rate": [0.5, 0.75, np.nan]})
    fig = go.Figure(views.rectification_figure(frame, load_config(), "en"))
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert list(bars[0].y) == [7, 4, 0] and list(bars[1].y) == [3, 0, 0]
    lines = [tr for tr in fig.data if tr.type == "scatter"]
    assert lines and list(lines[0].y)[:2] == [0.7, 1.0] and list(lines[0].y)[2] is None
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.tickformat == ".0%"
