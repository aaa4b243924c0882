"""The same order flow on Sage 500 (staging tables + import procedure): orders post once, per target
mapping (site, customer, SKU without the X3 aliases). Skips without PostgreSQL, as tests/sage500 does."""

import os
from collections import Counter

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from resources.sage import SageResource
from tests.orders.conftest import Env, _resources, days_back

SERVER_URL = os.environ.get("SAGE500_TEST_SERVER_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _postgres_unavailable() -> str | None:
    engine = create_engine(SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - no server
        return f"no PostgreSQL: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


class Sage500Resource(SageResource):
    """The Sage resource on a throw-away Sage 500 sandbox database."""

    company_id: str = ""

    def get_target(self):
        from sage_amazon.sage.sage500 import Sage500Target

        return Sage500Target(self.sage500_db_url, company_id=self.company_id)


@pytest.fixture()
def sage500_env(tmp_path, monkeypatch, fresh_limiters):
    from sage_amazon.sandbox.amazon.server import running_sandbox
    from sage_amazon.sandbox.sage500 import sandbox_database

    reason = _postgres_unavailable()
    if reason:
        pytest.skip(reason)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SAGE_AMAZON_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SAGE_AMAZON_TARGET", "sage500")
    monkeypatch.delenv("SAGE_AMAZON_MAPPING_DIR", raising=False)
    with running_sandbox(tmp_path, history_days=4, time_scale=20.0) as amazon, sandbox_database(SERVER_URL) as db, \
            dg.instance_for_test() as instance:
        resources = _resources(amazon, None, data_dir)
        resources["sage"] = Sage500Resource(target="sage500", sage500_db_url=db.url, company_id=db.company_id)
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
