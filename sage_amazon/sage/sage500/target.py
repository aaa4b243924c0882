"""Sage500Target: the SageTarget protocol on a Sage 500 ERP database, through SQLAlchemy.

Production URL: mssql+pyodbc://... or mssql+pymssql://... (the Sage 500 company database); the sandbox
is PostgreSQL with the same tables and procedures (sage_amazon.sandbox.sage500). Construct with
`Sage500Target(db_url, company_id="NWD")` or `Sage500Target.from_settings()` (env SAGE500_DB_URL,
SAGE500_COMPANY_ID).

Writes go the way Sage 500 integrations do: sales orders are staged in StgSalesOrder / StgSOLine (one
transaction per session) and imported by spSOapiSalesOrdIns; what failed stays in staging with
ProcessStatus 2 and its reasons in tdmMigrationLogWrk, which become typed errors. Journals are posted
as a GL batch (tglPosting -> spglAPIPostBatchlessGLPosting -> tglTransaction).

The class is assembled from one module per responsibility: base.py (connection, timeouts, transactions,
retries within the budget), orders.py (sales orders through staging), shipments.py (FBA shipments in,
MFN shipments out), ledger.py (journals, credit memos), reads.py (stock, items).
"""

from __future__ import annotations

from .base import Sage500Base
from .ledger import Ledger
from .orders import SalesOrders
from .reads import Reads
from .shipments import SageShipment, Shipments

__all__ = ["Sage500Target", "SageShipment"]


class Sage500Target(SalesOrders, Shipments, Ledger, Reads, Sage500Base):
    """The SageTarget protocol on a Sage 500 database (see the module docstring)."""

    name = "sage500"
