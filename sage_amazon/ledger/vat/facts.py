"""What the VAT engine needs to know of each order, from the data the pipeline holds:

1. Amazon's VAT transactions report (raw.amazon_vat_transactions, `land_report`): departure and arrival country,
   the business buyer's VAT number, who collected the VAT (SELLER / MARKETPLACE) -- the authority when present;
2. else the orders flow: the ship-to country and province of the latest version of the order (raw.amazon_orders),
   the fulfilment centre of its FBA shipment (raw.amazon_fba_shipments, its country by the profile's prefixes), or
   the profile's `ship_from` for a merchant-fulfilled order.

The report's layout follows Amazon's "VAT Transactions Report" (Seller Central > Reports > Tax Document Library;
report type GET_VAT_TRANSACTION_DATA): column names as Amazon documents them [UNCONFIRMED: not in
/work/shared/spapi-models, which carries no report layouts]. Only the columns below are read; others are ignored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

REPORT_TABLE = "raw.amazon_vat_transactions"
REPORT_COLUMNS = (
    ("order_id", "VARCHAR", "ACTIVITY_TRANSACTION_ID"),
    ("transaction_type", "VARCHAR", "TRANSACTION_TYPE"),
    ("marketplace", "VARCHAR", "MARKETPLACE"),
    ("departure_country", "VARCHAR", "SALE_DEPART_COUNTRY"),
    ("arrival_country", "VARCHAR", "SALE_ARRIVAL_COUNTRY"),
    ("buyer_vat_number", "VARCHAR", "BUYER_VAT_NUMBER"),
    ("tax_collection_responsibility", "VARCHAR", "TAX_COLLECTION_RESPONSIBILITY"),
)
ALIASES = {"UK": "GB", "EL": "GR"}  # ISO for the codes VAT systems write (EL: Greece's VAT prefix)


def country(value: str | None) -> str:
    text = (value or "").strip().upper()
    return ALIASES.get(text, text)


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    departure: str  # ISO country the goods left from ("" unknown)
    arrival: str  # ISO country they went to ("" unknown)
    province: str  # ship-to state / province as Amazon wrote it
    buyer_vat: str  # a business buyer's VAT number ("" none)
    marketplace_collected: bool  # the VAT report says Amazon collected the tax (deemed supplier)
    source: str  # vat_report | orders


def ensure_report_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    cols = ", ".join(f"{n} {t}" for n, t, _ in REPORT_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {REPORT_TABLE} ({cols}, source_file VARCHAR)")


def land_report(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Land a VAT transactions report (tab or comma separated, with its header): replaces the rows of its orders.
    Returns the rows landed; a file without ACTIVITY_TRANSACTION_ID is refused naming the file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    header = {h.strip().upper() for h in (rows[0].keys() if rows else [])}
    if rows and "ACTIVITY_TRANSACTION_ID" not in header:
        raise ValueError(f"{path}: not a VAT transactions report (no ACTIVITY_TRANSACTION_ID column)")
    ensure_report_table(con)
    values = []
    for r in rows:
        upper = {k.strip().upper(): (v or "").strip() for k, v in r.items() if k}
        values.append([upper.get(src, "") for _, _, src in REPORT_COLUMNS] + [path.name])
    orders = sorted({v[0] for v in values if v[0]})
    con.execute(f"DELETE FROM {REPORT_TABLE} WHERE list_contains(?, order_id)", [orders])
    if values:
        names = [n for n, _, _ in REPORT_COLUMNS] + ["source_file"]
        con.executemany(f"INSERT INTO {REPORT_TABLE} ({', '.join(names)}) VALUES "
                        f"({', '.join('?' for _ in names)})", values)
    return len(values)


def read(con: duckdb.DuckDBPyConnection, order_ids: list[str], fc_country, ship_from: str,
         mfn_orders: set[str]) -> dict[str, OrderFacts]:
    """order id -> its facts (orders found in neither source are absent). `fc_country`: FC id -> country."""
    from sage_amazon.warehouse import table_exists

    out: dict[str, OrderFacts] = {}
    if not order_ids:
        return out
    orders: dict[str, tuple] = {}
    if table_exists(con, "raw.amazon_orders"):
        for oid, ship_country, state, channel in con.execute(
                "SELECT amazon_order_id, arg_max(ship_country, coalesce(last_updated, extracted_at)), "
                "arg_max(ship_state, coalesce(last_updated, extracted_at)), "
                "arg_max(fulfillment_channel, coalesce(last_updated, extracted_at)) FROM raw.amazon_orders "
                "WHERE list_contains(?, amazon_order_id) GROUP BY amazon_order_id", [order_ids]).fetchall():
            orders[oid] = (country(ship_country), state or "", (channel or "").upper())
    fcs: dict[str, str] = {}
    if table_exists(con, "raw.amazon_fba_shipments"):
        fcs = dict(con.execute(
            "SELECT amazon_order_id, min(fulfillment_center_id) FROM raw.amazon_fba_shipments "
            "WHERE list_contains(?, amazon_order_id) AND coalesce(fulfillment_center_id, '') <> '' "
            "GROUP BY amazon_order_id", [order_ids]).fetchall())
    report: dict[str, tuple] = {}
    if table_exists(con, REPORT_TABLE):
        for oid, dep, arr, vat, resp in con.execute(
                f"SELECT order_id, max(departure_country), max(arrival_country), max(buyer_vat_number), "
                f"max(tax_collection_responsibility) FROM {REPORT_TABLE} WHERE list_contains(?, order_id) "
                "AND upper(coalesce(transaction_type, 'SALE')) IN ('SALE', '') GROUP BY order_id",
                [order_ids]).fetchall():
            report[oid] = (country(dep), country(arr), (vat or "").strip(), (resp or "").strip().upper())
    for oid in order_ids:
        ship_country, state, channel = orders.get(oid, ("", "", ""))
        if oid in mfn_orders or channel in ("MFN", "MERCHANT"):
            departure = ship_from
        else:
            departure = fc_country(fcs.get(oid, ""))
        if oid in report:
            dep, arr, vat, resp = report[oid]
            out[oid] = OrderFacts(oid, dep or departure, arr or ship_country, state, vat, resp == "MARKETPLACE",
                                  "vat_report")
        elif oid in orders:
            out[oid] = OrderFacts(oid, departure, ship_country, state, "", False, "orders")
    return out
