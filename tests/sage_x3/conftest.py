"""A running X3 sandbox per publication layout (real HTTP on a free port, stopped even on failure)."""

from __future__ import annotations

import itertools
import uuid

import pytest

from sage_amazon.retrying import RetryPolicy
from sage_amazon.sage.x3 import X3Target
from sage_amazon.sandbox.x3 import running_x3

_refs = itertools.count(1)


@pytest.fixture(scope="session")
def x3_standard(tmp_path_factory):
    with running_x3(tmp_path_factory.mktemp("x3-standard"), layout="standard") as x3:
        yield x3


@pytest.fixture(scope="session")
def x3_custom(tmp_path_factory):
    with running_x3(tmp_path_factory.mktemp("x3-custom"), layout="custom") as x3:
        yield x3


@pytest.fixture(params=["standard", "custom"])
def x3(request):
    """The sandbox, once per layout: tests using it run against both publication layouts."""
    sandbox = request.getfixturevalue(f"x3_{request.param}")
    sandbox.faults.clear()
    yield sandbox
    sandbox.faults.clear()


def make_target(x3, **options) -> X3Target:
    """A connector with a small retry budget (seconds, not minutes): fault tests stay fast."""
    options.setdefault("retry", RetryPolicy(budget=5.0, timeout=10.0, initial=0.01, max_wait=0.05))
    return X3Target.from_settings(x3.url, x3.user, x3.password, x3.pool, x3.folder, **options)


@pytest.fixture
def target(x3):
    tgt = make_target(x3)
    yield tgt
    tgt.close()


@pytest.fixture
def order_ref():
    """A fresh AmazonOrderId-shaped reference."""
    n = next(_refs)
    return f"{100 + n:03d}-{uuid.uuid4().int % 10**7:07d}-{n:07d}"
