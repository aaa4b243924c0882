"""VAT and GST of each settlement (sage_amazon/ledger/vat) as assets of the settlements flow:

    journal_settlement_trace ─▶ settlement_vat (each line's treatment; blocking check settlement_vat_decided)
        ─▶ settlement_journal_postings ─▶ settlement_vat_journals (VAT-<id>-<YYYYMM>, posted once)
    settlement_vat ─▶ settlement_vat_boxes (SQL) ─▶ vat_return_summary (per return period and registration)

A settlement whose VAT cannot be decided (tax_profile.yaml, order data) fails the blocking check: its journals are
not posted, and the check and marts.settlement_vat say why, until the data arrives and the settlement runs again."""

import dagster as dg

from assets.partitions import settlement_partitions
from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


@dg.asset(
    kinds={"duckdb"}, partitions_def=settlement_partitions, pool=pools.DUCKDB_WRITE,
    deps=["journal_settlement_lines", "journal_settlement_trace"],
    metadata={"dagster/table_name": "marts.settlement_vat"},
    check_specs=[dg.AssetCheckSpec("settlement_vat_decided", asset="settlement_vat", blocking=True,
                                   partitions_def=settlement_partitions,
                                   description="Every sale and fee line's VAT is decided (tax_profile.yaml): "
                                               "none waits for an order, a departure country or a registration; "
                                               "the settlement's postings wait otherwise.")],
    description="The VAT (GST/HST/QST) treatment of each sale and fee line of the settlement: departure, arrival, "
                "buyer VAT number, deemed supplier, registration, rate, net, output and input VAT, tax code; "
                "lines that cannot be decided wait with the reason, never a guess.",
)
def settlement_vat(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sage: SageResource):
    from sage_amazon.ledger.vat import journal

    with warehouse.write() as con:
        report = journal.decide_settlement(con, context.partition_key, sage.target)
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": len(report.rows),
        "output_vat": f"{sum(r.output_vat for r in report.rows):.2f}",
        "input_vat": f"{sum(r.input_vat for r in report.rows):.2f}",
        "waiting": dg.MetadataValue.json(report.waiting),
        "disabled": report.disabled,
    })
    yield dg.AssetCheckResult(check_name="settlement_vat_decided", passed=not report.waiting,
                              severity=dg.AssetCheckSeverity.ERROR,
                              description="; ".join(f"{ref}: {why}" for ref, why in report.waiting.items())[:1000]
                              if report.waiting else ("VAT off (tax_profile.yaml)" if report.disabled
                                                      else "every VAT line decided"))


@dg.asset(
    kinds={"sage"}, partitions_def=settlement_partitions, pool=pools.SAGE,
    deps=["settlement_vat", "settlement_journal_postings"],
    retry_policy=RETRY_POLICY,
    tags={deadletters.FLOW_TAG: "settlement"},
    description="The settlement's VAT journals (VAT-<id>-<YYYYMM>[-<site>]) posted once: sales, shipping and fees "
                "split into net and output / input VAT, each line with the target's tax code.",
)
@retried
def settlement_vat_journals(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sage: SageResource):
    from sage_amazon.ledger.vat import journal

    with sage.opened_target() as target:
        report = journal.run(warehouse.write, target, context.partition_key, sage.target)
    md = {"posted": dg.MetadataValue.json({**report.already, **report.adopted, **report.posted}),
          "waiting": dg.MetadataValue.json(report.waiting),
          "dead_letters": dg.MetadataValue.json(report.dead_letters), "disabled": report.disabled}
    if report.transient:
        raise dg.Failure(description=f"VAT journal(s) not posted yet: {'; '.join(report.transient.values())}"[:1000],
                         metadata=md, allow_retries=True)
    for ref, why in report.dead_letters.items():
        context.log.warning(f"{ref}: {why} (dead letter, retried on the next run)")
    return dg.MaterializeResult(metadata=md)


@dg.asset(
    kinds={"duckdb"}, pool=pools.DUCKDB_WRITE, deps=["settlement_vat_boxes"],
    metadata={"dagster/table_name": "marts.vat_return_summary"},
    description="The VAT summary finance files with: per return period and registration the boxes of the return "
                "(UK VAT100 1-9, German UStVA, OSS per member state, Canada GST34), from every settlement; "
                "`sage-amazon vat summary FILE.csv|FILE.xlsx` exports it.",
)
def vat_return_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sage: SageResource):
    from sage_amazon.ledger.vat import profile, summary

    monthly = profile.load(sage.target).monthly_returns
    with warehouse.write() as con:
        rows = summary.build(con, monthly)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "returns": len({(r["return_period"], r["registration"], r["form"]) for r in rows}),
        "summary": dg.MetadataValue.md(summary.markdown(rows)),
    })
