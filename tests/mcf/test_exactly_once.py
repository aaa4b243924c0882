"""Exactly once (issue 18.3): the Sage order number is the sellerFulfillmentOrderId; a create whose reply was lost, or
whose record in the warehouse was lost, never makes a second MCF order: the next run finds Amazon's and adopts it.
A cancellation Amazon refuses (the order is being picked) is a dead letter with Amazon's reason, sent once."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

import pytest

from tests.mcf.conftest import ANCHOR, advance, mcf_orders, sent, sp_api_resource


@pytest.fixture
def flow(amazon: Any, x3: Any, tmp_path) -> dict[str, Any]:
    """The domain steps on the X3 sandbox (read only here) and a fresh warehouse, Sage's web orders read once."""
    from sage_amazon.mapping.orders import sku_rules
    from sage_amazon.mcf import channel, rules, store
    from sage_amazon.sage.x3 import X3Target
    from sage_amazon.warehouse import Warehouse

    target = X3Target.from_settings(x3.url, x3.user, x3.password, x3.pool, x3.folder)
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    mcf = rules.load("x3")

    def read_sage() -> None:  # what the flow's Sage step does before each Amazon step
        with wh.write() as con:
            known = store.known_numbers(con)
        rows = channel.read(target, mcf, sku_rules("x3").aliases, date(2026, 11, 22), ANCHOR, known)
        with wh.write() as con:
            store.replace_sage_orders(con, rows)

    read_sage()
    api = sp_api_resource(amazon).get_client()
    yield {"warehouse": wh, "api": api, "rules": mcf, "read_sage": read_sage}
    api.close()
    target.close()


def _sync(flow: dict[str, Any]) -> Any:
    from datetime import datetime

    from sage_amazon.mcf import fulfil

    # the sandbox moves MCF orders on the machine clock, as the flow's asset passes it  # clock-ok
    return fulfil.sync(flow["warehouse"].write, flow["api"], flow["rules"], datetime.now(UTC))  # clock-ok


def test_a_lost_reply_or_a_lost_record_never_makes_two_mcf_orders(flow: dict[str, Any], amazon: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_amazon.amazon.client import SpApiUnavailable
    from sage_amazon.mcf import outbound, store

    real_create = outbound.create

    def reply_lost(api: Any, marketplace: str, body: dict[str, Any]) -> None:
        real_create(api, marketplace, body)  # Amazon created it ...
        raise SpApiUnavailable("createFulfillmentOrder: connection reset", status=None)  # ... the answer never came

    monkeypatch.setattr(outbound, "create", reply_lost)
    with pytest.raises(SpApiUnavailable):
        _sync(flow)
    monkeypatch.setattr(outbound, "create", real_create)
    assert set(mcf_orders(amazon)) == {"SOW2600001"}
    result = _sync(flow)  # the `creating` row: Amazon is asked first and its order adopted
    assert result.counts["adopted"] == 1 and result.counts["created"] == 2
    assert set(mcf_orders(amazon)) == {"SOW2600001", "SOW2600002", "SOW2600005"}

    with flow["warehouse"].write() as con:  # the warehouse lost what it sent: Amazon refuses the same id again
        store.delete_order(con, "SOW2600002")
    flow["read_sage"]()
    before = sent(amazon)
    result = _sync(flow)
    assert result.counts["adopted"] == 1 and result.counts["created"] == 0
    assert sent(amazon)["createFulfillmentOrder"] == before["createFulfillmentOrder"] + 1  # refused: already exists
    assert set(mcf_orders(amazon)) == {"SOW2600001", "SOW2600002", "SOW2600005"}  # still one order each
    assert [fo["sellerFulfillmentOrderId"] for fo in mcf_orders(amazon).values()].count("SOW2600002") == 1


def test_a_cancellation_amazon_refuses_is_a_dead_letter_sent_once(flow: dict[str, Any], amazon: Any) -> None:
    from sage_amazon import deadletters
    from sage_amazon.mcf import fulfil, store

    _sync(flow)
    advance(amazon, 0.5)  # Processing (15 Amazon seconds at time_scale 50): picking began, no cancelling now
    assert mcf_orders(amazon)["SOW2600001"]["status"] == "Processing"
    with flow["warehouse"].write() as con:  # the customer cancels in Sage (as the Sage read would show it)
        con.execute(f"UPDATE {store.SAGE_ORDERS} SET status = 'cancelled' WHERE sage_number = 'SOW2600001'")
    result = _sync(flow)
    assert result.counts["cancel_refused"] == 1
    with flow["warehouse"].write() as con:
        [letter] = deadletters.open_letters(con, fulfil.FLOW, reason="cancellation")
    assert letter.record_key == "SOW2600001/cancel"
    assert "can no longer be cancelled" in letter.reason  # Amazon's own message
    before = sent(amazon)
    _sync(flow)
    assert sent(amazon) == before  # refused once: not sent again every run
    assert mcf_orders(amazon)["SOW2600001"]["status"] == "Processing"


def test_an_order_amazon_cannot_ship_waits_for_a_change_or_a_replay(flow: dict[str, Any], amazon: Any) -> None:
    """SOW2600003's postal code cannot be delivered to: a dead letter, not previewed again every run; a replay
    (retry_letters) asks Amazon again; the address corrected in Sage, the order goes to Amazon and the letter closes."""
    import json

    from sage_amazon import deadletters
    from sage_amazon.mcf import fulfil, store

    first = _sync(flow)
    assert first.counts["dead_lettered"] == 1
    before = sent(amazon)
    assert _sync(flow).counts["dead_letter_open"] == 1 and sent(amazon) == before  # unchanged: not asked again
    replay = fulfil.sync(flow["warehouse"].write, flow["api"], flow["rules"], ANCHOR, retry_letters=True)
    assert replay.counts["dead_lettered"] == 1
    assert sent(amazon)["getFulfillmentPreview"] == before["getFulfillmentPreview"] + 1
    with flow["warehouse"].write() as con:  # corrected in Sage (as the next Sage read brings it)
        [(ship_to,)] = con.execute(f"SELECT ship_to FROM {store.SAGE_ORDERS} WHERE sage_number = 'SOW2600003'"
                                   ).fetchall()
        fixed = {**json.loads(ship_to), "postal_code": "80202"}
        con.execute(f"UPDATE {store.SAGE_ORDERS} SET ship_to = ? WHERE sage_number = 'SOW2600003'",
                    [json.dumps(fixed)])
    assert _sync(flow).counts["created"] == 1
    assert mcf_orders(amazon)["SOW2600003"]["destinationAddress"]["postalCode"] == "80202"
    with flow["warehouse"].write() as con:
        assert not deadletters.open_letters(con, fulfil.FLOW)


def test_a_cancellation_after_a_lost_reply_cancels_what_amazon_has(flow: dict[str, Any], amazon: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The creation's answer was lost and the customer cancels in Sage: the order Amazon has is cancelled; one whose
    creation never reached Amazon is simply forgotten (Amazon knows no such order)."""
    from sage_amazon.amazon.client import SpApiUnavailable
    from sage_amazon.mcf import outbound, store

    real_create = outbound.create

    def reply_lost(api: Any, marketplace: str, body: dict[str, Any]) -> None:
        real_create(api, marketplace, body)
        raise SpApiUnavailable("createFulfillmentOrder: connection reset", status=None)

    monkeypatch.setattr(outbound, "create", reply_lost)
    with pytest.raises(SpApiUnavailable):
        _sync(flow)  # SOW2600001 created at Amazon, answer lost; SOW2600002 and SOW2600005 never sent
    monkeypatch.setattr(outbound, "create", real_create)
    with flow["warehouse"].write() as con:
        con.execute(f"UPDATE {store.SAGE_ORDERS} SET status = 'cancelled' "
                    "WHERE sage_number IN ('SOW2600001', 'SOW2600002')")
    result = _sync(flow)
    assert result.counts["cancelled"] == 1 and result.counts["never_created"] == 1
    assert mcf_orders(amazon)["SOW2600001"]["status"] == "Cancelled"
    assert set(mcf_orders(amazon)) == {"SOW2600001", "SOW2600005"}  # 2600005 created now, 2600002 never
