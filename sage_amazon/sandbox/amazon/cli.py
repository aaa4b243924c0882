"""Click commands of the Amazon sandbox, registered by sage_amazon/sandbox/cli.py:

    sage-amazon sandbox amazon --port 8100 --seed 42     (SP-API + LWA, foreground)
    sage-amazon sandbox sqs --port 9324                  (moto SQS with the notifications queue)
    sage-amazon sandbox generate-settlement --lines N --out FILE [--seed 42] [--format v2|v1]

Import-light: fastapi, uvicorn and boto3 are imported when a command runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from sage_amazon.sandbox.amazon.credentials import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SQS_PORT,
    sandbox_environment,
)


def default_data_dir() -> Path:
    return Path(os.environ.get("SAGE_AMAZON_DATA_DIR", "./data")) / "sandbox" / "amazon"


@click.command("amazon")
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="State directory (default $SAGE_AMAZON_DATA_DIR/sandbox/amazon).")
@click.option("--sqs-endpoint", default=f"http://127.0.0.1:{DEFAULT_SQS_PORT}", show_default=True,
              help="Where notifications are delivered; 'none' to disable.")
@click.option("--history-days", default=90, show_default=True, type=int)
@click.option("--time-scale", default=1.0, show_default=True, type=float,
              help="Speed-up of rate-limit refills and report/order processing (1 = Amazon's real pace).")
@click.option("--order-rate", default=1.0, show_default=True, type=float, help="New orders per minute (0: none).")
@click.option("--inventory-page-size", default=50, show_default=True, type=int)
@click.option("--fault-error-rate", type=float, default=None, help="Share of API calls answered 500/503.")
@click.option("--fault-latency-ms", type=int, default=None, help="Latency added to every API call.")
@click.option("--fault-drop-rate", type=float, default=None, help="Share of API calls whose connection drops.")
@click.option("--fault-fatal-rate", type=float, default=None, help="Share of requested reports ending FATAL.")
@click.option("--fault-duplicate-rate", type=float, default=None,
              help="Share of notifications sent twice (default 0.02, or SANDBOX_AMAZON_FAULT_DUPLICATE_RATE):"
                   " delivery is at-least-once, as with Amazon.")
@click.option("--region-ports", default=None, metavar="NA=P,EU=P,FE=P",
              help="Also serve each region on its own port, strict as Amazon (own refresh token, marketplaces of "
                   "other regions refused).")
def amazon_command(host: str, port: int, seed: int, data_dir: Path | None, sqs_endpoint: str, history_days: int,
                   time_scale: float, order_rate: float, inventory_page_size: int, fault_error_rate: float | None,
                   fault_latency_ms: int | None, fault_drop_rate: float | None, fault_fatal_rate: float | None,
                   fault_duplicate_rate: float | None, region_ports: str | None) -> None:
    """Run the Amazon Selling Partner API sandbox in the foreground."""
    import uvicorn

    from sage_amazon.sandbox.amazon.faults import Faults
    from sage_amazon.sandbox.amazon.server import _start_regional, create_app, create_sandbox

    regional_ports: dict[str, int] = {}
    for part in (region_ports or "").split(","):
        if part.strip():
            region, _, value = part.partition("=")
            if region.strip().upper() not in ("NA", "EU", "FE") or not value.strip().isdigit():
                raise click.BadParameter(f"{part!r}: expected NA=PORT, EU=PORT or FE=PORT", param_hint="--region-ports")
            regional_ports[region.strip().upper()] = int(value)

    if fault_duplicate_rate is None and "SANDBOX_AMAZON_FAULT_DUPLICATE_RATE" not in os.environ:
        fault_duplicate_rate = 0.02
    faults = Faults.from_env(error_rate=fault_error_rate, latency_ms=fault_latency_ms, drop_rate=fault_drop_rate,
                             fatal_rate=fault_fatal_rate, duplicate_rate=fault_duplicate_rate)
    sqs = None if sqs_endpoint.lower() == "none" else sqs_endpoint
    sandbox = create_sandbox(data_dir or default_data_dir(), seed=seed, base_url=f"http://{host}:{port}",
                             history_days=history_days, order_rate=order_rate, time_scale=time_scale,
                             sqs_endpoint=sqs, faults=faults, inventory_page_size=inventory_page_size)
    env = sandbox.env
    click.echo(f"Amazon SP-API sandbox on {sandbox.base_url} (seed {seed}, data {sandbox.world.data_dir})")
    for name, value in env.items():
        click.echo(f"export {name}='{value}'")
    regional = _start_regional(sandbox, host, regional_ports)
    for region in regional_ports:
        renv = sandbox.region_env(region)
        click.echo(f"# {region}: SP_API_ENDPOINT={renv['SP_API_ENDPOINT']} SP_API_REFRESH_TOKEN="
                   f"'{renv['SP_API_REFRESH_TOKEN']}' SP_API_MARKETPLACES={renv['SP_API_MARKETPLACES']}")
    sandbox.start()
    try:
        uvicorn.run(create_app(sandbox=sandbox), host=host, port=port, log_level="warning", lifespan="off")
    finally:
        for server in regional:
            server.stop()
        sandbox.stop()


@click.command("sqs")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_SQS_PORT, show_default=True, type=int)
def sqs_command(host: str, port: int) -> None:
    """Run a local SQS (moto) with the notification queues (sage-amazon-notifications-<flow>), in the foreground."""
    from sage_amazon.sandbox.sqs import serve_forever

    serve_forever(host, port)


@click.command("generate-settlement")
@click.option("--lines", required=True, type=int, help="Number of detail lines.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--marketplace", default="ATVPDKIKX0DER", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["v2", "v1"]), default="v2", show_default=True)
def generate_settlement_command(lines: int, out: Path, seed: int, marketplace: str, fmt: str) -> None:
    """Write a settlement flat file of N detail lines (streaming, bounded memory)."""
    from sage_amazon.sandbox.amazon.settlement_file import generate_settlement_file

    header = generate_settlement_file(out, lines, seed=seed, marketplace_id=marketplace,
                                      version=2 if fmt == "v2" else 1)
    click.echo(json.dumps({"file": str(out), "lines": lines, "settlement_id": header["settlement_id"],
                           "total_amount": str(header["total"]), "currency": header["currency"]}))


__all__ = ["amazon_command", "sqs_command", "generate_settlement_command", "sandbox_environment"]


@click.command("conformance")
@click.option("--endpoint", default=None, help="SP-API base URL to check (default: an in-process Amazon sandbox).")
@click.option("--lwa-url", default=None, help="LWA token URL (default: <endpoint>/auth/o2/token).")
@click.option("--refresh-token", default=None, help="Seller refresh token (default: $SP_API_REFRESH_TOKEN).")
@click.option("--app-id", default=None, help="LWA client id (default: $LWA_APP_ID).")
@click.option("--client-secret", default=None, help="LWA client secret (default: $LWA_CLIENT_SECRET).")
@click.option("--seller-id", default=None, help="Seller (merchant) id for the Listings API.")
@click.option("--models-dir", type=click.Path(path_type=Path), default=None,
              help="Amazon's selling-partner-api-models checkout (default: ../shared/spapi-models).")
def conformance_command(endpoint: str | None, lwa_url: str | None, refresh_token: str | None, app_id: str | None,
                        client_secret: str | None, seller_id: str | None, models_dir: Path | None) -> None:
    """Check an SP-API server against Amazon's models (raw HTTP and python-amazon-sp-api).

    Runs tests/sandbox_amazon/test_conformance.py of a source checkout with pytest."""
    import os
    import subprocess
    import sys

    module = Path(__file__).resolve().parents[3] / "tests" / "sandbox_amazon" / "test_conformance.py"
    if not module.exists():
        raise click.ClickException(f"the conformance suite is not here ({module}): run from a source checkout")
    env = dict(os.environ)
    if endpoint:
        env.update({"SPAPI_CONFORMANCE_ENDPOINT": endpoint,
                    "SPAPI_CONFORMANCE_LWA_URL": lwa_url or endpoint.rstrip("/") + "/auth/o2/token",
                    "SPAPI_CONFORMANCE_REFRESH_TOKEN": refresh_token or os.environ.get("SP_API_REFRESH_TOKEN", ""),
                    "SPAPI_CONFORMANCE_APP_ID": app_id or os.environ.get("LWA_APP_ID", ""),
                    "SPAPI_CONFORMANCE_CLIENT_SECRET": client_secret or os.environ.get("LWA_CLIENT_SECRET", ""),
                    "SPAPI_CONFORMANCE_SELLER_ID": seller_id or ""})
    if models_dir:
        env["SPAPI_MODELS_DIR"] = str(models_dir)
    done = subprocess.run([sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider"],
                          cwd=module.parents[2], env=env)
    sys.exit(done.returncode)
