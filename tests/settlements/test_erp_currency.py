"""Issue 12.4: the company currency from the Sage company of the journal sites and dated rates from the ERP's rate
table (X3 TABCHANGE through api1, Sage 500 tmcCurrExchRate); accounts.yaml stays the fallback / alternative."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from sage_amazon.ledger import currency
from sage_amazon.mapping import accounts
from tests import postgres as pg_server
from tests.settlements.test_assets import env  # noqa: F401  (the X3 sandbox + Dagster fixture)

D = Decimal
FILES = Path(__file__).parent / "files"


def test_x3_company_currency_and_tabchange_rates(tmp_path):
    from sage_amazon.sandbox.x3 import running_x3
    from tests.orders.test_short_connections import target_for

    amap = replace(accounts.load(), company_currency="EUR", rates={"USD": D("0.9")})  # the ERP says otherwise
    with running_x3(tmp_path / "x3") as x3:
        target = target_for(x3)
        assert target.company_currency("GB01") == "USD" and target.company_currency("NOPE") is None
        got = currency.from_erp(amap, target, "x3")
    assert got.company_currency == "USD" and got.rates == {}  # constants to EUR are no rates to USD
    assert set(got.dated_rates) == {"GBP", "EUR", "CAD", "MXN", "JPY", "AUD"}
    assert got.dated_rates["CAD"][0] == (date(2026, 1, 1), D("0.7350"))
    assert got.dated_rates["JPY"][-1] == (date(2026, 10, 1), D("0.0065"))
    assert [day for day, _ in got.dated_rates["EUR"]] == sorted(day for day, _ in got.dated_rates["EUR"])


def test_a_rates_file_stays_the_alternative_and_settings_the_fallback():
    amap = replace(accounts.load(), dated_rates={"EUR": [(date(2026, 5, 1), D("1.1111"))]})

    class Silent:  # an ERP that cannot say
        def company_currency(self, site):
            return None

        def exchange_rates(self, company):
            raise AssertionError("a rates_file is configured: the ERP's table is not read")

    got = currency.from_erp(amap, Silent(), "x3")
    assert got.company_currency == amap.company_currency and got.rates == amap.rates
    assert got.dated_rates == {"EUR": [(date(2026, 5, 1), D("1.1111"))]}
    assert currency.from_erp(amap, object(), "x3") == amap  # a target without the reads: the map as configured


class ThreeCompanies:
    """An X3 with a US company (USD: US01), a UK one (GBP: GB01) and a German one (EUR: DE01, CA01 in CAD)."""

    def company_currency(self, site):
        return {"US01": "USD", "GB01": "GBP", "DE01": "EUR", "CA01": "CAD"}.get(site)

    def exchange_rates(self, company):
        return {"USD": {"EUR": [(date(2025, 1, 1), D("1.0500"))], "CAD": [(date(2026, 1, 1), D("0.7350"))]},
                "EUR": {"USD": [(date(2025, 1, 1), D("0.9500"))]},
                "GBP": {"EUR": [(date(2025, 1, 1), D("0.8400"))]},
                "CAD": {"USD": [(date(2026, 1, 1), D("1.3600"))]}}.get(company, {})


def _built(amap, path, target="x3"):
    import duckdb

    from sage_amazon.amazon import settlement as parser
    from sage_amazon.ledger import settlements

    con = duckdb.connect()
    for schema in ("raw", "ref", "staging", "marts", "ops"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    accounts.write_table(con, amap, target)
    summary = parser.land(con, path, source="inspect")
    settlements.build(con, summary.settlement_id, settlements.JOURNAL_MODELS)
    return con, summary.settlement_id


def test_sites_of_companies_in_different_currencies_each_convert_to_their_own():
    from sage_amazon.ledger import settlements

    got = currency.from_erp(accounts.load(), ThreeCompanies(), "x3")
    assert got.company_currency == "USD"  # the default site's ("*": US01) company
    assert got.site_currencies == {"GB01": "GBP", "DE01": "EUR"}
    assert got.company_rates == {"EUR": {"USD": [(date(2025, 1, 1), D("0.9500"))]},
                                 "GBP": {"EUR": [(date(2025, 1, 1), D("0.8400"))]}}
    # a German settlement posts to DE01, whose company keeps euros: no conversion at all
    con, sid = _built(got, FILES / "de-v2-local.txt")
    try:
        assert all(o.passed for o in settlements.validate(con, sid) if o.blocking)
        rows = con.execute("SELECT DISTINCT site, company_currency, rate FROM marts.journal_settlement_lines "
                           "WHERE settlement_id = ?", [sid]).fetchall()
        assert rows == [("DE01", "EUR", D(1))]
        assert all(line.ledger_debit is None for j in settlements.journals(con, sid, "x3") for line in j.lines)
    finally:
        con.close()
    # a Canadian settlement goes to the default site US01 (USD company) at the USD company's CAD rate
    con, sid = _built(got, FILES / "ca-v1-card-charged.txt")
    try:
        rows = con.execute("SELECT DISTINCT site, company_currency, rate FROM marts.journal_settlement_lines "
                           "WHERE settlement_id = ?", [sid]).fetchall()
        assert rows == [("US01", "USD", D("0.7350"))]
    finally:
        con.close()


def test_a_settlement_over_sites_of_companies_in_different_currencies_is_blocked_in_one_line():
    from sage_amazon.ledger import settlements

    amap = accounts.load()
    sites = {**amap.sites, "x3": {**amap.sites["x3"], "CA": "CA01"}}  # Canadian lines to a site of a CAD company
    got = currency.from_erp(replace(amap, sites=sites), ThreeCompanies(), "x3")
    con, sid = _built(got, FILES / "na-unified.txt")
    try:
        balanced = next(o for o in settlements.validate(con, sid) if o.name == "settlement_journals_balanced")
    finally:
        con.close()
    assert not balanced.passed and balanced.blocking
    assert "different currencies (CA01 CAD, US01 USD)" in balanced.description and "\n" not in balanced.description


def test_sage500_company_currency_and_rate_table():
    from sage_amazon.sage.sage500 import Sage500Target
    from sage_amazon.sandbox.sage500 import sandbox_database

    pg_server.require()
    with sandbox_database(pg_server.SERVER_URL) as db:
        target = Sage500Target(db.url, company_id=db.company_id)
        try:
            got = currency.from_erp(accounts.load(), target, "sage500")
        finally:
            target.engine.dispose()
    assert got.company_currency == "USD"
    assert got.dated_rates["GBP"][1] == (date(2026, 4, 1), D("1.2650"))
    assert set(got.dated_rates) == {"GBP", "EUR", "CAD", "MXN", "JPY", "AUD"}


@pytest.mark.slow
def test_landing_with_currency_source_erp_posts_at_the_tabchange_rate(env, tmp_path, monkeypatch):  # noqa: F811
    """The shipped accounts.yaml (currency_source: erp by default): a CAD settlement of March 2026 converts at X3's
    TABCHANGE rate of 2026-01-01 (0.7350), not at accounts.yaml's constant (0.7300)."""
    from tests.settlements.test_assets import _import, _run

    assert accounts.load().currency_source == "erp"
    x3, resources, instance, settings = env
    sid = _import(Path(__file__).parent / "files" / "ca-v1-card-charged.txt", settings, instance)
    _run(sid, resources, instance)
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rates = {r[0] for r in con.execute(
            "SELECT rate FROM marts.journal_settlement_lines WHERE settlement_id = ?", [sid]).fetchall()}
        company = {r[0] for r in con.execute(
            "SELECT company_currency FROM marts.journal_settlement_lines WHERE settlement_id = ?", [sid]).fetchall()}
    assert rates == {D("0.7350")} and company == {"USD"}
    heads = [h for h in x3.rows("GACCENTRY") if h["REF_0"].startswith(f"AMZ-{sid}")]
    assert heads and {h["RATMLT_0"] for h in heads} == {D("0.735")}


def test_inspect_says_whose_rates_its_company_currency_amounts_are():
    """`settlement inspect` reads no ERP: under currency_source: erp it says the posting converts at the ERP's rates."""
    from sage_amazon.ledger import settlements

    euro = settlements.preview(FILES / "de-v2-local.txt", "x3")
    assert [w for w in euro.warnings if "ERP's rate" in w] == [
        "USD amounts here at accounts.yaml's rates; the posting converts at the Sage company's currency and the "
        "ERP's rate of each journal's date (currency_source: erp)"]
    dollars = settlements.preview(FILES / "na-unified.txt", "x3")
    assert not [w for w in dollars.warnings if "ERP's rate" in w]  # nothing converted: nothing to say


def test_rewriting_the_account_map_from_yaml_keeps_what_the_erp_said():
    """The reference asset rewrites ref.settlement_account_map from accounts.yaml alone: under currency_source: erp
    it keeps the company currencies and rates the last landing read from the ERP (a journal built between the two
    must not fall back to accounts.yaml's constants)."""
    import duckdb

    read = currency.from_erp(accounts.load(), ThreeCompanies(), "x3")
    con = duckdb.connect()
    try:
        assert currency.last_read(con, accounts.load(), "x3") == accounts.load()  # no table yet: as configured
        con.execute("CREATE SCHEMA ref")
        accounts.write_table(con, read, "x3")
        kept = currency.last_read(con, accounts.load(), "x3")
        assert (kept.company_currency, kept.dated_rates, kept.site_currencies, kept.company_rates) == (
            read.company_currency, read.dated_rates, read.site_currencies, read.company_rates)
        accounts.write_table(con, kept, "x3")  # what the reference asset writes: the same rows again
        assert currency.last_read(con, accounts.load(), "x3") == kept
        accounts.write_table(con, accounts.load(), "x3")  # a table from accounts.yaml alone: nothing to keep
        assert currency.last_read(con, accounts.load(), "x3") == accounts.load()
        settings = replace(accounts.load(), currency_source="settings")
        accounts.write_table(con, read, "x3")
        assert currency.last_read(con, settings, "x3") == settings  # settings: accounts.yaml as written
    finally:
        con.close()


def test_an_erp_without_the_tables_falls_back_to_the_settings_and_a_passing_outage_is_raised():
    from sage_amazon.sage import errors

    class NoRateTable:  # e.g. an X3 endpoint without the TABCHANGE class
        def company_currency(self, site):
            return "USD"

        def exchange_rates(self, company):
            raise errors.SageConfigurationError("X3 REST: class TABCHANGE not found")

    got = currency.from_erp(accounts.load(), NoRateTable(), "x3")
    assert got.company_currency == "USD" and got.rates == accounts.load().rates and got.dated_rates == {}

    class Down(NoRateTable):
        def company_currency(self, site):
            raise errors.SageTransientError("X3 REST HTTP 503")

    with pytest.raises(errors.SageTransientError):  # the landing is retried, never done at the fallback rates
        currency.from_erp(accounts.load(), Down(), "x3")
