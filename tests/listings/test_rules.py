"""listings.yaml: a partner's mistake is one clear line naming the file, the key and the value; column names reach
Sage's SQL only as plain identifiers; an X3 item sold under another SKU is listed under that SKU."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_amazon.listings import rules
from sage_amazon.mapping import DEFAULTS_DIR, MappingError


def _override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    text = (DEFAULTS_DIR / "listings.yaml").read_text()
    assert old in text
    (tmp_path / "listings.yaml").write_text(text.replace(old, new))
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))


@pytest.mark.parametrize(("old", "new", "message"), [
    ("{field: UserFld1, values: [AMAZON]}", "{field: 'UserFld1; DROP TABLE timItem', values: [AMAZON]}",
     "listings.yaml: 'flag.sage500.field' must be a Sage column name, got 'UserFld1; DROP TABLE timItem'"),
    ("brand: {value: Northwind}", "brand: {value: Northwind, from: title}",
     "listings.yaml: 'attributes.brand' needs exactly one of 'from' (a Sage field) or 'value'"),
    ("max_drop_percent: 30", "max_drop_percent: lots",
     "listings.yaml: 'price_guard.max_drop_percent' must be a number, got 'lots'"),
])
def test_a_mistake_is_one_clear_line(tmp_path, monkeypatch, old, new, message):
    _override(tmp_path, monkeypatch, old, new)
    with pytest.raises(MappingError) as err:
        rules.load("sage500")
    assert str(err.value) == message


def test_defaults_sku_channel_and_prices_per_erp():
    x3 = rules.load("x3")
    assert x3.sku("NW-BTL-1000") == "NW-BOTTLE-1L"  # skus.yaml's X3 alias
    assert x3.channel("NW-TENT-2P", "ATVPDKIKX0DER") == "AMAZON_NA"
    assert x3.channel("NW-TENT-2P", "A1F83G8C2ARO7P") == "AMAZON_EU"
    assert x3.channel("NW-LANTERN-LED", "ATVPDKIKX0DER") == "DEFAULT"
    assert {m.marketplace_id: m.price_list for m in x3.marketplaces} == {"ATVPDKIKX0DER": "AMZUS",
                                                                         "A1F83G8C2ARO7P": "AMZUK"}
    s500 = rules.load("sage500")
    assert [(m.marketplace_id, m.price, m.currency) for m in s500.marketplaces] == [("ATVPDKIKX0DER", "StdPrice",
                                                                                    "USD")]
