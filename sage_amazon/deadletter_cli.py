"""`sage-amazon deadletter list|replay`: see what could not be processed, and try again after a fix."""

from __future__ import annotations

import click

from sage_amazon import config


@click.group()
def deadletter() -> None:
    """Records that could not be processed, with their reasons."""


def known_flows() -> tuple[str, ...]:
    """The flows that write dead letters (the assets' dead-letter tags; a test keeps both in step)."""
    from sage_amazon.cockpit import deadletters as cockpit

    return cockpit.known_flows()


def _check_flow(con, flow: str | None) -> None:
    """An unknown --flow is a mistake, not "no dead letters": say so, with the flows there are."""
    from sage_amazon.cockpit import deadletters as cockpit

    try:
        cockpit.check_flow(con, flow)
    except cockpit.UnknownFlow as exc:
        raise click.BadParameter(str(exc), param_hint="'--flow'") from None


def _warehouse():
    from sage_amazon.cli_support import require_data_dir
    from sage_amazon.warehouse import Warehouse

    return Warehouse(require_data_dir().warehouse_path)


@deadletter.command("list")
@click.option("--flow", help="Only this flow (orders, order_shipments, settlement, mfn_shipments).")
@click.option("--reason", help="Only reasons containing this text.")
def list_command(flow: str | None, reason: str | None) -> None:
    """Open dead letters, oldest first."""
    from tabulate import tabulate

    from sage_amazon import deadletters

    with _warehouse().write() as con:
        _check_flow(con, flow)
        letters = deadletters.open_letters(con, flow=flow, reason=reason)
    rows = [(d.flow, d.record_key, d.reason[:80], d.attempts, d.last_seen.strftime("%Y-%m-%d %H:%M")) for d in letters]
    click.echo(tabulate(rows, headers=["flow", "record", "reason", "attempts", "last seen"]) if rows else "No open dead letters.")


@deadletter.command("replay")
@click.option("--flow", help="Only this flow (orders, order_shipments, settlement, mfn_shipments).")
@click.option("--reason", help="Only dead letters whose reason contains this text.")
def replay_command(flow: str | None, reason: str | None) -> None:
    """Re-run the flows of the matching dead letters so fixed records post (once)."""
    from sage_amazon import deadletters, instance

    settings = config.load()
    warehouse = _warehouse()
    from sage_amazon.ledger import holds, reissue

    try:  # a settlement hold whose cause is gone (a good file, a reissue decided) is released first
        for line in reissue.screen(settings.raw_dir, settings.warehouse_path):
            click.echo(line)
    except Exception as exc:  # noqa: BLE001 - a wrong accounts.yaml `reissue`, a busy warehouse: one line
        click.echo(f"settlements not screened for holds: {exc}")
    from sage_amazon.cockpit import deadletters as cockpit

    with warehouse.write() as con:
        _check_flow(con, flow)
        before = deadletters.open_letters(con, flow=flow, reason=reason)
        started = cockpit.clock(con)
    held = [d for d in before if d.flow == holds.FLOW and d.record_key.rsplit(":", 1)[-1] in holds.KINDS]
    for d in held:  # a replay cannot fix a bad file or decide a reissue: say what would
        click.echo(f"  on hold, not replayed: {d.record_key}: {d.reason[:160]}")
    before = [d for d in before if d not in held]
    if not before:
        click.echo("No open dead letters match." if not held else "Nothing else to replay.")
        return
    from sage_amazon.cli_support import require_sage500

    require_sage500(settings)
    click.echo(f"Replaying {len(before)} dead letter(s) in {len({d.flow for d in before})} flow(s)...")
    instance.ensure_home(settings.dagster_home)
    import os

    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    from sage_amazon.runner import RunStopped, exit_now, finish_stopped, replay_flows

    by_flow: dict[str, list[str]] = {}
    for d in before:
        by_flow.setdefault(d.flow, []).append(d.record_key)
    try:
        ok = replay_flows(sorted(by_flow), by_flow)
    except RunStopped as stop:  # SIGTERM / Ctrl-C, or a pool slot never granted
        finish_stopped(stop)
    with warehouse.write() as con:  # every open letter of the replayed flows: a new reason no longer matches --reason
        now = {(d.flow, d.record_key): d for d in deadletters.open_letters(con) if d.flow in by_flow}
        others = cockpit.also_posted(con, started, before)
    resolved = [d for d in before if (d.flow, d.record_key) not in now]
    still = [now[(d.flow, d.record_key)] for d in before if (d.flow, d.record_key) in now]
    click.echo(f"{len(resolved)} resolved, {len(still)} still open.")
    for d in resolved:
        click.echo(f"  resolved: {d.flow} {d.record_key}")
    for d in still:  # under the reason it has now, which may not be the one it was replayed for
        click.echo(f"  still open: {d.flow} {d.record_key}: {d.reason[:100]}")
    # the loads re-ran whole: records that were waiting in them (not dead letters) were posted too
    click.echo("Also posted while the replay ran: " + ("; ".join(
        f"{flow} {len(keys)} ({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''})"
        for flow, keys in others.items()) or "nothing else") + ".")
    exit_now(0 if ok else 1)
