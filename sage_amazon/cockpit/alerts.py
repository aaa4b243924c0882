"""Alerts by e-mail (issue 16.9): failed runs, failed checks and new dead letters (a settlement blocked or on
hold, an order Sage refused) sent to the operators over SMTP, with the standard library's smtplib.

Configured in the environment of the Dagster daemon (where the sensor runs):
  SAGE_AMAZON_SMTP_HOST       the SMTP server; unset: no alerts (the sensor says so on every tick)
  SAGE_AMAZON_SMTP_PORT       default 587 with STARTTLS, 465 with SSL, else 25
  SAGE_AMAZON_SMTP_SECURITY   starttls | ssl | none (default: starttls on 587, ssl on 465, else none)
  SAGE_AMAZON_SMTP_USER, SAGE_AMAZON_SMTP_PASSWORD   login, when the server wants one (never logged)
  SAGE_AMAZON_ALERT_FROM      the sender (default sage-amazon@<host name>)
  SAGE_AMAZON_ALERT_TO        the recipients, comma-separated (required with a host)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sage_amazon.ledger import holds
from sage_amazon.warehouse import table_exists

if TYPE_CHECKING:
    import duckdb

SECURITIES = ("starttls", "ssl", "none")


class AlertConfigError(ValueError):
    """The SMTP settings cannot work (a port that is not a number, no recipient...): one line naming the setting."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    sender: str
    recipients: tuple[str, ...]
    user: str = ""
    password: str = field(default="", repr=False)  # never printed, never in metadata

    def where(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"


def settings_from_env(environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """The SMTP settings, or None when no server is configured."""
    env = os.environ if environ is None else environ
    host = env.get("SAGE_AMAZON_SMTP_HOST", "").strip()
    if not host:
        return None
    security = env.get("SAGE_AMAZON_SMTP_SECURITY", "").strip().lower()
    port_text = env.get("SAGE_AMAZON_SMTP_PORT", "").strip()
    try:
        port = int(port_text) if port_text else {"starttls": 587, "ssl": 465}.get(security, 25)
    except ValueError:
        raise AlertConfigError(f"SAGE_AMAZON_SMTP_PORT={port_text!r} is not a port number") from None
    if not security:
        security = {587: "starttls", 465: "ssl"}.get(port, "none")
    if security not in SECURITIES:
        raise AlertConfigError(f"SAGE_AMAZON_SMTP_SECURITY={security!r}: use one of {', '.join(SECURITIES)}")
    recipients = tuple(a.strip() for a in env.get("SAGE_AMAZON_ALERT_TO", "").split(",") if a.strip())
    if not recipients:
        raise AlertConfigError("SAGE_AMAZON_ALERT_TO is empty: name who receives the alerts (comma-separated)")
    sender = env.get("SAGE_AMAZON_ALERT_FROM", "").strip() or f"sage-amazon@{socket.gethostname()}"
    return SmtpSettings(host, port, security, sender, recipients, env.get("SAGE_AMAZON_SMTP_USER", ""),
                        env.get("SAGE_AMAZON_SMTP_PASSWORD", ""))


@dataclass(frozen=True)
class Alert:
    kind: str  # "failed run" | "failed check" | "dead letter"
    title: str  # one line: what and where (job and settlement, check and partition, flow and record)
    detail: str = ""  # the reason, as the product wrote it


def dead_letter_alerts(con: duckdb.DuckDBPyConnection, since: datetime | None) -> tuple[list[Alert], datetime | None]:
    """Dead letters opened after `since` (all open ones when None) and the newest first-seen time of them all."""
    if not table_exists(con, "ops.dead_letters"):  # a read-only connection: nothing recorded yet
        return [], None
    newest = con.execute("SELECT max(first_seen) FROM ops.dead_letters").fetchone()[0]
    sql = "SELECT flow, record_key, reason FROM ops.dead_letters WHERE status = 'open'"
    params: list = []
    if since is not None:
        sql += " AND first_seen > ?"
        params.append(since)
    alerts = []
    for flow, record_key, reason in con.execute(sql + " ORDER BY first_seen, flow, record_key", params).fetchall():
        if flow == holds.FLOW:
            sid, _, what = record_key.partition(":")
            state = "on hold" if what in holds.KINDS else f"blocked ({what})"
            alerts.append(Alert("dead letter", f"settlement {sid} {state}", reason))
        else:
            alerts.append(Alert("dead letter", f"{flow} {record_key}", reason))
    return alerts, newest


def compose(alerts: list[Alert], settings: SmtpSettings, ui_url: str = "") -> EmailMessage:
    """One message for one sensor tick: the alert in the subject (the counts when several), each a paragraph."""
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.kind] = counts.get(alert.kind, 0) + 1
    message = EmailMessage()
    if len(alerts) == 1:  # what the inbox shows names it: "dead letter: settlement 247... blocked (...)"
        message["Subject"] = f"[sage-amazon] {alerts[0].kind}: {alerts[0].title}"
    else:
        message["Subject"] = "[sage-amazon] " + ", ".join(
            f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in counts.items())
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    lines = []
    for alert in alerts:
        lines.append(f"{alert.kind}: {alert.title}")
        if alert.detail:
            lines.append(f"    {alert.detail}")
    if ui_url:
        lines += ["", f"Dagster UI: {ui_url}"]
    lines += ["", "Dead letters: `sage-amazon deadletter list`; after a fix, deadletter_replay_job in the UI."]
    message.set_content("\n".join(lines) + "\n")
    return message


def send(settings: SmtpSettings, message: EmailMessage, timeout: float = 30.0) -> None:
    """Deliver the message; raises OSError/smtplib.SMTPException (the sensor retries on its next tick)."""
    import smtplib

    if settings.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with client:
        if settings.security == "starttls":
            client.starttls()
        if settings.user:
            client.login(settings.user, settings.password)
        client.send_message(message)


def digest(con: duckdb.DuckDBPyConnection, since: datetime, settings: SmtpSettings, ui_url: str = "") -> EmailMessage:
    """The daily digest: what was posted to Sage since `since` (per flow), which settlements wait and why, and the
    open dead letters per flow. A write connection (the overview tables are rebuilt)."""
    from sage_amazon import posting_ledger
    from sage_amazon.cockpit import overview

    result = overview.refresh(con)
    posting_ledger.ensure(con)
    posted = con.execute(
        "SELECT flow, count(*) FROM ops.posting_ledger WHERE status = ? AND updated_at >= ? GROUP BY flow ORDER BY flow",
        [posting_ledger.POSTED, since]).fetchall()
    waiting = [r for r in result.settlements if r["status"] != overview.POSTED]
    letters = [(r["flow"], r["open_dead_letters"]) for r in result.flows if r["open_dead_letters"]]
    lines = [f"Posted to Sage since {since:%Y-%m-%d %H:%M} UTC:"]
    lines += [f"    {flow}: {n}" for flow, n in posted] or ["    nothing"]
    lines += ["", f"Settlements not (fully) posted: {len(waiting)}"]
    for r in waiting:
        total = f"{r['total_amount']:.2f} {r['currency'] or ''}" if r["total_amount"] is not None else ""
        lines.append(f"    {r['settlement_id']} {r['marketplace'] or ''} {total}: {r['status']}"
                     + (f" - {r['reason']}" if r["reason"] else ""))
    lines += ["", "Open dead letters:"]
    lines += [f"    {flow}: {n}" for flow, n in letters] or ["    none"]
    if ui_url:
        lines += ["", f"Dagster UI: {ui_url} (cockpit group: settlement_overview, open_dead_letters)"]
    message = EmailMessage()
    counts = result.status_counts()
    message["Subject"] = (f"[sage-amazon] daily digest: {sum(n for _, n in posted)} posted, "
                          f"{len(waiting)} settlement(s) waiting or held, {sum(n for _, n in letters)} dead letters"
                          if waiting or letters or posted else "[sage-amazon] daily digest: nothing new")
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content("\n".join(lines) + f"\n\n({counts[overview.POSTED]} settlement(s) fully posted in all.)\n")
    return message
