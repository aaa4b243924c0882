"""`sage-amazon sandbox ...`: the local stand-ins for Amazon and Sage."""

from __future__ import annotations

import click

from sage_amazon.lazy_group import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "amazon": "sage_amazon.sandbox.amazon.cli:amazon_command",
        "sqs": "sage_amazon.sandbox.amazon.cli:sqs_command",
        "generate-settlement": "sage_amazon.sandbox.amazon.cli:generate_settlement_command",
        "conformance": "sage_amazon.sandbox.amazon.cli:conformance_command",
        "x3": "sage_amazon.sandbox.x3.cli:x3_command",
        "sage500": "sage_amazon.sandbox.sage500.cli:sage500_command",
    },
)
def sandbox() -> None:
    """Local Amazon SP-API, SQS, Sage X3 and Sage 500 stand-ins speaking the real wire formats."""


@sandbox.command("up")
@click.option("--seed", default=42, show_default=True, help="Seed of the generated seller.")
@click.option("--time-scale", default=None, type=float, help="Speed up the Amazon sandbox's rate-limit clock.")
@click.option("--order-rate", default=None, type=float, help="New Amazon orders per minute while running.")
@click.option("--history-days", default=None, type=int, help="Days of generated Amazon history (default 90).")
@click.option("--amazon-port", default=8100, show_default=True)
@click.option("--sqs-port", default=9324, show_default=True)
@click.option("--x3-port", default=8124, show_default=True)
@click.option("--stop-with-parent", is_flag=True,
              help="Also stop when the process that started this one exits (e.g. make, a supervisor).")
@click.option("--regions/--one-host", default=True, show_default=True,
              help="Serve NA, EU and FE on their own ports (the Amazon port + 1, 2, 3), strict as Amazon, and "
                   "configure one account per region (SAGE_AMAZON_ACCOUNTS_FILE); --one-host: only the Amazon "
                   "port, which is the NA host, and one NA account (SP_API_ENDPOINT, NA marketplaces).")
def up_command(
    seed: int,
    time_scale: float | None,
    order_rate: float | None,
    history_days: int | None,
    amazon_port: int,
    sqs_port: int,
    x3_port: int,
    stop_with_parent: bool,
    regions: bool,
) -> None:
    """Start every sandbox in the foreground and print the environment to export.

    Ctrl-C, SIGTERM or SIGHUP stop every sandbox; if this process is killed, they stop by themselves."""
    from sage_amazon.cli_support import require_data_dir
    from sage_amazon.sandbox import supervisor, watchdog

    if stop_with_parent:
        watchdog.stop_with_parent()
    require_data_dir()  # state and logs live there

    ports = {"amazon": amazon_port, "sqs": sqs_port, "x3": x3_port}
    with supervisor.sandboxes(
        seed=seed, time_scale=time_scale, ports=ports, order_rate=order_rate, history_days=history_days,
        regions=regions,
    ) as env:
        click.echo(supervisor.format_env(env))
        click.echo("\nAs on Amazon, notifications reach SQS only after `sage-amazon amazon connect` (run it once).")
        click.echo("\nSandboxes running. Ctrl-C stops them.")
        supervisor.wait_forever()
