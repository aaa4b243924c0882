import subprocess
import sys

import pytest

from sage_amazon import config


def test_defaults_point_at_the_sandboxes(monkeypatch):
    for name in config.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    settings = config.load()
    assert settings.target == "x3"
    assert settings.sp_api_endpoint == "http://127.0.0.1:8100"
    assert settings.x3_url == "http://127.0.0.1:8124"
    assert settings.marketplaces == ("ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9")
    assert settings.warehouse_path.name == "sage_amazon.duckdb"
    assert settings.dagster_home == settings.data_dir / "dagster_home"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAGE_AMAZON_TARGET", "oracle"),
        ("SP_API_ENDPOINT", "localhost:8100"),
        ("SAGE_X3_POOL_SIZE", "many"),
        ("SAGE_AMAZON_START_DATE", "22/11/2026"),
        ("SP_API_MARKETPLACES", "ATVPDKIKX0DER;A1F83G8C2ARO7P"),
        ("SAGE500_DB_URL", "sage500"),
    ],
)
def test_a_malformed_setting_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=name):
        config.load()


def test_the_cli_reports_a_bad_setting_in_one_line_without_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SAGE_AMAZON_TARGET": "oracle", "SAGE_AMAZON_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "sage_amazon.cli", "run"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["sage-amazon: configuration error: SAGE_AMAZON_TARGET must be one of x3, sage500, got 'oracle'"]


def test_the_readme_documents_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert [name for name in config.SETTINGS if f"`{name}`" not in readme] == []
