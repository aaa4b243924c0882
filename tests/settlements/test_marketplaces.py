"""A settlement with several marketplaces (North America unified account): each line keeps its own marketplace,
its accounts, tax and journal site."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sage_amazon.ledger import settlements
from sage_amazon.mapping import DEFAULTS_DIR

D = Decimal
FILE = Path(__file__).parent / "files" / "na-unified.txt"


def _lines(p, account):
    return {(x.description, x.credit - x.debit) for j in p.journals for x in j.lines if x.account == account}


def test_lines_keep_their_own_marketplace():
    p = settlements.preview(FILE, "x3")
    assert all(o.passed for o in p.outcomes), [o.description for o in p.outcomes if not o.passed]
    # the settlement is amazon.com's (its currency), though amazon.ca has more lines
    assert (p.summary.marketplace, p.summary.marketplace_name) == ("US", "amazon.com")
    assert _lines(p, "4000") == {("AMZ 90000000020 US sales", D("100.00")), ("AMZ 90000000020 CA sales", D("120.00")),
                                 ("AMZ 90000000020 MX sales", D("50.00"))}
    # Canadian GST/HST and Mexican IVA in their own accounts; US tax collected and withheld posted gross
    assert _lines(p, "2220") == {("AMZ 90000000020 CA tax", D("15.60"))}
    assert _lines(p, "2230") == {("AMZ 90000000020 MX tax", D("8.00"))}
    assert _lines(p, "2200") == set()
    assert {amount for _, amount in _lines(p, "2240")} == {D("8.00")}  # collected from the buyer
    assert {amount for _, amount in _lines(p, "2245")} == {D("-8.00")}  # withheld by Amazon to remit
    assert _lines(p, "6140") == {("AMZ 90000000020 US subscription", D("-39.99"))}  # whole: X3's writer keeps 30
    assert [j.reference for j in p.journals] == ["AMZ-90000000020-202606"]
    assert p.reconciliation["variance"] == 0 and p.reconciliation["clearing_balance"] == 0


def test_marketplace_sites_give_one_journal_per_site(tmp_path, monkeypatch):
    text = (DEFAULTS_DIR / "accounts.yaml").read_text().replace(
        'sites: {US: US01, UK: GB01, DE: DE01, "*": US01}', 'sites: {US: US01, CA: CA01, UK: GB01, DE: DE01, "*": US01}')
    assert "CA: CA01" in text
    (tmp_path / "accounts.yaml").write_text(text)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(tmp_path))
    p = settlements.preview(FILE, "x3")
    assert all(o.passed for o in p.outcomes if o.blocking)
    by_ref = {j.reference: j for j in p.journals}
    assert set(by_ref) == {"AMZ-90000000020-202606", "AMZ-90000000020-202606-CA01"}
    us, ca = by_ref["AMZ-90000000020-202606"], by_ref["AMZ-90000000020-202606-CA01"]
    assert (us.site, ca.site) == ("US01", "CA01")
    for journal in (us, ca):
        assert sum(x.debit for x in journal.lines) == sum(x.credit for x in journal.lines)
    assert {x.account for x in ca.lines} == {"4000", "2220", "6100", "1210"}
    # the deposit is the settlement's own site's; clearing nets to zero over the settlement
    assert any(x.account == "1010" for x in us.lines) and not any(x.account == "1010" for x in ca.lines)
    net = sum(x.credit - x.debit for j in p.journals for x in j.lines if x.account == "1210")
    assert net == 0
