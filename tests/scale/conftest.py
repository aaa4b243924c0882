"""The many-seller proof (issue 19): test_multi_seller.py is slow (sandboxes, a PostgreSQL instance, Celery
workers, the webserver and the daemon), so run by `make test-scale`, not by `make test`; the tenants file and
code location tests here are fast and run in both."""

from __future__ import annotations

import os


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "scale: the many-seller proof on Celery workers (make test-scale)")


# Not collected at all by `make test` (no skipped tests there): `make test-scale` sets the variable.
collect_ignore_glob = [] if os.environ.get("SAGE_AMAZON_SCALE_TEST") == "1" else ["test_multi_seller.py"]
