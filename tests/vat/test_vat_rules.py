"""VAT and GST decisions in the warehouse (issue 17.1, 17.5): the VAT summary's return boxes of the hand-made UK, DE
and CA settlements equal the accountant's, and a settlement whose VAT cannot be decided waits with the reason
(order not landed, no registration where VAT is due, Canadian tax not matching the province), never a guess."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from sage_amazon.ledger.vat import journal as vat
from sage_amazon.ledger.vat import rates, summary
from sage_amazon.warehouse import Warehouse
from tests.vat import sellers
from tests.vat.handmade import Order, Settlement

D = Decimal


def _decide(tmp_path, monkeypatch, settlement: Settlement, profile: dict, target: str = "x3"):
    sellers.write_profile(tmp_path, profile)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    wh = settlement.build(tmp_path, target)
    with wh.write() as con:
        report = vat.decide_settlement(con, settlement.settlement_id, target)
        summary.build_boxes(con, settlement.settlement_id)
        rows = summary.build(con)
    return wh, report, rows


def test_uk_return_boxes(tmp_path, monkeypatch):
    _, report, rows = _decide(tmp_path, monkeypatch, sellers.UK, sellers.UK_PROFILE)
    assert report.waiting == {}
    assert summary.boxes(rows, "2026-Q3", "GB123456789", "UK VAT100") == sellers.UK_BOXES
    # the B2B supply DE->FR is on the DE registration's return: an intra-EU supply (Kz 41)
    assert summary.boxes(rows, "2026-Q3", "DE123456789", "DE UStVA")["41"] == D("95.00")


def test_de_return_boxes_and_oss(tmp_path, monkeypatch):
    _, _, rows = _decide(tmp_path, monkeypatch, sellers.DE, sellers.DE_PROFILE)
    assert summary.boxes(rows, "2026-Q3", "DE811907980", "DE UStVA") == sellers.DE_BOXES
    oss = summary.boxes(rows, "2026-Q3", "OSS:DE811907980", "OSS")
    assert oss == {f"{c}_{k}": v for c, (net, tax) in sellers.DE_OSS.items() for k, v in (("net", net), ("vat", tax))}


def test_ca_gst34_lines(tmp_path, monkeypatch):
    _, _, rows = _decide(tmp_path, monkeypatch, sellers.CA, sellers.CA_PROFILE)
    got = summary.boxes(rows, "2026-Q3", "123456789RT0001", "CA GST34")
    assert {k: v for k, v in got.items() if k != "qst"} == sellers.CA_BOXES
    assert got["qst"] == D("7.98")


def test_summary_exports_csv_and_xlsx(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    _, _, rows = _decide(tmp_path, monkeypatch, sellers.UK, sellers.UK_PROFILE)
    text = summary.export(rows, tmp_path / "vat.csv").read_text().splitlines()
    assert text[0] == ",".join(summary.COLUMNS)
    assert "2026-Q3,GB123456789,GB,UK VAT100,6,284.16,1" in text
    book = load_workbook(summary.export(rows, tmp_path / "vat.xlsx"))
    cells = [[c.value for c in r] for r in book["VAT summary"].iter_rows()]
    assert ["2026-Q3", "GB123456789", "GB", "UK VAT100", "1", 20.83, 1] in cells
    with pytest.raises(ValueError, match="csv or .xlsx"):
        summary.export(rows, tmp_path / "vat.pdf")


def _one(order: Order, currency: str = "") -> Settlement:
    currency = currency or {"UK": "GBP", "DE": "EUR", "CA": "CAD"}[order.marketplace]
    return Settlement("91710000009", currency, date(2026, 7, 1), date(2026, 7, 14), [order])


@pytest.mark.parametrize(("order", "profile", "reason"), [
    (Order("202-1710009-0000001", "UK", "NW-TENT-2P", D("60.00"), None, sellers.JULY, fc="LTN4"),
     sellers.UK_PROFILE, "not landed by the orders flow"),
    (Order("202-1710009-0000002", "UK", "NW-TENT-2P", D("60.00"), "GB", sellers.JULY),
     sellers.UK_PROFILE, "departure country unknown"),
    # a German seller's goods in a Polish fulfilment centre sold to a Polish consumer: Polish VAT, no PL number
    (Order("302-1710009-0000003", "DE", "NW-TENT-2P", D("60.00"), "PL", sellers.JULY, fc="POZ1"),
     sellers.DE_PROFILE, "VAT due in PL (PL->PL) but the profile has no PL registration"),
    # a UK seller's goods in France sold to a French consumer: Amazon must be the deemed supplier
    (Order("202-1710009-0000005", "UK", "NW-TENT-2P", D("60.00"), "FR", sellers.JULY, fc="ORY1"),
     sellers.UK_PROFILE, "deemed supplier (goods in the EU of a seller established outside it, FR->FR)"),
    (Order("202-1710009-0000004", "UK", "NW-TENT-2P", D("25.00"), "GB", sellers.JULY, fc="FRA3"),
     sellers.UK_PROFILE, "Amazon is the deemed supplier (an import into GB of at most 135 GBP"),
])
def test_undecidable_vat_waits_with_the_reason(order, profile, reason, tmp_path, monkeypatch):
    wh, report, _ = _decide(tmp_path, monkeypatch, _one(order), profile)
    assert list(report.waiting) == ["VAT-91710000009-202607"]
    assert reason in report.waiting["VAT-91710000009-202607"]
    with wh.read() as con:
        statuses = {r["status"] for r in vat.rows(con, "91710000009") if r["line_kind"] == "sale"}
    assert statuses == {"waiting"}


def test_canadian_tax_that_does_not_match_the_province_waits(tmp_path, monkeypatch):
    # Ontario's HST on 100.00 is 13.00; Amazon's Tax line says 12.00: the order's lines wait
    order = replace(sellers.CA.orders[0], order_id="702-1710009-0000001", tax=D("12.00"))
    _, report, _ = _decide(tmp_path, monkeypatch, _one(order), sellers.CA_PROFILE)
    assert "tax collected 12.00 differs from the GST/HST/QST of CA-ON on its sales (13.00)" in \
        report.waiting["VAT-91710000009-202607"]


def test_disabled_profile_decides_nothing(tmp_path, monkeypatch):
    _, report, _ = _decide(tmp_path, monkeypatch, sellers.UK, sellers.UK_PROFILE)
    assert report.rows  # enabled by write_profile; now switched off
    (tmp_path / "tax_profile.yaml").write_text((tmp_path / "tax_profile.yaml").read_text()
                                               .replace("enabled: true", "enabled: false"))
    with Warehouse(tmp_path / "wh.duckdb", lock_timeout=60).write() as con:
        again = vat.decide_settlement(con, sellers.UK.settlement_id, "x3")
    assert again.disabled and not again.rows and not again.waiting


def test_shipped_profile_is_off_and_the_summary_model_still_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))  # no tax_profile.yaml here: the shipped one
    wh = sellers.UK.build(tmp_path, "x3")
    with wh.write() as con:
        report = vat.decide_settlement(con, sellers.UK.settlement_id, "x3")
        assert report.disabled and summary.build_boxes(con, sellers.UK.settlement_id) == 0


def test_rates_in_force_on_the_day():
    assert rates.vat_rate("DE", date(2026, 7, 1)) == D("0.19")
    assert rates.vat_rate("DE", date(2026, 7, 1), reduced=True) == D("0.07")
    assert rates.canada("NS", date(2025, 3, 31)) == ("hst", D("0.15"), D("0"))
    assert rates.canada("NS", date(2025, 4, 1)) == ("hst", D("0.14"), D("0"))
    assert rates.canada("QC", date(2026, 7, 1)) == ("gst", D("0.05"), D("0.09975"))
    assert rates.vat_rate("XX", date(2026, 7, 1)) is None


def test_uk_fees_before_2024_08_01_are_reverse_charged(tmp_path, monkeypatch):
    """Before 2024-08-01 Amazon's UK fees came from Luxembourg without VAT: the seller accounts for 20 % reverse
    charge on the fee (output and input, nets to nothing): 18.75 x 0.20 = 3.75; after, the fee includes UK VAT."""
    july_2024 = date(2024, 7, 20)
    order = Order("202-1710010-0000001", "UK", "NW-TENT-2P", D("120.00"), "GB", july_2024, fc="LTN4",
                  fees=(("Commission", D("-18.75")),))
    settlement = Settlement("91710000010", "GBP", date(2024, 7, 15), date(2024, 7, 29), [order])
    wh, report, rows = _decide(tmp_path, monkeypatch, settlement, sellers.UK_PROFILE)
    with wh.read() as con:
        [journal], waiting = vat.journals(con, settlement.settlement_id, report.rows)
    got = {(ln.account, ln.tax_code): ln.credit - ln.debit for ln in journal.lines}
    assert not waiting and got == {
        ("4000", ""): D("-120.00"), ("4000", "GBS"): D("100.00"), ("2210", "GBS"): D("20.00"),
        ("6100", ""): D("18.75"), ("6100", "GBRC"): D("-18.75"), ("1410", "GBRC"): D("-3.75"),
        ("2210", "GBRC"): D("3.75")}
    boxes = summary.boxes(rows, "2024-Q3", "GB123456789", "UK VAT100")
    assert (boxes["1"], boxes["4"], boxes["5"], boxes["7"]) == (D("23.75"), D("3.75"), D("20.00"), D("18.75"))


def test_a_seller_established_in_gb_and_de_owes_vat_on_both_sides(tmp_path, monkeypatch):
    """The sandbox seller's shape (UK and German establishments): DE->DE and GB->GB consumer sales are its own
    supplies at 19 % and 20 % (59.50 x 19/119 = 9.50, 120.00 / 6 = 20.00), not Amazon's deemed supplies."""
    orders = [Order("302-1710011-0000001", "DE", "NW-TENT-2P", D("59.50"), "DE", sellers.JULY, fc="LEJ1"),
              Order("302-1710011-0000002", "UK", "NW-TENT-2P", D("120.00"), "GB", sellers.JULY, fc="MAN1")]
    profile = {**sellers.UK_PROFILE, "established": ["GB", "DE"]}
    _, report, _ = _decide(tmp_path, monkeypatch, Settlement("91710000011", "EUR", date(2026, 7, 1),
                                                             date(2026, 7, 14), orders), profile)
    got = {(r.order_id, r.treatment, r.registration, r.output_vat) for r in report.rows if r.line_kind == "sale"}
    assert not report.waiting and got == {("302-1710011-0000001", "standard", "DE123456789", D("9.50")),
                                          ("302-1710011-0000002", "standard", "GB123456789", D("20.00"))}
