"""Amazon's behaviour at the edges, persistence, determinism and the settlement ground truth."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sp_api.api import Orders, Reports
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import (
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
)

from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.cli import generate_settlement_command
from sage_amazon.sandbox.amazon.faults import Faults
from sage_amazon.sandbox.amazon.report_content import settlement_text
from sage_amazon.sandbox.amazon.server import running_sandbox
from sage_amazon.sandbox.amazon.truth import settlement_truths
from sage_amazon.sandbox.amazon.world import World, WorldOptions

from .conftest import make_client
from .conftest import settlement_amount as amount

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_throttling_is_a_429_the_client_raises(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, seed=1, history_days=20, ticking=False) as sb:  # Amazon's real refill rate
        reports = make_client(Reports, sb.base_url)
        statuses = []
        with pytest.raises(SellingApiRequestThrottledException) as info:
            for _ in range(12):  # getReports: burst 10, 0.0222 per second
                reports.get_reports(reportTypes=["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"])
                statuses.append(200)
        assert len(statuses) == 10
        assert info.value.error[0]["code"] == "QuotaExceeded"
        # ordersV0/reports models declare x-amzn-RateLimit-Limit on 200/400/404 only: never on a 429
        assert "x-amzn-RateLimit-Limit" not in info.value.headers


def test_lwa_refuses_wrong_credentials(sandbox) -> None:
    form = {"grant_type": "refresh_token", "client_id": credentials.LWA_APP_ID,
            "client_secret": "wrong", "refresh_token": credentials.SP_API_REFRESH_TOKEN}
    res = httpx.post(sandbox.lwa_url, data=form)
    assert res.status_code == 401 and res.json()["error"] == "invalid_client"
    res = httpx.post(sandbox.lwa_url, data={**form, "client_secret": credentials.LWA_CLIENT_SECRET,
                                            "refresh_token": "Atzr|nope"})
    assert res.status_code == 400 and res.json()["error"] == "invalid_grant"
    grantless = httpx.post(sandbox.lwa_url, data={"grant_type": "client_credentials", "client_id":
                                                  credentials.LWA_APP_ID, "client_secret": credentials.LWA_CLIENT_SECRET,
                                                  "scope": "sellingpartnerapi::notifications"})
    assert grantless.status_code == 200 and grantless.json()["access_token"]
    bad = make_client(Orders, sandbox.base_url)
    bad._auth.cred.refresh_token = "Atzr|nope"
    with pytest.raises(AuthorizationError):
        bad.get_order("111-0000000-0000000")


def test_unknown_parameters_and_body_fields_are_ignored(sandbox) -> None:
    token = httpx.post(sandbox.lwa_url, data={
        "grant_type": "refresh_token", "client_id": credentials.LWA_APP_ID,
        "client_secret": credentials.LWA_CLIENT_SECRET, "refresh_token": credentials.SP_API_REFRESH_TOKEN,
    }).json()["access_token"]
    res = httpx.post(f"{sandbox.base_url}/reports/2021-06-30/reports", headers={"x-amz-access-token": token},
                     json={"reportType": "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA", "marketplaceIds": ["ATVPDKIKX0DER"],
                           "MarketplaceIds": ["ATVPDKIKX0DER"], "path": "/x", "somethingNew": 1})
    assert res.status_code == 202 and res.json()["reportId"]
    res = httpx.get(f"{sandbox.base_url}/reports/2021-06-30/reports/{res.json()['reportId']}",
                    params={"MarketplaceId": "X", "marketplace_ids": "Y", "whatever": "1"},
                    headers={"x-amz-access-token": token, "host": "27.0.0.1:8000"})
    assert res.status_code == 200


def test_fault_injection_errors(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, seed=3, history_days=10, time_scale=100,
                         faults=Faults(error_rate=1.0)) as sb:
        with pytest.raises(SellingApiServerException):
            make_client(Orders, sb.base_url).get_order("111-0000000-0000000")
    with running_sandbox(tmp_path / "drop", seed=3, history_days=10, time_scale=100,
                         faults=Faults(drop_rate=1.0)) as sb:
        with pytest.raises(httpx.HTTPError):
            make_client(Orders, sb.base_url).get_order("111-0000000-0000000")


def test_fault_injection_latency_and_fatal_reports(tmp_path: Path) -> None:
    import time

    with running_sandbox(tmp_path, seed=4, history_days=10, time_scale=200,
                         faults=Faults(latency_ms=300, fatal_rate=1.0)) as sb:
        reports = make_client(Reports, sb.base_url)
        start = time.monotonic()
        rid = reports.create_report(reportType="GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA").payload["reportId"]
        assert time.monotonic() - start >= 0.3
        deadline = time.monotonic() + 60  # generous: a loaded machine
        while reports.get_report(rid).payload["processingStatus"] != "FATAL":
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_error_bodies_follow_the_model(sandbox, models, monkeypatch) -> None:
    reports_model = "reports-api-model/reports_2021-06-30.json"
    res = httpx.get(f"{sandbox.base_url}/reports/2021-06-30/reports/1", headers={"x-amz-access-token": "nope"})
    assert res.status_code == 403
    models.validate(reports_model, "getReport", 403, res.json())
    client = make_client(Reports, sandbox.base_url)
    with pytest.raises(SellingApiNotFoundException) as info:
        client.get_report("does-not-exist")
    assert info.value.error[0]["code"] == "NotFound"
    monkeypatch.setattr(sandbox.buckets, "time_scale", 0.0)  # no refill (x50) however slow the machine's calls
    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        for _ in range(40):
            client.get_reports(reportTypes=["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"])
    models.validate(reports_model, "getReports", 429, {"errors": throttled.value.error})


def test_ground_truth_endpoint_and_files(sandbox, tmp_path: Path) -> None:
    from sage_amazon.sandbox.amazon.truth import write_settlement_files

    published = httpx.get(f"{sandbox.base_url}/_sandbox/settlements").json()["settlements"]
    with sandbox.world.lock:
        written = write_settlement_files(sandbox.world, tmp_path)
    assert [p["settlement_id"] for p in published] == [t.settlement_id for _, t in written]
    for (path, truth), doc in zip(written, published, strict=True):
        rows = list(csv.DictReader(path.open(encoding="utf-8"), delimiter="\t"))
        assert Decimal(doc["total"]) == truth.total == sum(amount(r["amount"]) for r in rows[1:])


def test_state_survives_restart(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, seed=5, history_days=15, time_scale=100) as sb:
        order = sb.add_order("ATVPDKIKX0DER")  # the main port is the NA host
        token_count = len(sb.world.state["tokens"])
        client = make_client(Orders, sb.base_url)
        client.get_order(order["id"])
    with running_sandbox(tmp_path, seed=5, history_days=15, time_scale=100) as sb:
        assert order["id"] in sb.world.state["orders"]
        assert len(sb.world.state["tokens"]) >= token_count + 1
        # the client's cached access token still works after the restart
        client.endpoint = sb.base_url
        assert client.get_order(order["id"]).payload["AmazonOrderId"] == order["id"]


def test_same_seed_same_data(tmp_path: Path) -> None:
    a = World(tmp_path / "a", WorldOptions(seed=42, now=NOW))
    b = World(tmp_path / "b", WorldOptions(seed=42, now=NOW))
    c = World(tmp_path / "c", WorldOptions(seed=43, now=NOW))
    try:
        assert [o["id"] for o in a.orders_sorted()] == [o["id"] for o in b.orders_sorted()]
        assert [(t.settlement_id, t.total) for t in settlement_truths(a)] == \
            [(t.settlement_id, t.total) for t in settlement_truths(b)]
        assert [o["id"] for o in a.orders_sorted()] != [o["id"] for o in c.orders_sorted()]
    finally:
        for w in (a, b, c):
            w.close()


def test_settlement_files_add_up_and_match_ground_truth(tmp_path: Path) -> None:
    world = World(tmp_path, WorldOptions(seed=42, now=NOW))
    try:
        truths = settlement_truths(world)
        assert len(truths) >= 15 and {t.marketplace_id for t in truths} == {"ATVPDKIKX0DER", "A1F83G8C2ARO7P",
                                                                          "A1PA6795UKMFR9"}
        assert any(t.total < 0 for t in truths), "the generated seller has an occasional negative settlement"
        seen_categories: set[str] = set()
        for truth in truths:
            settlement = world.state["settlements"][truth.settlement_id]
            rows = list(csv.DictReader(io.StringIO(settlement_text(world, settlement, 2)), delimiter="\t"))
            summary, details = rows[0], rows[1:]
            assert amount(summary["total-amount"]) == truth.total
            assert sum(amount(r["amount"]) for r in details) == truth.total
            if truth.marketplace_id == "A1PA6795UKMFR9":  # Amazon.de V2: local format, 95,00
                assert "," in summary["total-amount"] and all("," in r["amount"] for r in details)
            else:
                assert all("," not in r["amount"] for r in details)
            assert sum(truth.categories.values()) == truth.total
            by_type: dict[tuple[str, str, str], Decimal] = {}
            for r in details:
                key = (r["transaction-type"], r["amount-type"], r["amount-description"])
                by_type[key] = by_type.get(key, Decimal(0)) + amount(r["amount"])
            assert by_type == truth.by_line_type
            v1 = list(csv.DictReader(io.StringIO(settlement_text(world, settlement, 1)), delimiter="\t"))
            amount_columns = ("shipment-fee-amount", "order-fee-amount", "price-amount", "item-related-fee-amount",
                              "misc-fee-amount", "other-fee-amount", "promotion-amount", "direct-payment-amount",
                              "other-amount")
            assert sum(Decimal(r[c]) for r in v1[1:] for c in amount_columns if r[c]) == truth.total
            seen_categories |= set(truth.categories)
        assert {"principal", "tax", "shipping", "promotion", "referral_fee", "fba_fee", "refund", "refund_commission",
                "storage_fee", "subscription_fee", "reimbursement", "reserve_previous", "reserve_current",
                "marketplace_facilitator_tax", "advertising"} <= seen_categories
    finally:
        world.close()


def test_generate_settlement_cli(tmp_path: Path) -> None:
    out = tmp_path / "big.txt"
    result = CliRunner().invoke(generate_settlement_command, ["--lines", "5000", "--out", str(out), "--seed", "9"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8"), delimiter="\t"))
    assert len(rows) == 5001
    assert sum(Decimal(r["amount"]) for r in rows[1:]) == Decimal(rows[0]["total-amount"])
