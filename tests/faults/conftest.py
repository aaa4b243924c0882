"""The fault matrix (issue 20.7): slow, end to end, run by `make test-faults` (and CI), not by `make test`."""

from __future__ import annotations

import os


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "faults: the end-to-end fault matrix (make test-faults)")


# Not collected at all by `make test` (no skipped tests there): `make test-faults` sets the variable.
collect_ignore_glob = [] if os.environ.get("SAGE_AMAZON_FAULT_MATRIX") == "1" else ["test_*.py"]
