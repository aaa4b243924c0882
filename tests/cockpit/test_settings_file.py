"""One settings file per instance (issue 16.10): every process of the data dir reads the mapping folder and the first
day from `<data dir>/sage-amazon.toml`, without inheriting an environment variable."""

import subprocess
import sys

import pytest

from sage_amazon import config, mapping


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for name in config.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(tmp_path))
    return tmp_path


def test_the_file_sets_the_mapping_folder_and_first_day_and_the_environment_wins(data_dir, monkeypatch):
    (data_dir / "mappings").mkdir()
    (data_dir / "mappings" / "skus.yaml").write_text("aliases: {}\n")
    (data_dir / config.FILE_NAME).write_text('SAGE_AMAZON_MAPPING_DIR = "mappings"\nSAGE_AMAZON_START_DATE = "2026-11-01"\n')
    settings = config.load()
    assert settings.mapping_dir == data_dir / "mappings"  # relative: the data dir's
    assert settings.start_date.isoformat() == "2026-11-01"
    assert mapping.mapping_file("skus.yaml") == data_dir / "mappings" / "skus.yaml"
    assert config.source("SAGE_AMAZON_START_DATE") == str(data_dir / config.FILE_NAME)
    monkeypatch.setenv("SAGE_AMAZON_START_DATE", "2026-10-01")
    assert config.load().start_date.isoformat() == "2026-10-01"
    assert config.source("SAGE_AMAZON_START_DATE") == "SAGE_AMAZON_START_DATE"


def test_a_process_started_without_any_variable_but_the_data_dir_reads_the_file(data_dir):
    (data_dir / config.FILE_NAME).write_text('SAGE_AMAZON_START_DATE = "2026-11-09"\n')
    code = "from assets.partitions import daily_partitions as d; print(d.start.strftime('%Y-%m-%d'))"
    env = {"PATH": "/usr/bin:/bin", "SAGE_AMAZON_DATA_DIR": str(data_dir)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         timeout=120, cwd=str(config.Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == "2026-11-09"  # the partition bar starts there, not on 2026-01-01


@pytest.mark.parametrize(("text", "message"), [
    ('SP_API_REFRESH_TOKEN = "x"', "cannot be set in the settings file"),
    ('SAGE_AMAZON_MAPING_DIR = "m"', "unknown setting 'SAGE_AMAZON_MAPING_DIR'"),
    ("SAGE_AMAZON_START_DATE = ", "not a readable TOML settings file"),
])
def test_a_bad_file_is_one_line_naming_it(data_dir, text, message):
    (data_dir / config.FILE_NAME).write_text(text + "\n")
    with pytest.raises(config.ConfigError, match=message) as error:
        config.load()
    assert str(data_dir / config.FILE_NAME) in str(error.value)


def test_a_missing_mapping_folder_is_an_error_not_the_shipped_defaults(data_dir):
    (data_dir / config.FILE_NAME).write_text('SAGE_AMAZON_MAPPING_DIR = "no-such-folder"\n')
    with pytest.raises(mapping.MappingError, match="no-such-folder.*not a folder"):
        mapping.mapping_file("skus.yaml")


def test_record_adds_a_setting_every_process_then_reads(data_dir):
    path = config.record("SAGE_AMAZON_START_DATE", "2026-11-23")
    assert path == data_dir / config.FILE_NAME
    assert config.load().start_date.isoformat() == "2026-11-23"
