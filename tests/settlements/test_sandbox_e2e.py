"""End to end against the sandboxes: every sandbox settlement is discovered over the SP-API, landed,
journalised and posted to the X3 sandbox; per-account totals equal the generator's ground truth."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import currency, intake, posting, settlements
from sage_amazon.mapping import accounts
from sage_amazon.warehouse import Warehouse
from tests.regional import regional_accounts

MARKET_CODE = {"ATVPDKIKX0DER": "US", "A1F83G8C2ARO7P": "UK", "A1PA6795UKMFR9": "DE"}
ANCHOR = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # the seller's clock stands here: the same settlements any day
pytestmark = pytest.mark.slow


def _client(sb):
    """The seller's NA (US) and EU (UK, DE) accounts, each on its region's sandbox host (regional_accounts)."""
    from sage_amazon.amazon.accounts import RegionalSpApi, load
    from sage_amazon.amazon.client import RateLimiters, SpApi

    limiters = RateLimiters(scale=1000)
    return RegionalSpApi([(a, SpApi(a.settings, limiters=limiters)) for a in load(sb.accounts_file)])


def _expected_accounts(truth, amap, target="x3"):
    """Ground truth per (transaction-type, amount-type, description), through the shipped account map, in the
    settlement currency; its company-currency side is `_expected_ledger` at the ERP sandbox's own rates."""
    market = MARKET_CODE[truth.marketplace_id]
    out: dict[str, Decimal] = defaultdict(Decimal)
    for (tt, at, ad), amount in truth.by_line_type.items():
        role, _ = amap.role_for(tt, at, ad, market)
        out[amap.account(target, role, market)] += amount
    return {a: v for a, v in out.items() if v != 0}


def _erp_rates(rows) -> dict[str, list[tuple]]:
    """The ERP sandbox's own rate table (X3 TABCHANGE, Sage 500 tmcCurrExchRate) as it holds it: currency ->
    [(from day, rate to USD)], read with SQL, not through the product."""
    out: dict[str, list[tuple]] = defaultdict(list)
    for cur, day, rate in rows:
        out[str(cur).strip()].append((day if isinstance(day, date) else date.fromisoformat(str(day)[:10]),
                                      Decimal(str(rate))))
    return {cur: sorted(days) for cur, days in out.items()}


def _erp_rate(currency, day, rates) -> Decimal:
    """The ERP's rate of `day`: the last one on or before it (1 for the company currency, USD)."""
    day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])  # the X3 sandbox's SQLite: text
    return Decimal(1) if currency == "USD" else max((d, r) for d, r in rates[currency] if d <= day)[1]


def _expected_ledger(amount, currency, day, rates) -> Decimal:
    """What an accountant books in USD for a line of `day`: the amount at the ERP's rate of that day, to the cent."""
    return (Decimal(str(amount)) * _erp_rate(currency, day, rates)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from sage_amazon.sandbox.amazon.server import running_sandbox

    tmp = tmp_path_factory.mktemp("sandbox")
    # time_scale: the sandbox refills its rate limits 1000x faster (getReportDocument is 1/min at Amazon)
    with running_sandbox(tmp, seed=7, history_days=35, now=ANCHOR, clock=lambda: ANCHOR, ticking=False,
                         time_scale=1000) as sb, regional_accounts(sb, tmp) as accounts_file:
        sb.accounts_file = accounts_file
        api = _client(sb)
        found = intake.discover(api, tmp / "raw", {}, now=sb.world.clock(), max_downloads=50)
        yield sb, sb.truths(), found, tmp


def test_discovery_keeps_every_settlement_once(world):
    sb, truths, found, tmp = world
    assert not found.errors
    assert {t.settlement_id for t in truths} == {s.settlement_id for s in found.stored}
    assert len(found.stored) == len(truths)  # the V1 twin of each V2 report is not downloaded
    assert {t.currency for t in truths} == {"USD", "GBP", "EUR"}
    for truth in truths:
        path = intake.find_file(tmp / "raw", truth.settlement_id)
        assert path is not None and intake.manifest(tmp / "raw", truth.settlement_id)["file_format"] == "V2"
    # a second poll downloads nothing again
    again = intake.discover(_client(sb), tmp / "raw", found.cursor, now=sb.world.clock())
    assert again.stored == [] and not again.errors


def test_every_settlement_posts_to_x3_and_matches_ground_truth(world, tmp_path):
    from sqlalchemy import text

    from sage_amazon.sage.x3 import X3Target
    from sage_amazon.sandbox.x3 import running_x3

    _, truths, _, raw_tmp = world
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with running_x3(tmp_path) as x3:
        target = X3Target.from_settings(url=x3.url, user=x3.user, password=x3.password, pool=x3.pool,
                                        folder=x3.folder)
        # the shipped currency_source: erp, as the landing asset does: the company's currency and TABCHANGE's rates
        amap = currency.from_erp(accounts.load(), target, "x3")
        for truth in truths:
            with wh.write() as con:
                accounts.write_table(con, amap, "x3")
                summary = parser.land(con, intake.find_file(raw_tmp / "raw", truth.settlement_id))
                settlements.build(con, truth.settlement_id)
                outcomes = settlements.validate(con, truth.settlement_id)
            assert summary.total_amount == truth.total and summary.line_count == truth.line_count
            assert all(o.passed for o in outcomes), [o.description for o in outcomes if not o.passed]
            report = posting.post_settlement(wh.write, target, truth.settlement_id)
            assert report.all_posted and report.posted, report
            again = posting.post_settlement(wh.write, target, truth.settlement_id)
            assert not again.posted and again.already.keys() == report.posted.keys()

        with x3.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT h.REF_0, d.ACC_0, d.SNS_0, d.AMTCUR_0, d.AMTLED_0, h.ACCDAT_0, h.CUR_0, h.RATMLT_0 "
                "FROM GACCENTRYD d JOIN GACCENTRY h ON h.TYP_0 = d.TYP_0 AND h.NUM_0 = d.NUM_0")).fetchall()
            rates = _erp_rates(conn.execute(text(
                "SELECT CUR_0, CHGSTRDAT_0, CHGRAT_0 FROM TABCHANGE WHERE CURDEN_0 = 'USD' AND CHGTYP_0 = 1")))
    posted: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    ledger_balance: dict[str, Decimal] = defaultdict(Decimal)
    clearing_ledger: dict[str, Decimal] = defaultdict(Decimal)
    used: dict[str, set[Decimal]] = defaultdict(set)
    for ref, acc, sns, amount, led, day, cur, ratmlt in rows:
        sid = ref.split("-")[1]
        if acc not in ("1210", "7900", "7910"):  # each converted line at TABCHANGE's rate of its journal's date
            assert Decimal(str(led)) == _expected_ledger(amount, cur, day, rates), (ref, acc, amount, led)
        assert Decimal(str(ratmlt)) == _erp_rate(cur, day, rates), (ref, ratmlt)  # the journal's rate (RATMLT)
        used[cur].add(Decimal(str(ratmlt)))
        posted[sid][acc] += -Decimal(str(amount)) * sns  # credit-positive
        ledger_balance[ref] += Decimal(str(led)) * sns
        if acc == "1210":
            clearing_ledger[sid] += Decimal(str(led)) * sns
    assert all(v == 0 for v in ledger_balance.values()), ledger_balance  # each journal balanced in USD
    assert all(v == 0 for v in clearing_ledger.values()), clearing_ledger  # clearing nets to 0.00 in USD too
    # the rates are X3's (2026 quarterly TABCHANGE), not accounts.yaml's constants (GBP 1.27, EUR 1.08)
    assert used["USD"] == {Decimal(1)} and used["GBP"] and used["EUR"]
    assert used["GBP"] <= {r for _d, r in rates["GBP"]} and used["EUR"] <= {r for _d, r in rates["EUR"]}
    assert used["GBP"] != {Decimal("1.27")} and used["EUR"] != {Decimal("1.08")}
    for truth in truths:
        got = {a: v for a, v in posted[truth.settlement_id].items() if a not in ("1010", "1210") and v != 0}
        assert got == _expected_accounts(truth, amap), truth.settlement_id
        assert posted[truth.settlement_id]["1010"] == -truth.total  # the deposit (or the charge)
        assert posted[truth.settlement_id]["1210"] == 0  # clearing nets to zero
        # the ground truth's own categories: sales and reserve land where finance expects them
        assert got.get("4000", Decimal(0)) == truth.categories.get("principal", Decimal(0))
        reserve = truth.categories.get("reserve_current", Decimal(0)) + truth.categories.get("reserve_previous",
                                                                                             Decimal(0))
        assert got.get("1220", Decimal(0)) == reserve


def test_v1_file_of_a_settlement_gives_the_same_journals(world, tmp_path):
    sb, truths, _, _ = world
    from sage_amazon.sandbox.amazon import report_content

    truth = max(truths, key=lambda t: t.line_count)
    settlement = sb.world.state["settlements"][truth.settlement_id]
    v2, v1 = tmp_path / "v2.txt", tmp_path / "v1.txt"
    v2.write_text(report_content.settlement_text(sb.world, settlement, 2))
    v1.write_text(report_content.settlement_text(sb.world, settlement, 1))
    a, b = settlements.preview(v2, "x3"), settlements.preview(v1, "x3")
    assert b.summary.file_format == "V1" and all(o.passed for o in b.outcomes)

    def net(p):
        return sorted((r["account"], r["net"]) for r in p.accounts)

    assert net(a) == net(b)


class _AtAnchor(datetime):
    """datetime whose now() is the seller's anchored clock (for product code that reads the clock itself)."""

    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return ANCHOR if tz is None else ANCHOR.astimezone(tz)


def test_discovery_sensor_adds_partitions_and_requests_runs_keyed_by_settlement_and_content(world, data_dir, monkeypatch):
    import dagster as dg

    from resources.notifications import SqsResource
    from resources.sp_api import SpApiResource
    from sage_amazon.amazon import client
    from sage_amazon.sandbox.amazon.server import free_port
    from sensors.settlements import settlement_discovery_sensor

    sb, truths, _, _ = world
    monkeypatch.setattr(client, "LIMITERS", client.RateLimiters(scale=1000))
    monkeypatch.setattr(intake, "datetime", _AtAnchor)  # the sensor's discovery reads the clock: Amazon's one
    env = sb.env
    resources = {
        "sp_api": SpApiResource(endpoint=env["SP_API_ENDPOINT"], lwa_endpoint=env["SP_API_LWA_ENDPOINT"],
                                refresh_token=env["SP_API_REFRESH_TOKEN"], lwa_app_id=env["LWA_APP_ID"],
                                lwa_client_secret=env["LWA_CLIENT_SECRET"], marketplaces=env["SP_API_MARKETPLACES"],
                                accounts_file=sb.accounts_file),
        "settlements_queue": SqsResource(queue_url=f"http://127.0.0.1:{free_port()}/123456789012/none"),  # no queue there
    }
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        result = settlement_discovery_sensor(context)
        ids = sorted(t.settlement_id for t in truths)
        assert sorted(r.partition_key for r in result.run_requests) == ids
        # keyed by settlement and content: a reissued report of the same settlement is another run
        assert all(r.run_key == f"{r.partition_key}:{intake.manifest(data_dir / 'raw', r.partition_key)['sha256'][:16]}"
                   for r in result.run_requests)
        assert sorted(result.dynamic_partitions_requests[0].partition_keys) == ids
        for sid in ids:  # downloaded at once and kept for audit
            assert (data_dir / "raw" / "settlements" / f"{sid}.txt").exists()
        instance.add_dynamic_partitions("settlement_ids", ids)
        later = settlement_discovery_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor,
                                                                    resources=resources))
        assert not later.run_requests and not later.dynamic_partitions_requests


def test_report_processing_finished_notification_is_downloaded_first(world, tmp_path):
    import json
    from types import SimpleNamespace

    sb, truths, _, _ = world
    report = next(r for r in sb.world.state["reports"].values()
                  if r["reportType"] == intake.V2_REPORT and r["settlementId"] == truths[-1].settlement_id)
    body = {"notificationVersion": "2020-09-04", "notificationType": "REPORT_PROCESSING_FINISHED",
            "payload": {"reportProcessingFinishedNotification": {
                "sellerId": "A1", "reportId": report["reportId"], "reportType": intake.V2_REPORT,
                "processingStatus": "DONE", "reportDocumentId": report["reportDocumentId"]}}}
    orders = {"NotificationType": "ORDER_CHANGE", "Payload": {}}
    messages = [SimpleNamespace(body=json.dumps(body), receipt_handle="h1"),
                SimpleNamespace(body=json.dumps(orders), receipt_handle="h2")]
    docs, handles = intake.settlement_documents(messages)
    assert (docs, handles) == ([report["reportDocumentId"]], ["h1"])  # order messages are left alone
    found = intake.discover(_client(sb), tmp_path / "raw", {}, now=sb.world.clock(), document_ids=docs,
                            max_downloads=1)
    assert [s.settlement_id for s in found.stored] == [truths[-1].settlement_id]
    # the same report listed by getReports later is not downloaded again
    rest = intake.discover(_client(sb), tmp_path / "raw", found.cursor, now=sb.world.clock())
    assert truths[-1].settlement_id not in {s.settlement_id for s in rest.stored if not s.kept_existing}


def test_every_settlement_posts_to_sage500_and_matches_ground_truth(world, tmp_path):
    from sqlalchemy import text

    from sage_amazon.sage.sage500 import Sage500Target
    from sage_amazon.sandbox.sage500 import sandbox_database
    from tests import postgres as pg_server

    pg_server.require()
    _, truths, _, raw_tmp = world
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with sandbox_database(pg_server.SERVER_URL) as db:
        target = Sage500Target(db.url, company_id=db.company_id)
        try:
            amap = currency.from_erp(accounts.load(), target, "sage500")  # tsmCompany.CurrID, tmcCurrExchRate
            for truth in truths:
                with wh.write() as con:
                    accounts.write_table(con, amap, "sage500")
                    parser.land(con, intake.find_file(raw_tmp / "raw", truth.settlement_id))
                    settlements.build(con, truth.settlement_id)
                report = posting.post_settlement(wh.write, target, truth.settlement_id)
                assert report.all_posted and report.posted, report
            with db.engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT b.BatchCmnt, a.GLAcctNo, t.PostAmt, t.PostAmtHC, t.PostDate, t.CurrID FROM tglTransaction t "
                    "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey "
                    "JOIN tciBatchLog b ON b.BatchKey = t.BatchKey")).fetchall()
                rates = _erp_rates(conn.execute(text(
                    "SELECT CurrID, EffectiveDate, CurrExchRate FROM tmcCurrExchRate WHERE CurrExchSchdKey = 1")))
        finally:
            target.engine.dispose()
    posted: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    home: dict[str, Decimal] = defaultdict(Decimal)
    clearing_home: dict[str, Decimal] = defaultdict(Decimal)
    converted = 0
    for ref, acc, amount, amount_hc, day, cur in rows:
        if acc not in ("1210", "7900", "7910"):  # each line at tmcCurrExchRate's rate of its posting date
            assert Decimal(amount_hc) == _expected_ledger(amount, cur.strip(), day, rates), (ref, acc, amount)
            converted += cur.strip() != "USD"
        posted[ref.split("-")[1]][acc] += -Decimal(amount)  # Sage 500: debit positive; ours credit-positive
        home[ref] += Decimal(amount_hc)
        if acc == "1210":
            clearing_home[ref.split("-")[1]] += Decimal(amount_hc)
    assert all(v == 0 for v in home.values())  # every batch balanced in the home currency
    assert converted  # GBP and EUR settlements were converted (at Sage 500's rates, checked line by line above)
    assert all(v == 0 for v in clearing_home.values()), clearing_home  # clearing nets to 0.00 in USD too
    for truth in truths:
        got = {a: v for a, v in posted[truth.settlement_id].items() if a not in ("1010", "1210") and v != 0}
        assert got == _expected_accounts(truth, amap, "sage500"), truth.settlement_id
        assert posted[truth.settlement_id]["1010"] == -truth.total


def test_credit_notes_for_refunds_when_configured(world, tmp_path, monkeypatch):
    from sage_amazon import deadletters
    from sage_amazon.mapping import DEFAULTS_DIR
    from sage_amazon.sage.x3 import X3Target
    from sage_amazon.sandbox.x3 import running_x3

    override = tmp_path / "mapping"
    override.mkdir()
    text = (DEFAULTS_DIR / "accounts.yaml").read_text().replace("documents: journal_only", "documents: credit_notes")
    (override / "accounts.yaml").write_text(text)
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(override))
    _, truths, _, raw_tmp = world
    truth = max(truths, key=lambda t: abs(t.categories.get("refund", Decimal(0))) if t.currency == "USD" else 0)
    refunded = sum(v for (tt, at, ad), v in truth.by_line_type.items()
                   if tt == "Refund" and at == "ItemPrice" and ad == "Principal")
    assert refunded < 0
    amap = accounts.load()
    assert amap.documents == "credit_notes"
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with running_x3(tmp_path / "x3") as x3:
        target = X3Target.from_settings(url=x3.url, user=x3.user, password=x3.password, pool=x3.pool,
                                        folder=x3.folder)
        with wh.write() as con:
            accounts.write_table(con, amap, "x3")
            parser.land(con, intake.find_file(raw_tmp / "raw", truth.settlement_id))
            settlements.build(con, truth.settlement_id)
            net = settlements.per_account_totals(con, truth.settlement_id)
        assert net["1100"] == refunded  # refunded principal waits in receivables for the credit notes
        report = posting.post_settlement(wh.write, target, truth.settlement_id, documents="credit_notes",
                                         target_name="x3")
        again = posting.post_settlement(wh.write, target, truth.settlement_id, documents="credit_notes",
                                        target_name="x3")
        notes = x3.rows("SINVOICE")
        with wh.write() as con:
            letters = {d.record_key: d.reason for d in deadletters.open_letters(con, posting.DEAD_LETTER_FLOW)}
    assert not report.transient and report.credit_notes, report
    assert again.credit_notes == report.credit_notes and len(x3.rows("SINVOICE")) == len(notes)  # once each
    assert {n["INVREF_0"] for n in notes} == set(report.credit_notes)
    assert {n["BPCINV_0"] for n in notes} == {"AMZUS"}
    credited = sum(Decimal(str(n["AMTNOT_0"])) for n in notes)
    missing = sum(Decimal(p["principal"]) for ref in letters for p in _letter_lines(wh, ref))
    assert credited + missing == -refunded  # every refund is a credit note, or a dead letter saying why
    assert all("Sage item" in reason or "ITMREF" in reason for reason in letters.values())


def _letter_lines(wh, reference):
    import json


    with wh.write() as con:
        payload = con.execute("SELECT payload FROM ops.dead_letters WHERE flow = ? AND record_key = ?",
                              [posting.DEAD_LETTER_FLOW, reference]).fetchone()[0]
    doc = json.loads(payload)
    if "lines" in doc and doc["lines"] and "principal" in doc["lines"][0]:
        return doc["lines"]
    return [{"principal": str(sum(Decimal(str(line["net_price"])) * Decimal(str(line["quantity"]))
                                  for line in doc["lines"]))}]


@pytest.mark.parametrize("name", ["ca-v1-blanks.txt", "jp-v2-yen.txt", "na-unified.txt", "neg-2-card-charged.txt"])
def test_real_file_shapes_post_to_sage500(tmp_path, name):
    from pathlib import Path

    from sqlalchemy import text

    from sage_amazon.sage.sage500 import Sage500Target
    from sage_amazon.sandbox.sage500 import sandbox_database
    from tests import postgres as pg_server

    pg_server.require()
    path = Path(__file__).parent / "files" / name
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with sandbox_database(pg_server.SERVER_URL) as db:
        target = Sage500Target(db.url, company_id=db.company_id)
        try:
            with wh.write() as con:
                accounts.write_table(con, accounts.load(), "sage500")
                sid = parser.land(con, path).settlement_id
                settlements.build(con, sid)
                assert all(o.passed for o in settlements.validate(con, sid) if o.blocking)
            report = posting.post_settlement(wh.write, target, sid)
            assert report.all_posted and report.posted, report
            with db.engine.connect() as conn:
                clearing = conn.execute(text(
                    "SELECT coalesce(sum(t.PostAmt), 0), coalesce(sum(t.PostAmtHC), 0) FROM tglTransaction t "
                    "JOIN tglAccount a ON a.GLAcctKey = t.GLAcctKey WHERE a.GLAcctNo = '1210'")).one()
        finally:
            target.engine.dispose()
    assert clearing == (0, 0)  # clearing nets to 0.00 in both currencies
