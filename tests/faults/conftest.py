"""The fault matrix (issue 20.7): slow, end to end, run by `make test-faults` (and CI), not by `make test`."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "faults: the end-to-end fault matrix (make test-faults)")


def pytest_collection_modifyitems(config, items) -> None:
    if os.environ.get("SAGE_AMAZON_FAULT_MATRIX") == "1":
        return
    skip = pytest.mark.skip(reason="the fault matrix runs with `make test-faults` (SAGE_AMAZON_FAULT_MATRIX=1)")
    for item in items:
        if "faults" in item.keywords:
            item.add_marker(skip)
