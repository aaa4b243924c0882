"""Amazon's FBA inventory as rows of raw.amazon_fba_inventory: getInventorySummaries with details=true, every page
of every configured marketplace, and the FBA_INVENTORY_AVAILABILITY_CHANGES notification for one SKU.

FBA Inventory's nextToken expires 30 seconds after it was issued: pages are fetched back to back, and a token Amazon
refuses (expired) restarts the marketplace from its first page (a SKU seen twice keeps its latest answer).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from sage_amazon.amazon.client import SpApiError

log = logging.getLogger(__name__)

COLUMNS = (
    "snapshot_date", "marketplace_id", "sku", "fnsku", "asin", "condition", "product_name",
    "fulfillable", "inbound_working", "inbound_shipped", "inbound_receiving",
    "reserved_total", "reserved_pending_customer_order", "reserved_pending_transshipment", "reserved_fc_processing",
    "researching", "unfulfillable_total", "unfulfillable_customer_damaged", "unfulfillable_warehouse_damaged",
    "unfulfillable_distributor_damaged", "unfulfillable_carrier_damaged", "unfulfillable_defective",
    "unfulfillable_expired", "total_quantity", "last_updated", "source", "observed_at",
)
QUANTITY_COLUMNS = tuple(c for c in COLUMNS if c not in (
    "snapshot_date", "marketplace_id", "sku", "fnsku", "asin", "condition", "product_name", "last_updated",
    "source", "observed_at"))
MAX_RESTARTS = 3


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def summary_row(day: date, marketplace_id: str, summary: dict[str, Any], observed_at: datetime) -> dict[str, Any]:
    d = summary.get("inventoryDetails") or {}
    reserved = d.get("reservedQuantity") or {}
    researching = d.get("researchingQuantity") or {}
    unf = d.get("unfulfillableQuantity") or {}
    return {
        "snapshot_date": day, "marketplace_id": marketplace_id, "sku": str(summary.get("sellerSku") or ""),
        "fnsku": summary.get("fnSku") or "", "asin": summary.get("asin") or "",
        "condition": summary.get("condition") or "", "product_name": summary.get("productName") or "",
        "fulfillable": _int(d.get("fulfillableQuantity")),
        "inbound_working": _int(d.get("inboundWorkingQuantity")),
        "inbound_shipped": _int(d.get("inboundShippedQuantity")),
        "inbound_receiving": _int(d.get("inboundReceivingQuantity")),
        "reserved_total": _int(reserved.get("totalReservedQuantity")),
        "reserved_pending_customer_order": _int(reserved.get("pendingCustomerOrderQuantity")),
        "reserved_pending_transshipment": _int(reserved.get("pendingTransshipmentQuantity")),
        "reserved_fc_processing": _int(reserved.get("fcProcessingQuantity")),
        "researching": _int(researching.get("totalResearchingQuantity")),
        "unfulfillable_total": _int(unf.get("totalUnfulfillableQuantity")),
        "unfulfillable_customer_damaged": _int(unf.get("customerDamagedQuantity")),
        "unfulfillable_warehouse_damaged": _int(unf.get("warehouseDamagedQuantity")),
        "unfulfillable_distributor_damaged": _int(unf.get("distributorDamagedQuantity")),
        "unfulfillable_carrier_damaged": _int(unf.get("carrierDamagedQuantity")),
        "unfulfillable_defective": _int(unf.get("defectiveQuantity")),
        "unfulfillable_expired": _int(unf.get("expiredQuantity")),
        "total_quantity": _int(summary.get("totalQuantity")),
        "last_updated": str(summary.get("lastUpdatedTime") or ""),
        "source": "getInventorySummaries", "observed_at": observed_at,
    }


def _expired_token(exc: SpApiError) -> bool:
    return exc.status == 400 and "token" in str(exc).lower()


def fetch_marketplace(api: Any, marketplace_id: str, day: date, observed_at: datetime | None = None
                      ) -> list[dict[str, Any]]:
    """Every FBA summary of one marketplace (details=true, all pages)."""
    observed_at = observed_at or datetime.now(UTC)
    for attempt in range(MAX_RESTARTS + 1):
        rows: dict[str, dict[str, Any]] = {}
        token: str | None = None
        try:
            while True:
                params: dict[str, Any] = {"details": "true", "granularityType": "Marketplace",
                                          "granularityId": marketplace_id, "marketplaceIds": marketplace_id}
                if token:
                    params["nextToken"] = token
                res = api.call("getInventorySummaries", "inventories", "get_inventory_summary_marketplace",
                               marketplace_id=marketplace_id, **params)
                payload = res.payload or {}
                for summary in payload.get("inventorySummaries") or []:
                    row = summary_row(day, marketplace_id, summary, observed_at)
                    if row["sku"]:
                        rows[row["sku"]] = row
                token = ((getattr(res, "pagination", None) or {}).get("nextToken")
                         or getattr(res, "next_token", None))
                if not token:
                    return sorted(rows.values(), key=lambda r: r["sku"])
        except SpApiError as exc:
            if token and _expired_token(exc) and attempt < MAX_RESTARTS:
                log.warning("FBA inventory of %s: nextToken refused (%s); starting the marketplace again",
                            marketplace_id, exc)
                continue
            raise
    raise AssertionError("unreachable")


def fetch_all(api: Any, marketplaces: tuple[str, ...] | list[str], day: date,
              observed_at: datetime | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for mp in marketplaces:
        out.extend(fetch_marketplace(api, mp, day, observed_at))
    return out


def notification_rows(body: dict[str, Any], received_at: datetime | None = None) -> list[dict[str, Any]]:
    """The rows an FBA_INVENTORY_AVAILABILITY_CHANGES notification states (one per marketplace), dated by its
    EventTime's UTC day. Quantities the notification does not carry (reserved kinds, unfulfillable kinds) stay 0."""
    payload = body.get("Payload") or body.get("payload") or {}
    event = str(body.get("EventTime") or body.get("eventTime") or "")
    try:
        at = datetime.fromisoformat(event.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        at = received_at or datetime.now(UTC)
    rows = []
    for entry in payload.get("FulfillmentInventoryByMarketplace") or []:
        inv = entry.get("FulfillmentInventory") or {}
        inbound = inv.get("InboundQuantityBreakdown") or {}
        reserved = inv.get("ReservedQuantityBreakdown") or {}
        pending = _int(reserved.get("PendingCustomerOrder"))
        transfer = _int(reserved.get("WarehouseTransfer"))
        processing = _int(reserved.get("WarehouseProcessing"))
        row = {c: 0 for c in QUANTITY_COLUMNS}
        row.update({
            "snapshot_date": at.date(), "marketplace_id": str(entry.get("MarketplaceId") or ""),
            "sku": str(payload.get("SKU") or ""), "fnsku": payload.get("FNSKU") or "",
            "asin": payload.get("ASIN") or "", "condition": "", "product_name": entry.get("ItemName") or "",
            "fulfillable": _int(inv.get("Fulfillable")),
            "inbound_working": _int(inbound.get("Working")), "inbound_shipped": _int(inbound.get("Shipped")),
            "inbound_receiving": _int(inbound.get("Receiving")),
            "reserved_total": pending + transfer + processing, "reserved_pending_customer_order": pending,
            "reserved_pending_transshipment": transfer, "reserved_fc_processing": processing,
            "researching": _int(inv.get("Researching")), "unfulfillable_total": _int(inv.get("Unfulfillable")),
            "last_updated": event, "source": "FBA_INVENTORY_AVAILABILITY_CHANGES",
            "observed_at": received_at or datetime.now(UTC),
        })
        row["total_quantity"] = (row["fulfillable"] + row["inbound_working"] + row["inbound_shipped"]
                                 + row["inbound_receiving"] + row["reserved_total"] + row["researching"]
                                 + row["unfulfillable_total"])
        if row["sku"] and row["marketplace_id"]:
            rows.append(row)
    return rows
