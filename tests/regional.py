"""The product configured as a seller connects Amazon: one account per region, each on its region's sandbox host.

The Amazon sandbox's main port is the NA host and refuses an EU or FE marketplace as Amazon's NA host does, so a
test whose product reads US, UK and DE goes through an accounts file (SAGE_AMAZON_ACCOUNTS_FILE), exactly as
`sandbox up` configures it:

    with regional_accounts(sb, tmp_path) as accounts_file:
        SpApiResource(..., accounts_file=accounts_file)      # a RegionalSpApi: NA and EU on their own hosts

The block sets the accounts file and each region's refresh-token variable in os.environ (the accounts file names
the variable, never the secret) and restores them afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SET = ("SAGE_AMAZON_ACCOUNTS_FILE", "SP_API_REFRESH_TOKEN_NA", "SP_API_REFRESH_TOKEN_EU", "SP_API_REFRESH_TOKEN_FE")


@contextmanager
def regional_accounts(sb: Any, directory: Path) -> Iterator[str]:
    """Yields the accounts file's path; the sandbox must run its EU host (running_sandbox's default)."""
    env = sb.accounts_env(Path(directory) / "accounts.yaml")
    before = {name: os.environ.get(name) for name in SET}
    os.environ.update({name: env[name] for name in SET if name in env})
    try:
        yield env["SAGE_AMAZON_ACCOUNTS_FILE"]
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cross_region_refusals(sb: Any) -> dict[str, int]:
    """Requests a regional host refused because they named another region's marketplace or token."""
    with sb.world.lock:
        return {region: n for region, n in sb.refused.items() if n}


def admitted_by_region(sb: Any) -> dict[str, int]:
    with sb.world.lock:
        totals: dict[str, int] = {}
        for (region, _operation), n in sb.requests.items():
            totals[region] = totals.get(region, 0) + n
        return totals
