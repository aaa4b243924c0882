"""US marketplace facilitator tax per state: what each settlement's tax_collected and tax_withheld journal lines
are made of, state by state, so a sales-tax report ties to the ledger (issue 17.2).

The settlement journal posts the tax Amazon collected from buyers (role `tax_collected`, a liability) and the tax
Amazon withheld to remit (role `tax_withheld`, its offset) gross, each on its own line (accounts.yaml). A settlement
file carries no state, so the state of each tax line is the ship-to state of its order as Amazon gave it to the
orders flow (raw.amazon_orders.ship_state, latest version); an order the warehouse does not hold is `unknown`
(visible, never guessed). Every row names the journal line it belongs to (marts.journal_settlement_trace), and the
rows of a journal line sum to it exactly.

`seller_owes` is collected + withheld (credit-positive): zero where Amazon remitted all it collected; what is
left is tax Amazon passed to the seller, who must remit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

TABLE = "marts.facilitator_tax_by_state"
UNKNOWN = "unknown"
ZERO = Decimal("0.00")
# USPS codes of the names Amazon may give in StateOrRegion instead of the code
STATE_CODES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "COLORADO": "CO",
    "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC", "FLORIDA": "FL", "GEORGIA": "GA",
    "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS",
    "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI",
    "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT", "NEBRASKA": "NE", "NEVADA": "NV",
    "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC",
    "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA",
    "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN", "TEXAS": "TX",
    "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA", "WEST VIRGINIA": "WV",
    "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR",
}
COLUMNS = (
    ("settlement_id", "VARCHAR NOT NULL"), ("journal_reference", "VARCHAR"), ("period", "VARCHAR NOT NULL"),
    ("marketplace", "VARCHAR NOT NULL"), ("state", "VARCHAR NOT NULL"), ("collected", "DECIMAL(18,2) NOT NULL"),
    ("withheld", "DECIMAL(18,2) NOT NULL"), ("seller_owes", "DECIMAL(18,2) NOT NULL"),
    ("collected_account", "VARCHAR"), ("withheld_account", "VARCHAR"), ("orders", "INTEGER NOT NULL"),
    ("lines", "INTEGER NOT NULL"), ("currency", "VARCHAR"),
)


@dataclass(frozen=True)
class StateTax:
    settlement_id: str
    journal_reference: str
    period: str
    marketplace: str
    state: str
    collected: Decimal  # credit-positive, as posted: tax Amazon collected from buyers
    withheld: Decimal  # credit-positive, as posted (negative): tax Amazon withheld to remit
    seller_owes: Decimal
    collected_account: str
    withheld_account: str
    orders: int
    lines: int
    currency: str


def state_code(value: str | None) -> str:
    """A ship-to state as Amazon wrote it ("CA", "ca", "California") -> its USPS code; blank -> unknown."""
    text = " ".join((value or "").replace(".", " ").split()).upper()
    if not text:
        return UNKNOWN
    return STATE_CODES.get(text, text)


def _order_states(con: duckdb.DuckDBPyConnection) -> str:
    """SQL of (order_id, ship_state): the latest version of each order the orders flow landed."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "raw.amazon_orders"):
        return "SELECT CAST(NULL AS VARCHAR) AS order_id, CAST(NULL AS VARCHAR) AS ship_state WHERE false"
    return ("SELECT amazon_order_id AS order_id, arg_max(ship_state, coalesce(last_updated, extracted_at)) "
            "AS ship_state FROM raw.amazon_orders WHERE ship_state IS NOT NULL AND trim(ship_state) <> '' "
            "GROUP BY amazon_order_id")


def compute(con: duckdb.DuckDBPyConnection, settlement_id: str) -> list[StateTax]:
    """Per journal line of tax_collected / tax_withheld and state: the settlement rows behind it (needs the
    settlement's models built: marts.journal_settlement_trace)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "marts.journal_settlement_trace"):
        return []
    rows = con.execute(f"""
        WITH states AS ({_order_states(con)})
        SELECT coalesce(t.journal_reference, ''), t.period, t.marketplace, s.ship_state, t.role, t.account,
               t.order_id, t.amount, t.currency
        FROM marts.journal_settlement_trace AS t
        LEFT JOIN states AS s ON s.order_id = t.order_id
        WHERE t.settlement_id = ? AND t.role IN ('tax_collected', 'tax_withheld')
        ORDER BY t.row_no""", [settlement_id]).fetchall()
    groups: dict[tuple[str, str, str, str], dict] = {}
    for reference, period, marketplace, ship_state, role, account, order_id, amount, currency in rows:
        key = (period, reference, marketplace, state_code(ship_state))
        g = groups.setdefault(key, {"collected": ZERO, "withheld": ZERO, "collected_account": "",
                                    "withheld_account": "", "orders": set(), "lines": 0, "currency": currency})
        kind = "collected" if role == "tax_collected" else "withheld"
        g[kind] += Decimal(amount)
        g[f"{kind}_account"] = account
        g["lines"] += 1
        if order_id:
            g["orders"].add(order_id)
    return [StateTax(settlement_id, ref, period, market, state, g["collected"], g["withheld"],
                     g["collected"] + g["withheld"], g["collected_account"], g["withheld_account"],
                     len(g["orders"]), g["lines"], g["currency"])
            for (period, ref, market, state), g in sorted(groups.items())]


def build(con: duckdb.DuckDBPyConnection, settlement_id: str) -> list[StateTax]:
    """Replace the settlement's rows of marts.facilitator_tax_by_state; returns them."""
    rows = compute(con, settlement_id)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({', '.join(f'{n} {t}' for n, t in COLUMNS)})")
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {TABLE} WHERE settlement_id = ?", [settlement_id])
        if rows:
            names = [n for n, _ in COLUMNS]
            con.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' for _ in names)})",
                            [[getattr(r, n) for n in names] for r in rows])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return rows


def ties_out(con: duckdb.DuckDBPyConnection, settlement_id: str) -> list[str]:
    """Journal lines of tax_collected / tax_withheld whose amount differs from the sum of their states in
    marts.facilitator_tax_by_state (empty: every line ties)."""
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, "marts.journal_settlement_lines"):
        return []
    posted = {(ref, market, role): Decimal(amount) for ref, market, role, amount in con.execute(
        "SELECT journal_reference, marketplace, role, sum(amount) FROM marts.journal_settlement_lines "
        "WHERE settlement_id = ? AND line_kind = 'account' AND role IN ('tax_collected', 'tax_withheld') "
        "GROUP BY ALL", [settlement_id]).fetchall()}
    states: dict[tuple[str, str, str], Decimal] = {}
    if table_exists(con, TABLE):
        for ref, market, collected, withheld in con.execute(
                f"SELECT journal_reference, marketplace, sum(collected), sum(withheld) FROM {TABLE} "
                "WHERE settlement_id = ? GROUP BY ALL", [settlement_id]).fetchall():
            states[(ref, market, "tax_collected")] = Decimal(collected)
            states[(ref, market, "tax_withheld")] = Decimal(withheld)
    return [f"{ref} {market} {role}: journal {posted.get((ref, market, role), ZERO)}, "
            f"states {states.get((ref, market, role), ZERO)}"
            for ref, market, role in sorted(set(posted) | {k for k, v in states.items() if v})
            if posted.get((ref, market, role), ZERO) != states.get((ref, market, role), ZERO)]
