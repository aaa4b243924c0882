"""Sage X3 connector: SOAP CAdxWebServiceXmlCC writes, Syracuse api1 REST reads.

    target = X3Target.from_settings(url, user, password, pool, folder, pool_size=4)

Options (keyword): language ("ENG"), retry (sage_amazon.retrying.RetryPolicy: timeout per call and
retry budget, default from the settings), timeout (overrides the policy's), sales_order_type ("" = X3's default),
journal_type, journal_site (FCY when a Journal has no site), credit_note_type ("CRN"), debit_note_type ("INV":
the SIH invoice type of a refund charged back), publications (public names if the folder publishes e.g. SOH as "WSCOMCLT").

Semantics worth knowing:
- Object XML is built from getDescription (cached per publication, refreshed once when X3 answers
  "Input XML refused"), so any layout of group ids works.
- Writes are idempotent by business reference: CUSORDREF for orders, REF for journals, INVREF for
  credit and debit notes. A lost reply is followed by a lookup; an existing record is adopted and reported
  with created=False.
- record_shipment sets cumulative delivered quantities and remembers tracking numbers on the
  order (YTRKNUM): replaying a shipment with the same tracking number changes nothing.
- Type-3 messages become the typed errors of `sage_amazon.sage.errors` (see refusals.py).
"""

from .target import X3Target

__all__ = ["X3Target"]
