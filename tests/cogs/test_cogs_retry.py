"""A COGS period waiting for a cost posts as soon as Sage has it (issue 17.4): the item's average cost at the FBA
site is 0 in the X3 sandbox, so the settlement's COGS waits; the retry sensor asks for nothing while Sage still has
no cost, requests one settlement_cogs run for the settlement once the cost is there (whatever the day), and
nothing once the journal is posted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import cogs, settlements
from sage_amazon.mapping import accounts
from sage_amazon.warehouse import Warehouse
from tests.tax.handmade import Sale, write

D = Decimal
SID = "91700000801"
SALES = [Sale("111-1700801-0000001", "NW-PAD-UL", 2, D("59.99"), D("0"), "CA", D("0"), date(2026, 9, 3)),
         Sale("111-1700801-0000002", "NW-TENT-2P", 1, D("149.99"), D("0"), "CA", D("0"), date(2026, 9, 4))]
pytestmark = pytest.mark.slow


def _set_cost(x3, item: str, cost: Decimal) -> None:
    with x3.engine.begin() as conn:
        conn.execute(text("UPDATE ITMMVT SET AVC_0 = :c WHERE ITMREF_0 = :i AND STOFCY_0 = 'FBAUS'"),
                     {"c": float(cost), "i": item})


def test_a_period_waiting_for_a_cost_is_retried_once_sage_has_it(tmp_path):
    import dagster as dg

    from resources.sage import SageResource
    from resources.warehouse import WarehouseResource
    from sage_amazon.sandbox.x3 import running_x3
    from sensors.settlements import settlement_cogs_retry_sensor

    path = tmp_path / f"{SID}.txt"
    write(path, SID, date(2026, 9, 1), date(2026, 9, 14), SALES)
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=30)
    with wh.write() as con:
        accounts.write_table(con, accounts.load(), "x3")
        parser.land(con, path)
        settlements.build(con, SID)
    with running_x3(tmp_path) as x3:
        cost = {r["ITMREF_0"]: D(str(r["AVC_0"])) for r in x3.rows("ITMMVT", STOFCY="FBAUS")}["NW-PAD-UL"]
        _set_cost(x3, "NW-PAD-UL", D("0"))
        sage = SageResource(target="x3", x3_url=x3.url, x3_user=x3.user, x3_password=x3.password,
                            x3_pool=x3.pool, x3_folder=x3.folder)
        resources = {"warehouse": WarehouseResource(path=str(wh.path)), "sage": sage}

        def tick():
            with dg.build_sensor_context(resources=resources) as context:
                return settlement_cogs_retry_sensor(context)

        held = cogs.run(wh.write, sage.get_target(), SID, "x3")
        still = tick()
        _set_cost(x3, "NW-PAD-UL", cost)
        due = tick()
        again = tick()
        posted = cogs.run(wh.write, sage.get_target(), SID, "x3")
        after = tick()
        journals = x3.rows("GACCENTRY")
    assert held.waiting == {f"COGS-{SID}-202609": "COGS not posted: NW-PAD-UL has no cost in Sage (item NW-PAD-UL "
                                                  "at FBAUS)"}
    assert isinstance(still, dg.SkipReason)
    assert [(r.partition_key, r.tags["sage_amazon/trigger"]) for r in due] == [(SID, "cogs cost found in Sage")]
    assert [r.run_key for r in again] == [r.run_key for r in due]  # the same change: the same run key, one run
    assert posted.all_posted and list(posted.posted) == [f"COGS-{SID}-202609"] and len(journals) == 1
    assert isinstance(after, dg.SkipReason)
