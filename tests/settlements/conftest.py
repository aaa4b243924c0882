from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "settlement"
if not SAMPLES.exists():  # running from another checkout
    SAMPLES = Path("/work/shared/samples/settlement")
V2_SAMPLE = SAMPLES / "v2-flat-synthetic.txt"
V1_SAMPLE = SAMPLES / "v1-flat-synthetic.txt"


def to_european(text: str) -> str:
    """The V2 sample as a German Seller Central download would write it: day-first dates, decimal commas."""
    import re

    lines = text.splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        line = re.sub(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2}) UTC", r"\3.\2.\1 \4 UTC", line)
        line = re.sub(r"(?<=\t)(-?\d+)\.(\d{2})(?=\t|$)", r"\1,\2", line)
        out.append(line)
    return "\n".join(out) + "\n"


def built_warehouse(path: Path, settlement_file: Path, settlement_id: str, target: str = "x3"):
    """A warehouse at `path` with the default account map, the file landed and its settlement built."""
    from sage_amazon.amazon import settlement as parser
    from sage_amazon.ledger import settlements
    from sage_amazon.mapping import accounts
    from sage_amazon.warehouse import Warehouse

    warehouse = Warehouse(path, lock_timeout=10)
    with warehouse.write() as con:
        accounts.write_table(con, accounts.load(), target)
        parser.land(con, settlement_file)
        settlements.build(con, settlement_id)
    return warehouse


@pytest.fixture
def con():
    import duckdb

    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(path))
    return path
