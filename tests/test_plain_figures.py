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


def test_categories_figure_is_valid_and_splits_each_category_into_on_time_and_late() -> None:
    frame = pd.DataFrame({"category": ["营商环境-审批服务", "营商环境-市场监管", "营商环境-涉企收费"],
                          "tickets": [30, 50, 5], "share": [30 / 85, 50 / 85, 5 / 85], "late": [6, 10, 0]})
    fig = go.Figure(views.categories_figure(frame, "zh"))
    on_time, late = fig.data
    assert list(on_time.y) == ["涉企收费", "审批服务", "市场监管"]  # fewest first: plotly draws the last bar on top
    assert list(on_time.x) == [5, 24, 40] and list(late.x) == [0, 6, 10]
    assert list(late.text) == ["5", "30", "50"] and fig.layout.barmode == "stack"
    assert fig.layout.height == 40 * 3 + 110 and fig.layout.xaxis.rangemode == "tozero"


def test_every_chart_every_page_sends_is_a_valid_plotly_figure(tmp_path, monkeypatch) -> None:
    """Charts go out as plain JSON, unchecked by plotly while serving; here each one every page callback sends on
    the small demo warehouse is passed to `go.Figure`, which raises on a mistyped property or trace type."""
    from bizenv import bench_dashboard
    from tests.conftest_dashboard import build_warehouse

    config = load_config()
    build_warehouse(tmp_path / "small.db", config).dispose()
    figures: list[tuple[str, dict]] = []

    def post(client, body, timing, *, runs, warm):  # noqa: ANN001 - the bench tool's own signature
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code in (200, 204), (timing.name, response.status_code)
        if response.status_code == 200:
            for cid, props in response.get_json()["response"].items():
                figures.extend((f"{timing.page} {cid}", value) for prop, value in props.items() if prop == "figure")

    monkeypatch.setattr(bench_dashboard, "_post", post)
    app, _ = bench_dashboard.build_app(None, f"sqlite:///{tmp_path / 'small.db'}", "cold")
    bench_dashboard.bench_app(app, cache="cold", runs=1, lang="zh", pages=None)
    graphs = {name for name, _ in figures}
    assert {"overview overview-composite-graph", "ranking ranking-heatmap-graph", "approvals approvals-dist-graph",
            "county county-radar-graph"} <= graphs, sorted(graphs)
    for name, figure in figures:
        fig = go.Figure(figure)  # validates every property
        assert fig.layout.height, name
        assert fig.data or fig.layout.annotations, name  # a chart, or an empty one that says why


def test_every_callback_response_encodes_as_plotlys_encoder_would(tmp_path, monkeypatch) -> None:
    """dashboard.responses encodes callback responses with orjson directly; for every callback of every page on the
    small demo warehouse, in both languages, the JSON reads back the same as plotly's encoder's."""
    import json

    import dash._callback
    from plotly.io.json import to_json_plotly

    from bizenv import bench_dashboard
    from dashboard import responses
    from tests.conftest_dashboard import build_warehouse

    build_warehouse(tmp_path / "small.db", load_config()).dispose()
    compared: list[int] = []

    def both(value):  # noqa: ANN001, ANN202 - a callback response
        ours = responses.encode(value)
        assert json.loads(ours) == json.loads(to_json_plotly(value))
        compared.append(len(ours))
        return ours

    app, _ = bench_dashboard.build_app(None, f"sqlite:///{tmp_path / 'small.db'}", "cold")
    monkeypatch.setattr(dash._callback, "to_json", both)  # after create_app, which installs responses.encode
    for lang in ("zh", "en"):
        timings = bench_dashboard.bench_app(app, cache="cold", runs=1, lang=lang, pages=None)
        assert all(t.status in (200, 204) for t in timings), [(t.name, t.status) for t in timings if t.status >= 300]
    assert len(compared) > 80 and max(compared) > 20_000  # every callback, tables and charts among them
