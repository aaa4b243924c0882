"""The deferred accrual of a month (sage_amazon/ledger/deferred.py) as an asset of the month_end flow: per
marketplace the orders shipped by the month end that no settlement paid by then, accrued on the month's last day
and reversed on the next month's first day, each journal posted once; the orders behind it in
marts.deferred_accrual_orders."""

from datetime import UTC, date, datetime

import dagster as dg

from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


class DeferredConfig(dg.Config):
    # YYYY-MM; empty: the month before the run's day (UTC) and any earlier month whose accrual or reversal is not
    # posted yet (waiting, or a dead letter being replayed)
    month: str = ""


def last_month(today: date) -> str:
    first = today.replace(day=1)
    return f"{first.year - (first.month == 1)}-{(first.month - 2) % 12 + 1:02d}"


@dg.asset(
    kinds={"sage"}, pool=pools.SAGE, retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "deferred"},  # `sage-amazon deadletter replay --flow deferred`
    deps=["settlement_lines", "settlement_reports", "amazon_fba_shipments", "amazon_orders"],
    metadata={"dagster/table_name": "marts.deferred_accrual_orders"},
    check_specs=[dg.AssetCheckSpec("deferred_accrual_complete", asset="deferred_accrual", blocking=False,
                                   description="Every marketplace's accrual of the month is posted: none waits for "
                                               "a price, a marketplace or the settlement covering the month end.")],
    description="Deferred transactions (Amazon's DD+7 hold): per marketplace, the orders shipped by the month end "
                "that no settlement paid by then, accrued as sales on the month's last day (DEFER-<mkt>-<YYYYMM>) "
                "and reversed on the next month's first day (-R), each once. Config month: YYYY-MM (default: the "
                "previous month).",
)
@retried
def deferred_accrual(context: dg.AssetExecutionContext, config: DeferredConfig, warehouse: WarehouseResource,
                     sage: SageResource):
    from sage_amazon.ledger import deferred

    if config.month:
        months = [config.month]
    else:  # the previous month, and any earlier one still waiting or refused (a replay of the dead letters)
        with warehouse.write() as con:
            months = sorted({last_month(datetime.now(UTC).date())} | deferred.unfinished_months(con))
    with sage.opened_target() as target:
        reports = [deferred.run(warehouse.write, target, month, sage.target) for month in months]
    orders = [a for r in reports for a in r.orders]
    waiting = {ref: why for r in reports for ref, why in r.waiting.items()}
    dead_letters = {ref: why for r in reports for ref, why in r.dead_letters.items()}
    transient = {ref: why for r in reports for ref, why in r.transient.items()}
    schema = dg.TableSchema(columns=[
        dg.TableColumn("month", "string"), dg.TableColumn("marketplace", "string"),
        dg.TableColumn("order_id", "string"), dg.TableColumn("channel", "string"),
        dg.TableColumn("shipped_on", "string"), dg.TableColumn("currency", "string"),
        dg.TableColumn("amount", "string"), dg.TableColumn("status", "string")])
    records = [dg.TableRecord({"month": a.month, "marketplace": a.marketplace, "order_id": a.order_id,
                               "channel": a.channel, "shipped_on": a.shipped_on.isoformat(), "currency": a.currency,
                               "amount": f"{a.amount:.2f}", "status": a.status}) for a in orders[:200]]
    md = {
        "month": ", ".join(months),
        "dagster/row_count": len(orders),
        "orders": dg.MetadataValue.table(records, schema=schema),
        "accrued": dg.MetadataValue.json({
            j.reference: f"{sum(ln.debit for ln in j.lines if ln.reference.endswith('/deferred')):.2f} {j.currency}"
            for r in reports for j in r.journals if not j.reference.endswith("-R")}),
        "posted": dg.MetadataValue.json({ref: n for r in reports for ref, n in r.done.items()}),
        "waiting": dg.MetadataValue.json(waiting),
        "dead_letters": dg.MetadataValue.json(dead_letters),
        "disabled": any(r.disabled for r in reports),
    }
    if transient:
        raise dg.Failure(description=f"deferred journal(s) not posted yet: {'; '.join(transient.values())}"[:1000],
                         metadata=md, allow_retries=True)
    for ref, why in dead_letters.items():
        context.log.warning(f"{ref}: {why} (dead letter, retried on the next run)")
    yield dg.MaterializeResult(metadata=md)
    yield dg.AssetCheckResult(check_name="deferred_accrual_complete", passed=not waiting,
                              severity=dg.AssetCheckSeverity.WARN,
                              description="; ".join(f"{ref}: {why}" for ref, why in waiting.items())[:1000]
                              if waiting else f"every accrual of {', '.join(months)} posted")
