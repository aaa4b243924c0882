"""`sage-amazon run` against the sandboxes, on X3 and on Sage 500, from the outside.

What a user relies on: the run posts every mappable Amazon order once and every settlement as
balanced journals, the rest are dead letters with reasons, running again changes nothing, and both
ERPs end up with the same business result.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest
import sqlalchemy as sa

# two `sage-amazon run`s of up to 900 s each (their own timeouts): the suite's 300 s per test cut the first one
# short on a loaded 2-core machine (280 s measured under the 2026-12-31 clock, then killed)
pytestmark = pytest.mark.timeout(2400)

UNMAPPED_SKUS = {"NW-FILTER-SQ", "NW-CHAIR-FLD"}  # items neither sandbox ERP has


def _period() -> tuple[str, str]:
    # the UTC day of the machine clock, which `sandbox up` and `sage-amazon run` (separate processes) run on;
    # `make test-dates` runs this under the five machine clocks
    today = datetime.now(UTC).date()  # clock-ok
    return (today - timedelta(days=3)).isoformat(), (today - timedelta(days=1)).isoformat()


def _sage_state(stack) -> dict:
    """Orders by customer reference and net GL movement per account, read from the ERP's own tables."""
    orders: dict[str, dict] = {}
    movement: dict[str, Decimal] = defaultdict(Decimal)
    unbalanced: list[str] = []
    if stack.target == "x3":
        engine = sa.create_engine(f"sqlite:///{stack.data_dir / 'sandbox' / 'x3.sqlite'}")
        order_sql = """SELECT h.CUSORDREF_0, h.CUR_0, q.QTY_0, p.GROPRI_0 FROM SORDER h
                       JOIN SORDERQ q ON q.SOHNUM_0 = h.SOHNUM_0
                       JOIN SORDERP p ON p.SOHNUM_0 = q.SOHNUM_0 AND p.SOPLIN_0 = q.SOPLIN_0"""
        gl_sql = """SELECT NUM_0, ACC_0, SNS_0 * AMTLED_0 FROM GACCENTRYD WHERE LEDTYP_0 = 1"""
        count_sql = "SELECT CUSORDREF_0, count(*) FROM SORDER GROUP BY CUSORDREF_0"
    else:
        engine = sa.create_engine(stack.env["SAGE500_DB_URL"])
        order_sql = """SELECT h.custpono, h.currid, d.qtyord, l.unitprice FROM tsosalesorder h
                       JOIN tsosoline l ON l.sokey = h.sokey JOIN tsosolinedist d ON d.solinekey = l.solinekey"""
        gl_sql = """SELECT t.batchkey, a.glacctno, t.postamthc FROM tglTransaction t
                    JOIN tglAccount a ON a.glacctkey = t.glacctkey"""
        count_sql = "SELECT custpono, count(*) FROM tsosalesorder GROUP BY custpono"
    try:
        with engine.connect() as conn:
            for ref, currency, qty, price in conn.execute(sa.text(order_sql)):
                order = orders.setdefault(ref, {"currency": currency, "lines": []})
                order["lines"].append((Decimal(str(qty)).normalize(), Decimal(str(price)).quantize(Decimal("0.01"))))
            copies = {ref: n for ref, n in conn.execute(sa.text(count_sql))}
            per_entry: dict[str, Decimal] = defaultdict(Decimal)
            for entry, account, amount in conn.execute(sa.text(gl_sql)):
                amount = Decimal(str(amount))
                movement[str(account)] += amount
                per_entry[str(entry)] += amount
            unbalanced = [e for e, total in per_entry.items() if total != 0]
    finally:
        engine.dispose()
    for order in orders.values():
        order["lines"].sort()
    return {"orders": orders, "copies": copies, "movement": dict(movement), "unbalanced": unbalanced,
            "journals": len(per_entry)}


def _warehouse(stack, sql: str) -> list[tuple]:
    # the snapshot a finance user's SQL client reads: refreshed when a run ends
    con = duckdb.connect(str(stack.data_dir / "warehouse" / "snapshot.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@dataclass
class Runs:
    """`sage-amazon run` twice over the same period on one target, with Sage's state after each."""

    first: object
    after_first: dict
    second: object
    after_second: dict


def _run_twice(stack) -> Runs:
    start, end = _period()
    first = stack.cli("run", "--start", start, "--end", end, timeout=900)
    after_first = _sage_state(stack)
    second = stack.cli("run", "--start", start, "--end", end, timeout=900)
    return Runs(first, after_first, second, _sage_state(stack))


@pytest.fixture(scope="module")
def runs(stacks) -> dict[str, Runs]:
    with ThreadPoolExecutor(len(stacks)) as pool:
        done = {target: pool.submit(_run_twice, stack) for target, stack in stacks.items()}
        return {target: future.result() for target, future in done.items()}


@pytest.fixture(params=["x3", "sage500"])
def stack(request, stacks, runs):
    if request.param not in stacks:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 for the Sage 500 target")
    return stacks[request.param]


def test_run_posts_once_and_a_second_run_changes_nothing(stack, runs):
    done = runs[stack.target]
    first = done.first
    # exit 3: all posted but dead letters (the seller's unmapped SKUs) or refusals (runner.EXIT_ATTENTION)
    assert first.returncode == 3, first.stdout[-4000:] + first.stderr[-4000:]
    assert "stage run(s) succeeded, 0 failed" in first.stdout
    after_first = done.after_first

    assert after_first["orders"], "no sales order reached Sage"
    assert max(after_first["copies"].values()) == 1, "an Amazon order was posted twice"
    assert after_first["journals"] > 0 and after_first["unbalanced"] == []

    # every order of the period either is in Sage or is an open dead letter saying why
    eligible = {
        oid
        for (oid,) in _warehouse(
            stack,
            "SELECT amazon_order_id FROM staging.stg_amazon_orders WHERE upper(order_status) IN ('UNSHIPPED', 'SHIPPED')",
        )
    }
    letters = dict(
        _warehouse(stack, "SELECT record_key, reason FROM ops.dead_letters WHERE flow = 'orders' AND status = 'open'")
    )
    assert eligible, "no confirmed order in the period"
    missing = eligible - set(after_first["orders"]) - set(letters)
    assert not missing, f"orders neither posted nor dead-lettered: {sorted(missing)[:5]}"
    assert letters, "the sandbox seller has unmapped SKUs: their orders must be dead letters"
    assert all(any(sku in reason for sku in UNMAPPED_SKUS) for reason in letters.values()), letters

    second = done.second
    assert second.returncode in (0, 3), second.stdout[-4000:] + second.stderr[-4000:]
    assert done.after_second == after_first


def test_no_secret_or_buyer_pii_is_stored_or_printed(stack, runs, tmp_path):
    """Issue 20.6, after the runs above: no refresh token, LWA secret, X3 password (a distinctive one the X3
    sandbox was started with), buyer name, e-mail, phone or street line in Dagster's run and event storage and
    compute logs, asset metadata, the warehouse (every text column) and its snapshot, raw files, or any command's
    output. The product stores no PII at all: it never requests a restricted data token (README, "PII")."""
    from tests.e2e.leaks import find_leaks, sandbox_buyers, scanned_files, secrets

    assert runs[stack.target].first.returncode == 3, "the run must pass first"
    buyers = sandbox_buyers(stack.data_dir)
    assert buyers.orders and buyers.names and buyers.emails and buyers.phones and buyers.streets
    assert {"LWA_CLIENT_SECRET", "SAGE_X3_PASSWORD", "SP_API_REFRESH_TOKEN_NA", "SP_API_REFRESH_TOKEN_EU"} <= set(
        secrets(stack.env)
    )
    names = {p.name for p in scanned_files(stack.data_dir)}
    assert {"runs.db", "sage_amazon.duckdb", "snapshot.duckdb"} <= names, sorted(names)[:40]
    assert any(n.endswith(".db") and n != "runs.db" for n in names), "no Dagster event storage found"

    # the scanner sees what it looks for: one of each planted in a copy of a data dir
    planted = tmp_path / "planted"
    (planted / "logs").mkdir(parents=True)
    sample = [next(iter(sorted(kind))) for kind in (buyers.names, buyers.emails, buyers.phones, buyers.streets)]
    (planted / "logs" / "x.log").write_text(" | ".join([*sample, stack.env["SAGE_X3_PASSWORD"]]))
    assert len(next(iter(find_leaks(planted, [], stack.env, buyers).values()))) == 5

    leaks = find_leaks(stack.data_dir, stack.outputs, stack.env, buyers)
    assert not leaks, {where: sorted(found)[:5] for where, found in leaks.items()}


def test_each_region_is_served_by_its_own_host(stack):
    """Issue 13.1: NA and EU accounts (sandbox up --regions) on strict regional hosts, the all-regions host
    unreachable: the run above read both regions, and no host refused a request of another region."""
    import yaml

    accounts = yaml.safe_load(open(stack.env["SAGE_AMAZON_ACCOUNTS_FILE"]))["accounts"]
    assert {a["region"] for a in accounts} == {"NA", "EU"}
    markets = {m for (m,) in _warehouse(stack, "SELECT DISTINCT marketplace_id FROM raw.amazon_orders")}
    assert {"ATVPDKIKX0DER", "A1F83G8C2ARO7P"} <= markets
    log = (stack.data_dir / "sandbox" / "logs" / "amazon.log").read_text()
    assert "cross-region request refused" not in log
    # the sandbox's own count (every port is one region's host, the Amazon port NA's): both regions served the
    # run, none refused a request naming another region's marketplace or carrying another region's token
    import httpx

    served = httpx.get(f"{accounts[0]['endpoint']}/_sandbox/requests", timeout=30).json()
    assert served["refused"] == {}, served["refused"]
    assert all("getReports" in served["admitted"][r] for r in ("NA", "EU")), served["admitted"]  # settlements
    assert "FE" not in served["admitted"]  # the seller has no FE account
    again = stack.cli("amazon", "connect", timeout=60)  # per account; idempotent
    assert again.returncode == 0, again.stderr + again.stdout
    assert "account sandbox-na (NA):" in again.stdout and "account sandbox-eu (EU):" in again.stdout


def test_both_erps_get_the_same_business_result(stacks, runs):
    if "sage500" not in stacks:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 for the Sage 500 target")
    x3, s500 = runs["x3"].after_first, runs["sage500"].after_first
    assert x3["orders"] and x3["journals"] > 0
    assert set(x3["orders"]) == set(s500["orders"])
    for ref, order in x3["orders"].items():
        assert s500["orders"][ref] == order, ref
    assert x3["movement"] == s500["movement"]


def test_fixing_a_mapping_and_replaying_posts_the_dead_letters_once(stack):
    listed = stack.cli("deadletter", "list", "--flow", "orders")
    assert listed.returncode == 0, listed.stderr
    assert "unmapped SKU: NW-FILTER-SQ" in listed.stdout
    before = _sage_state(stack)
    waiting = dict(
        _warehouse(
            stack,
            "SELECT record_key, reason FROM ops.dead_letters WHERE status = 'open' AND reason LIKE '%NW-FILTER-SQ%'",
        )
    )
    only_filter = {oid for oid, reason in waiting.items() if "NW-CHAIR-FLD" not in reason}
    with_chair = set(waiting) - only_filter
    assert only_filter

    # the partner maps the filter to an item Sage has, in their own mapping folder
    mapping_dir = stack.data_dir / "partner-mapping"
    mapping_dir.mkdir(exist_ok=True)
    alias = "NW-BTL-1000" if stack.target == "x3" else "NW-BOTTLE-1L"
    (mapping_dir / "skus.yaml").write_text(
        "exact_match: true\n"
        "aliases:\n"
        f"  {stack.target}:\n"
        f"    NW-FILTER-SQ: {alias}\n"
        + ("    NW-BOTTLE-1L: NW-BTL-1000\n    NW-LAMP-300: NW-HL300\n" if stack.target == "x3" else "")
    )
    stack.env["SAGE_AMAZON_MAPPING_DIR"] = str(mapping_dir)
    try:
        replay = stack.cli("deadletter", "replay", "--reason", "NW-FILTER-SQ")
        assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
        after = _sage_state(stack)
        posted_now = set(after["orders"]) - set(before["orders"])
        # orders holding only the fixed SKU post now; those also holding NW-CHAIR-FLD still wait
        still_open = {
            oid
            for (oid,) in _warehouse(stack, "SELECT record_key FROM ops.dead_letters WHERE status = 'open'")
        }
        assert posted_now == only_filter
        assert with_chair <= still_open and not only_filter & still_open
        assert max(after["copies"].values()) == 1

        again = stack.cli("deadletter", "replay", "--reason", "NW-FILTER-SQ")
        assert again.returncode == 0, again.stdout[-3000:]
        assert _sage_state(stack)["copies"] == after["copies"]
    finally:
        stack.env.pop("SAGE_AMAZON_MAPPING_DIR")
