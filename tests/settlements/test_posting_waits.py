"""Settlement posting under the one retry model: a refused login is permanent (raised at once, never "will retry");
Sage still down after the connector's budget stops the posting, the other journals reported not attempted."""

from __future__ import annotations

import pytest

from sage_amazon import posting_ledger
from sage_amazon.errors import PermanentError
from sage_amazon.ledger import posting, settlements
from sage_amazon.sage import errors
from tests.settlements.test_posting import SID, FakeSage, wh  # noqa: F401 - wh is a fixture


def test_a_refused_login_is_raised_at_once_and_recorded_as_not_sent(wh):  # noqa: F811
    class Refused(FakeSage):
        def post_journal(self, journal):
            self.calls += 1
            raise errors.SageConfigurationError("login refused for SAGE_X3_USER=admin at SAGE_X3_URL=http://x "
                                                "(HTTP 401)", refused=f"save GAS {journal.reference}")

    sage = Refused()
    with pytest.raises(PermanentError, match="login refused for SAGE_X3_USER=admin"):
        posting.post_settlement(wh.write, sage, SID)
    assert sage.calls == 1  # the second journal is not tried against a Sage that refuses the login
    with wh.write() as con:
        entry = posting_ledger.get(con, settlements.FLOW, f"AMZ-{SID}-202606")
    assert entry.status == "failed" and entry.message.startswith("not sent: ") and "retry" not in entry.message


def test_sage_down_after_the_budget_stops_the_posting(wh):  # noqa: F811
    class Down(FakeSage):
        def post_journal(self, journal):
            self.calls += 1
            raise errors.SageTransientError("Sage X3 at SAGE_X3_URL=http://x still unavailable after 9 attempt(s) "
                                            "in 2.0 min (save GAS): X3 pool busy")

    sage = Down()
    report = posting.post_settlement(wh.write, sage, SID)
    assert sage.calls == 1
    assert report.stopped.startswith("Sage X3 at SAGE_X3_URL=http://x still unavailable")
    assert report.transient[f"AMZ-{SID}-202607"] == "not attempted: Sage unavailable"
    again = posting.post_settlement(wh.write, FakeSage(), SID)  # Sage is back: both post, once
    assert sorted(again.posted) == [f"AMZ-{SID}-202606", f"AMZ-{SID}-202607"]
