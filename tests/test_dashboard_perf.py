"""Dashboard reads that must hold up on any warehouse: an empty one renders, and the timing tool runs.

The timings themselves are measured by `python -m bizenv.bench_dashboard` on a big demo warehouse (see
docs/performance.md); here only what must never break: a migrated warehouse with no KPI or ranking rows yet.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from dashboard.app import create_app
from models.config import load_config
from models.ranking_reads import ranking_periods
from models.scope import Viewer
from tests.conftest_dashboard import all_text, build_warehouse


@pytest.fixture
def empty_site(tmp_path: Path):
    config = load_config()
    warehouse = build_warehouse(tmp_path / "empty.db", config, with_rows=False)
    app = create_app(config, warehouse=warehouse, login_required=False)
    yield config, warehouse, app
    warehouse.dispose()


def test_ranking_periods_on_an_empty_mart_is_empty(empty_site):
    _config, warehouse, _app = empty_site
    with warehouse.session() as session:
        for viewer in (Viewer.city_wide(),):
            assert ranking_periods(session=session, viewer=viewer) == []
            assert ranking_periods(session=session, viewer=viewer, before="2026-11") == []


@pytest.mark.parametrize("path", ["/", "/ranking", "/county"])
def test_pages_open_on_an_empty_warehouse(empty_site, path):
    _config, _warehouse, app = empty_site
    response = app.server.test_client().get(path)
    assert response.status_code == 200, response.data[:500]


def test_ranking_page_renders_its_empty_state(empty_site):
    _config, _warehouse, app = empty_site
    module = importlib.import_module("dashboard.pages.ranking")
    with app.server.test_request_context("/ranking"):
        tree = module.layout(lang="en")
        assert "ranking-empty-alert" in str(tree)
        heading, table, *_rest = module.render_ranking(None, "en")
        assert heading == "" and table == []
        title, fig, style = module.render_heatmap("2026-10", "en")
        assert fig["layout"]["annotations"], "an empty month shows the no-data note"
        labels = module.render_labels("en", [])
        assert "ranking" in all_text(list(labels)).lower()


def test_bench_tool_times_every_page_callback(tmp_path, capsys):
    """The timing tool on the small dashboard warehouse: every page's callbacks answer 200 and land in the table."""
    from bizenv import bench_dashboard

    config = load_config()
    warehouse = build_warehouse(tmp_path / "small.db", config)
    warehouse.dispose()
    code = bench_dashboard.main(["--database-url", f"sqlite:///{tmp_path / 'small.db'}", "--runs", "1",
                                 "--page", "ranking", "--page", "county", "--cache", "warm"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ranking-heatmap-heading-text.children" in out and "county-heading-text.children" in out
    assert "HTTP" not in out
