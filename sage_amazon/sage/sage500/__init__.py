"""Sage 500 ERP connector: `Sage500Target` (the SageTarget protocol over SQLAlchemy), its rules and
carrier table (rules.yaml, carriers.yaml). See target.py for construction and behaviour."""

from .rules import (
           AmazonCarrier,
           Sage500Rules,
           amazon_freight,
           amazon_line_amounts,
           carrier_table,
           revenue_entries,
)
from .target import Sage500Target, SageShipment

__all__ = ["AmazonCarrier", "Sage500Rules", "Sage500Target", "SageShipment", "amazon_freight",
           "amazon_line_amounts", "carrier_table", "revenue_entries"]
