"""Alerts by e-mail (issue 16.9), against a local SMTP server (aiosmtpd on a free port): a failed run, a failed
blocking check and a blocked settlement reach the operators once; a server that is down delays the e-mail to the
next tick, nothing is lost; the history before the sensor started is not news."""

from __future__ import annotations

import email
import email.policy
from contextlib import contextmanager

import dagster as dg
import pytest

from sage_amazon import deadletters
from tests.ports import free_port

RECIPIENTS = "finance@example.com, ops@example.com"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.original_content, policy=email.policy.default)))
        return "250 OK"


@contextmanager
def smtp_server(port: int):
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=120)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_env(monkeypatch):
    port = free_port()
    monkeypatch.setenv("SAGE_AMAZON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SAGE_AMAZON_SMTP_PORT", str(port))
    monkeypatch.setenv("SAGE_AMAZON_ALERT_TO", RECIPIENTS)
    monkeypatch.setenv("SAGE_AMAZON_ALERT_FROM", "sage-amazon@example.com")
    return port


@dg.asset
def broken_settlement_load():
    raise RuntimeError("Sage X3 refused the journal: fiscal period 2026-11 is closed")


@dg.asset(check_specs=[dg.AssetCheckSpec("totals_tie_out", asset="checked_lines", blocking=True)])
def checked_lines():
    yield dg.Output(None)
    yield dg.AssetCheckResult(check_name="totals_tie_out", passed=False,
                              description="detail lines add up to 583.89, Amazon's total is 582.89")


@dg.asset(check_specs=[dg.AssetCheckSpec("fee_rates_usual", asset="warned_fees")])
def warned_fees():
    yield dg.Output(None)
    yield dg.AssetCheckResult(check_name="fee_rates_usual", passed=False, severity=dg.AssetCheckSeverity.WARN)


def _digest_job(warehouse):
    from resources.warehouse import WarehouseResource
    from sensors.cockpit import cockpit_digest_job

    # this test's warehouse (the code location's resources were built for the data dir of the first import)
    return dg.Definitions(jobs=[cockpit_digest_job], resources={"warehouse": WarehouseResource(path=str(warehouse.path))}
                          ).resolve_job_def("cockpit_digest_job")


def _tick(instance, warehouse, cursor):
    from resources.warehouse import WarehouseResource
    from sensors.cockpit import cockpit_alerts_sensor

    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    result = cockpit_alerts_sensor(context)
    return result, context.cursor


def test_failures_and_blocked_settlements_are_mailed_once(warehouse, instance, smtp_env):
    with warehouse.write() as con:  # before the sensor started: not news
        deadletters.record(con, "orders", "111-OLD", "unmapped SKU: NW-OLD", {})
    first, cursor = _tick(instance, warehouse, None)
    assert first.skip_message == "watching from now on"

    assert not dg.materialize([broken_settlement_load], instance=instance, raise_on_error=False,
                              tags={"sage_amazon/settlement_id": "24123456789"}).success
    dg.materialize([checked_lines, warned_fees], instance=instance, raise_on_error=False)
    with warehouse.write() as con:
        deadletters.record(con, "settlement", "24123456789:AMZ-24123456789-202611",
                           "fiscal period 2026-11 is closed", {})
        deadletters.record(con, "settlement", "25000000001:unreadable", "line 7: amount 'x' is not a number", {})

    down, same_cursor = _tick(instance, warehouse, cursor)  # no server listening yet: tried again next tick
    assert "alert e-mail not sent to 127.0.0.1" in down.skip_message and same_cursor == cursor

    with smtp_server(smtp_env) as inbox:
        sent, cursor = _tick(instance, warehouse, cursor)
        assert "sent" in sent.skip_message and len(inbox.messages) == 1
        sender, rcpts, message = inbox.messages[0]
        assert sender == "sage-amazon@example.com" and rcpts == ["finance@example.com", "ops@example.com"]
        # the blocking check failed its run too: both say so
        assert message["Subject"] == "[sage-amazon] 2 failed runs, 1 failed check, 2 dead letters"
        body = message.get_content()
        assert "failed run: broken_settlement_load (run " in body and "[24123456789]" in body
        assert "fiscal period 2026-11 is closed" in body  # the step's own error, not Dagster's wrapper
        assert "failed check: checked_lines totals_tie_out" in body and "583.89" in body
        assert "fee_rates_usual" not in body  # a warning is not an alert
        assert "settlement 24123456789 blocked (AMZ-24123456789-202611)" in body
        assert "settlement 25000000001 on hold" in body
        assert "111-OLD" not in body

        quiet, cursor = _tick(instance, warehouse, cursor)  # nothing new: no second e-mail
        assert quiet.skip_message == "nothing new" and len(inbox.messages) == 1
        with warehouse.write() as con:
            deadletters.record(con, "orders", "111-NEW", "unmapped SKU: NW-FILTER-SQ", {})
        _tick(instance, warehouse, cursor)
        assert len(inbox.messages) == 2 and "orders 111-NEW" in inbox.messages[1][2].get_content()


def test_without_a_server_the_sensor_says_how_to_configure_it(warehouse, instance, monkeypatch):
    monkeypatch.delenv("SAGE_AMAZON_SMTP_HOST", raising=False)
    result, _ = _tick(instance, warehouse, None)
    assert "SAGE_AMAZON_SMTP_HOST is not set" in result.skip_message
    monkeypatch.setenv("SAGE_AMAZON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SAGE_AMAZON_SMTP_PORT", "twenty-five")
    result, _ = _tick(instance, warehouse, None)
    assert "SAGE_AMAZON_SMTP_PORT='twenty-five' is not a port number" in result.skip_message


def test_the_daily_digest_says_what_was_posted_and_what_waits_and_why(warehouse, instance, smtp_env):
    from datetime import UTC, datetime

    from sensors.cockpit import cockpit_digest_schedule
    from tests.cockpit.test_overview import BLOCKED, HELD, POSTED, WAITING, seed_settlements

    seed_settlements(warehouse)
    at = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    request = cockpit_digest_schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=at))
    assert request.run_config["ops"]["send_daily_digest"]["config"]["since"] == "2026-11-29T07:00:00+00:00"

    job = _digest_job(warehouse)
    config = {"ops": {"send_daily_digest": {"config": {"since": "2000-01-01T00:00:00"}}}}  # every posting counts
    with smtp_server(smtp_env) as inbox:
        assert job.execute_in_process(instance=instance, run_config=config).success
    assert len(inbox.messages) == 1
    message = inbox.messages[0][2]
    assert message["Subject"] == ("[sage-amazon] daily digest: 4 posted, 3 settlement(s) waiting or held, "
                                  "3 dead letters")
    body = message.get_content()
    assert "    settlement_journal: 3" in body and "    orders: 1" in body
    assert f"{BLOCKED} Amazon.de -20.10 EUR: blocked - AMZ-{BLOCKED}-202611: fiscal period 2026-11 is closed" in body
    assert f"{HELD} Amazon.co.uk 583.89 GBP: on hold - reissue on hold" in body
    assert f"{WAITING} Amazon.com 100.01 USD: waiting - not run yet" in body
    assert f"{POSTED} " not in body  # posted in full: not waiting
    assert "    settlement: 2" in body


def test_without_smtp_the_digest_job_sends_nothing_and_says_why(warehouse, instance, monkeypatch):
    monkeypatch.delenv("SAGE_AMAZON_SMTP_HOST", raising=False)
    result = _digest_job(warehouse).execute_in_process(instance=instance)
    assert result.success
    assert any("SAGE_AMAZON_SMTP_HOST is not set" in (e.message or "") for e in instance.all_logs(result.run_id))


def test_a_sage_facing_asset_failing_its_freshness_policy_is_mailed(warehouse, instance, smtp_env):
    """The daemon records a freshness change as an event (dagster/_daemon/freshness.py); FAIL is mailed, WARN not."""
    from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

    from assets.freshness import POLICIES

    assert "sage_sales_orders" in POLICIES and "settlement_journal_postings" in POLICIES
    _, cursor = _tick(instance, warehouse, None)
    for key, state in (("sage_stock", FreshnessState.WARN), ("sage_sales_orders", FreshnessState.FAIL)):
        instance._report_runless_asset_event(asset_event=FreshnessStateChange(  # as the freshness daemon does
            key=dg.AssetKey(key), previous_state=FreshnessState.PASS, new_state=state,
            state_change_timestamp=1_790_000_000.0))
    with smtp_server(smtp_env) as inbox:
        sent, cursor = _tick(instance, warehouse, cursor)
        assert "sent" in sent.skip_message and len(inbox.messages) == 1
        message = inbox.messages[0][2]
        assert message["Subject"] == "[sage-amazon] late asset: sage_sales_orders"
        body = message.get_content()
        assert "late asset: sage_sales_orders" in body and "sage_stock" not in body


def test_on_the_embedded_sqlite_instance_a_failed_check_is_mailed(warehouse, smtp_env, tmp_path):
    """The embedded instance (`make demo`, `dagster dev`) keeps each run's events in its own SQLite file: the sensor
    reads the checks of the runs that ended since its last tick, not a cross-run event cursor that storage refuses."""
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        _, cursor = _tick(instance, warehouse, None)
        dg.materialize([checked_lines], instance=instance, raise_on_error=False)
        with smtp_server(smtp_env) as inbox:
            sent, cursor = _tick(instance, warehouse, cursor)
            assert "sent" in sent.skip_message and len(inbox.messages) == 1
            body = inbox.messages[0][2].get_content()
            assert "failed check: checked_lines totals_tie_out" in body and "583.89" in body
            quiet, _ = _tick(instance, warehouse, cursor)
            assert quiet.skip_message == "nothing new" and len(inbox.messages) == 1


def test_a_single_alert_is_named_in_the_subject():
    """What an inbox lists is the subject: one blocked settlement names itself there, several are counted."""
    from sage_amazon.cockpit.alerts import Alert, SmtpSettings, compose

    settings = SmtpSettings("127.0.0.1", 25, "none", "sage-amazon@example.com", ("finance@example.com",))
    blocked = Alert("dead letter", "settlement 24700000007 blocked (AMZ-24700000007-202611)", "Period closed")
    one = compose([blocked], settings)
    assert one["Subject"] == "[sage-amazon] dead letter: settlement 24700000007 blocked (AMZ-24700000007-202611)"
    several = compose([blocked, Alert("failed run", "settlement_job (run 1a2b)")], settings)
    assert several["Subject"] == "[sage-amazon] 1 dead letter, 1 failed run"
