"""Amazon down during the MFN push: one line naming SP_API_ENDPOINT, nothing confirmed, the rest left for the next
push, which confirms each shipment once. A sandbox of its own (the module's other tests use up its MFN orders)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from sage_amazon import posting_ledger
from sage_amazon.amazon import shipment_confirmation as sc
from sage_amazon.sandbox.sage500 import ship_order
from tests.regional import regional_accounts

from .conftest import ANCHOR, ConfirmCounter
from .test_mfn_shipments import from_amazon, mfn_unshipped

TAKEN: set[str] = set()


@pytest.fixture(scope="module")
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from sage_amazon.sandbox.amazon.server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("amazon-outage"), seed=42, time_scale=50, sqs_endpoint=None,
                         ticking=False, history_days=10, now=ANCHOR, clock=lambda: ANCHOR) as sb, \
            regional_accounts(sb, tmp_path_factory.mktemp("accounts")) as accounts_file:
        sb.confirmations = ConfirmCounter(sb.world)
        sb.accounts_file = accounts_file
        yield sb


def test_amazon_down_stops_the_push_with_one_line_and_the_next_run_confirms_once(amazon, sage500_db, target,
                                                                                 resources):
    from sage_amazon.errors import Unfinished
    from sage_amazon.retrying import RetryPolicy

    orders = [mfn_unshipped(amazon, "ATVPDKIKX0DER", TAKEN) for _ in range(2)]
    ships = []
    for n, order in enumerate(orders):
        from_amazon(target, order)
        ships.append(ship_order(sage500_db.engine, order["id"], "DHL EXPRESS", f"JD09{n}", date(2026, 11, 22)))
    api = resources["sp_api"].get_client()
    api.retry = RetryPolicy(budget=0.5, timeout=5.0, initial=0.05, max_wait=0.1)
    warehouse = resources["warehouse"]
    amazon.faults.error_rate = 1.0
    try:
        with pytest.raises(Unfinished) as info:
            sc.push_shipments(warehouse.write, target, api)
    finally:
        amazon.faults.error_rate = 0.0
    assert f"SP-API at SP_API_ENDPOINT={amazon.base_url} still unavailable after" in str(info.value)
    assert "2 shipment(s) left unconfirmed (1 not attempted), resumed by the next run" in str(info.value)
    assert info.value.result.counts["not_attempted"] == 1
    assert api.calls["confirmShipment"] == 0 and len(target.unpushed_shipments()) == 2

    done = sc.push_shipments(warehouse.write, target, api)  # Amazon is back
    api.close()
    assert done.counts["pushed"] == 2 and not target.unpushed_shipments()
    assert all(len(amazon.confirmations.for_order(o["id"])) == 1 for o in orders)
    with warehouse.write() as con:
        assert {posting_ledger.get(con, sc.FLOW, s).status for s in ships} == {"posted"}
