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


class DeferredConfig(dg.Config):
    month: str = ""  # YYYY-MM; empty: the month before the run's day (UTC), as the month_end schedule asks


def last_month(today: date) -> str:
    first = today.replace(day=1)
    return f"{first.year - (first.month == 1)}-{(first.month - 2) % 12 + 1:02d}"


@dg.asset(
    kinds={"sage"}, pool=pools.SAGE, retry_policy=RETRY_POLICY,
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

    month = config.month or last_month(datetime.now(UTC).date())
    report = deferred.run(warehouse.write, sage.get_target(), month, sage.target)
    schema = dg.TableSchema(columns=[
        dg.TableColumn("marketplace", "string"), dg.TableColumn("order_id", "string"),
        dg.TableColumn("channel", "string"), dg.TableColumn("shipped_on", "string"),
        dg.TableColumn("currency", "string"), dg.TableColumn("amount", "string"), dg.TableColumn("status", "string")])
    records = [dg.TableRecord({"marketplace": a.marketplace, "order_id": a.order_id, "channel": a.channel,
                               "shipped_on": a.shipped_on.isoformat(), "currency": a.currency,
                               "amount": f"{a.amount:.2f}", "status": a.status}) for a in report.orders[:200]]
    md = {
        "month": month,
        "dagster/row_count": len(report.orders),
        "orders": dg.MetadataValue.table(records, schema=schema),
        "accrued": dg.MetadataValue.json({j.reference: f"{sum(ln.debit for ln in j.lines if ln.reference.endswith('/deferred')):.2f} {j.currency}"
                                          for j in report.journals if not j.reference.endswith("-R")}),
        "posted": dg.MetadataValue.json(report.done),
        "waiting": dg.MetadataValue.json(report.waiting),
        "dead_letters": dg.MetadataValue.json(report.dead_letters),
        "disabled": report.disabled,
    }
    if report.transient:
        raise dg.Failure(description=f"deferred journal(s) not posted yet: {'; '.join(report.transient.values())}"[:1000],
                         metadata=md, allow_retries=True)
    for ref, why in report.dead_letters.items():
        context.log.warning(f"{ref}: {why} (dead letter, retried on the next run)")
    yield dg.MaterializeResult(metadata=md)
    yield dg.AssetCheckResult(check_name="deferred_accrual_complete", passed=not report.waiting,
                              severity=dg.AssetCheckSeverity.WARN,
                              description="; ".join(f"{ref}: {why}" for ref, why in report.waiting.items())[:1000]
                              if report.waiting else f"every accrual of {month} posted")
