"""Order extraction: Orders API 2026-01-01 searchOrders/getOrder (default), Orders v0 getOrders +
getOrderItems (deprecated, kept working), and the all-orders report for backfills.

Every path yields the same flat rows (`ORDER_COLUMNS`, `ITEM_COLUMNS`), so the raw tables do not
care where an order came from. Money stays Decimal; statuses are brought to one spelling
(`canonical_status`): PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, CANCELLED, UNFULFILLABLE,
PENDING_AVAILABILITY.

- `rows`: the row columns, `Extract` (what one extraction produced), `SchemaDrift`
- `status`: `canonical_status`
- `spans`: day windows (Amazon's two-minute rule), report windows of at most 30 days
- `orders_api`: Orders API 2026-01-01 (searchOrders, getOrder)
- `orders_v0`: Orders v0 (getOrders, getOrder, getOrderItems)
- `all_orders_report`: the all-orders flat-file report (backfills)
"""

from __future__ import annotations

from .all_orders_report import (
    ALL_ORDERS_REPORT,
    REPORT_LINE_PREFIX,
    orders_from_report,
    orders_from_report_rows,
    orders_from_reports,
)
from .orders_api import SEARCH_INCLUDED_DATA, get_orders_2026, parse_order_2026, search_orders
from .orders_v0 import get_orders_v0, get_orders_v0_by_id, parse_order_v0
from .rows import ITEM_COLUMNS, ORDER_COLUMNS, Extract, SchemaDrift, currency_of
from .spans import MAX_REPORT_DAYS, day_window, windows
from .status import STATUSES, canonical_status

__all__ = [
    "ALL_ORDERS_REPORT", "ITEM_COLUMNS", "MAX_REPORT_DAYS", "ORDER_COLUMNS", "REPORT_LINE_PREFIX",
    "SEARCH_INCLUDED_DATA", "STATUSES", "Extract", "SchemaDrift", "canonical_status", "currency_of", "day_window",
    "get_orders_2026", "get_orders_v0", "get_orders_v0_by_id", "orders_from_report", "orders_from_report_rows",
    "orders_from_reports", "parse_order_2026", "parse_order_v0", "search_orders", "windows",
]
