"""The Sage side read: the sales orders of the MCF channels and whether their items are stocked at FBA, as rows of
raw.sage_mcf_orders (each line carries its Amazon SKU)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sage_amazon.mcf.rules import McfRules, sku_of


def read(target: Any, rules: McfRules, aliases: dict[str, str], today: date, now: datetime,
         at_amazon: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One row per Sage order of the channels (any status: a cancellation must reach Amazon too). The ship-to (a
    person's name and street) is kept only for open orders to send (items at FBA, not yet at Amazon: `at_amazon`); the
    Amazon step blanks it once Amazon has the order. Dead letters keep only city, postal code and country."""
    since = today - timedelta(days=rules.lookback_days) if rules.lookback_days else None
    if target.name == "x3":
        orders = target.read_channel_orders(rules.channels, rules.other_channels, since=since)
    else:
        orders = target.read_channel_orders(rules.channels, rules.other_channels, since=since,
                                            source_field=rules.order_source_field)
    items = sorted({ln.item for o in orders if o.status == "open" for ln in o.lines})
    stocked = {s.item for s in target.read_stock(rules.fba_site, items) if s.quantity > 0} if items else set()
    out = []
    for o in orders:
        missing = sorted({ln.item for ln in o.lines if ln.item not in stocked})
        lines = [{"line_no": ln.line_no, "item": ln.item, "sku": sku_of(ln.item, aliases),
                  "quantity": str(ln.quantity.normalize() if ln.quantity else Decimal(0)),
                  "shipped": str(ln.shipped.normalize() if ln.shipped else Decimal(0))} for ln in o.lines]
        out.append({"sage_number": o.sage_number, "channel": o.channel, "status": o.status,
                    "order_date": o.order_date, "customer": o.customer, "customer_order_ref": o.customer_order_ref,
                    "ship_to": json.dumps(asdict(o.ship_to) if o.ship_to and o.status == "open" and not missing
                                          and o.sage_number not in at_amazon else {}), "lines": json.dumps(lines),
                    "tracking": " ".join(o.tracking), "at_fba": bool(o.lines) and not missing,
                    "not_at_fba": ", ".join(missing), "read_at": now})
    return out
