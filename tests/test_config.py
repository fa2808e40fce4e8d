"""config.yaml validation: a wrong key, type or value stops with the key path and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from models.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, mutate) -> Path:  # noqa: ANN001 - a function that edits the parsed YAML
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_repository_config_lists_jinzhong_and_its_eleven_units(config) -> None:
    assert config.city.code == "140700"
    assert config.unit_codes() == ["140702", "140703", "140721", "140722", "140723", "140724", "140725",
                                   "140727", "140728", "140729", "140781"]
    assert config.city.retired_codes == {"140726": "140703"}
    assert config.timezone == "Asia/Shanghai"
    assert {k.code for k in config.kpis} >= {"avg_processing_days", "on_time_rate"}


def test_misspelt_key_names_its_path(tmp_path: Path) -> None:
    def mutate(d):
        d["city"]["units"][2]["nmae_zh"] = d["city"]["units"][2].pop("name_zh")

    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, mutate))
    message = str(err.value)
    assert "city.units[2].nmae_zh: unknown key" in message
    assert "city.units[2].name_zh: Field required" in message
    assert str(tmp_path / "config.yaml") in message


def test_wrong_type_names_its_path(tmp_path: Path) -> None:
    def mutate(d):
        d["sources"]["approval_api"]["page_size"] = "lots"

    with pytest.raises(ConfigError, match=r"sources\.approval_api\.page_size: Input should be a valid integer"):
        load_config(_write(tmp_path, mutate))


def test_retired_code_must_map_to_a_unit(tmp_path: Path) -> None:
    def mutate(d):
        d["city"]["retired_codes"] = {"140726": "149999"}

    with pytest.raises(ConfigError, match=r"city: Value error, retired code 140726 maps to 149999"):
        load_config(_write(tmp_path, mutate))


def test_unknown_kpi_computation_is_refused(tmp_path: Path) -> None:
    def mutate(d):
        d["kpis"][1]["computation"] = "approval_vibes"

    with pytest.raises(ConfigError, match=r"kpis\[1\]\.computation: unknown computation 'approval_vibes'"):
        load_config(_write(tmp_path, mutate))


def test_bad_cron_and_dangling_job_source(tmp_path: Path) -> None:
    def mutate(d):
        d["jobs"]["approvals"]["schedule"] = "every 15 minutes"

    with pytest.raises(ConfigError, match=r"jobs\.approvals\.schedule: Value error, expected a 5-field cron"):
        load_config(_write(tmp_path, mutate))

    def mutate2(d):
        d["jobs"]["approvals"]["source"] = "nowhere"

    with pytest.raises(ConfigError, match=r"jobs\.approvals\.source: no source named 'nowhere'"):
        load_config(_write(tmp_path, mutate2))


def test_unknown_timezone_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"timezone: Value error, unknown timezone 'Mars/Olympus'"):
        load_config(_write(tmp_path, lambda d: d.__setitem__("timezone", "Mars/Olympus")))
    bad = tmp_path / "broken.yaml"
    bad.write_text("city: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "missing.yaml")


def test_database_url_env_overrides_and_sqlite_paths_are_absolute(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path, lambda d: None)
    monkeypatch.delenv("BIZENV_DATABASE_URL", raising=False)
    assert load_config(path).database_url() == f"sqlite:///{tmp_path / 'var' / 'bizenv.db'}"
    monkeypatch.setenv("BIZENV_DATABASE_URL", "postgresql://u@db.example/prod")
    assert load_config(path).database_url() == "postgresql://u@db.example/prod"


def test_config_file_holds_no_secrets() -> None:
    text = (REPO / "config.yaml").read_text(encoding="utf-8").lower()
    for word in ("password:", "secret_key:", "token:"):
        assert word not in text


def _kpi(d: dict, code: str) -> dict:
    return next(k for k in d["kpis"] if k["code"] == code)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: _kpi(d, "overdue_rate")["index"].pop(2025),
     "missing bound for year(s) [2025]"),
    (lambda d: d["ranking"]["pillar_weights"].update(approval=0.5),
     "ranking.pillar_weights: Value error, weights must add up to 1, they add up to 1.15"),
    (lambda d: d["ranking"].update(pillar_weights={"approval": 0.5, "ratings": 0.3, "county_development": 0.2}),
     "no weight for pillar 'hotline'"),
    (lambda d: _kpi(d, "overdue_rate")["index"].update({2026: {"best": 0.1, "worst": 0.0}}),
     "best 0.1 and worst 0.0 contradict direction lower_is_better"),
    (lambda d: _kpi(d, "online_rate")["index"].update({2026: {"best": 0.5, "worst": 0.5}}),
     "best and worst must differ"),
    (lambda d: _kpi(d, "rectified_on_time_rate").update(params={"deadline_working_days": "ten"}),
     "deadline_working_days must be a whole number of working days"),
    (lambda d: d.pop("ranking"),
     "ranking: required when any KPI has index bounds"),
])
def test_index_bounds_weights_and_params_are_checked(tmp_path: Path, mutate, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, mutate))
    assert message in str(err.value)
