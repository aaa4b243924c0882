"""The same order flow on Sage 500 (staging tables + import procedure): orders post once, per target
mapping (site, customer, SKU without the X3 aliases). Skips without PostgreSQL, as tests/sage500 does."""

from collections import Counter

import dagster as dg
import pytest
from sqlalchemy import text

from resources.sage import SageResource
from tests import postgres as pg_server
from tests.orders.conftest import Env, _resources, days_back
from tests.regional import regional_accounts


@pytest.fixture()
def sage500_env(tmp_path, monkeypatch, fresh_limiters):
    from sage_amazon.sandbox.amazon.server import running_sandbox
    from sage_amazon.sandbox.sage500 import sandbox_database

    pg_server.require()
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SAGE_AMAZON_TARGET", "sage500")
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    with running_sandbox(tmp_path, history_days=4, time_scale=20.0) as amazon, sandbox_database(pg_server.SERVER_URL) as db, \
            dg.instance_for_test() as instance, regional_accounts(amazon, tmp_path) as accounts_file:
        amazon.accounts_file = accounts_file  # US on the NA host, UK and DE on the EU host
        resources = _resources(amazon, None, data_dir)
        resources["sage"] = SageResource(target="sage500", sage500_db_url=str(db.url))
        yield Env(amazon, None, data_dir, resources, instance), db


@pytest.mark.slow
def test_orders_post_once_to_sage500_and_missing_items_are_dead_letters(sage500_env):
    from sage_amazon.sandbox.sage500.seed import item_id

    env, db = sage500_env
    first, last = days_back(3), days_back(2)
    assert env.materialize(first, last).success
    assert env.materialize(first, last).success  # a second run changes nothing
    with db.engine.connect() as conn:
        refs = Counter(r[0] for r in conn.execute(text("SELECT CustPONo FROM tsoSalesOrder")))
    posted, dead = set(), set()
    for order in env.amazon.world.orders_sorted():
        if not first.isoformat() <= order["purchase_date"][:10] <= last.isoformat():
            continue
        if order["status"] not in ("Unshipped", "PartiallyShipped", "Shipped"):
            continue
        (dead if any(item_id(it["sku"]) is None for it in order["items"]) else posted).add(order["id"])
    assert posted and set(refs) == posted and set(refs.values()) == {1}
    letters = {r[0] for r in env.query("SELECT record_key FROM ops.dead_letters WHERE flow='orders' AND status='open'")}
    assert letters == dead
