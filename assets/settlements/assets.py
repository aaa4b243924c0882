"""Settlement to ledger: Amazon settlement reports landed, validated, journalised and posted to Sage.

Asset graph (partitioned by settlement id, `settlement_ids`):

    settlement_account_map (reference flow)     ─┐
    settlement_lines + settlement_reports (raw) ─┴─▶ stg_settlement_categories ─▶ journal_settlement_lines
        ─▶ settlement_reconciliation ─▶ settlement_journal_postings (Sage)      (SQL models in dbt_like_sql/)
    settlement_lines ─▶ settlement_fee_rates (fee anomalies, non-blocking)

Blocking checks: totals add up, one currency, journals balanced, not posted twice, reconciliation ties out.
"""


from datetime import UTC, datetime

import dagster as dg

from assets.flow import SETTLEMENT_ID_TAG
from assets.partitions import settlement_partitions
from assets.retry import RETRY_POLICY, retried
from resources import pools
from resources.sage import SageResource
from resources.warehouse import WarehouseResource
from sage_amazon import deadletters


def _settings():
    from sage_amazon import config

    return config.load()


def _outcome_result(outcome, asset_key: str, severity_warn: bool = False) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name, asset_key=asset_key, passed=bool(outcome.passed), description=outcome.description,
        severity=dg.AssetCheckSeverity.WARN if severity_warn else dg.AssetCheckSeverity.ERROR,
        metadata={k: (dg.MetadataValue.md(v) if isinstance(v, str) and v.startswith("|") else v)
                  for k, v in outcome.metadata.items()},
    )


# ---------------------------------------------------------------------------------------------
# landing


@dg.multi_asset(
    specs=[
        dg.AssetSpec("settlement_lines", kinds={"duckdb"}, metadata={"dagster/table_name": "raw.settlement_lines"},
                     description="raw.settlement_lines: every detail line of each settlement file (V2, or V1 "
                                 "unpivoted to V2 amount-type/amount-description), amounts DECIMAL(18,2)."),
        dg.AssetSpec("settlement_reports", kinds={"duckdb"}, metadata={"dagster/table_name": "raw.settlement_reports"},
                     description="raw.settlement_reports: the summary row of each settlement (dates, total, "
                                 "currency), its marketplace and the raw file kept for audit."),
    ],
    check_specs=[
        dg.AssetCheckSpec("settlement_totals_match", asset="settlement_lines", blocking=True, partitions_def=settlement_partitions,
                          description="The detail amounts add up exactly to total-amount."),
        dg.AssetCheckSpec("settlement_single_currency", asset="settlement_lines", blocking=True, partitions_def=settlement_partitions,
                          description="Every line is in the settlement's currency."),
        # the gates the Great Expectations suite below reports on too, in SQL (no GX start-up on the way to Sage)
        dg.AssetCheckSpec("settlement_amounts_present", asset="settlement_lines", blocking=True, partitions_def=settlement_partitions,
                          description="Every line has an amount (Great Expectations gx_amount_not_null, as SQL)."),
        dg.AssetCheckSpec("settlement_currency_iso", asset="settlement_lines", blocking=True, partitions_def=settlement_partitions,
                          description="Every line's currency is a 3-letter code (gx_currency_iso, as SQL)."),
    ],
    partitions_def=settlement_partitions,
    pool=pools.DUCKDB_WRITE,
)
def settlement_landing(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sage: SageResource):
    """Parse the settlement's raw file (kept under the data dir) into DuckDB with DuckDB's CSV reader."""
    from sage_amazon.amazon import settlement as parser
    from sage_amazon.ledger import intake, settlements
    from sage_amazon.mapping import accounts

    sid = context.partition_key
    settings = _settings()
    path = intake.find_file(settings.raw_dir, sid)
    if path is None:
        raise dg.Failure(
            description=f"no raw file for settlement {sid} under {intake.settlements_dir(settings.raw_dir)}; "
                        f"the discovery sensor downloads it, or bring it in with `sage-amazon settlement import FILE`",
        )
    origin = intake.manifest(settings.raw_dir, sid).get("origin", "file")
    started = datetime.now(UTC)
    amap = accounts.load()
    if amap.currency_source == "erp":  # read before the write session: the warehouse is never held across Sage
        from sage_amazon.ledger import currency

        with sage.opened_target() as target:
            amap = currency.from_erp(amap, target, settings.target)
    with warehouse.write() as con:
        accounts.write_table(con, amap, settings.target)
        try:
            summary = parser.land(con, path, source=origin)
        except parser.SettlementFileError as exc:
            raise dg.Failure(description=str(exc), metadata={
                "file": str(exc.path), "line": exc.line or 0, "column": exc.column or ""}) from None
        if summary.settlement_id != sid:
            raise dg.Failure(description=f"{path} is settlement {summary.settlement_id}, not {sid}")
        totals = settlements.check_totals(con, sid)
        currency = settlements.check_currency(con, sid)
        no_amount, bad_currency, lines = con.execute(
            "SELECT count(*) FILTER (WHERE amount IS NULL), count(*) FILTER (WHERE length(currency) IS DISTINCT FROM 3),"
            " count(*) FROM raw.settlement_lines WHERE settlement_id = ?", [sid]).fetchone()
    seconds = (datetime.now(UTC) - started).total_seconds()
    yield dg.MaterializeResult(asset_key="settlement_lines", metadata={
        "dagster/row_count": summary.line_count, "file": dg.MetadataValue.path(str(path)),
        "file_format": summary.file_format, "marketplace": summary.marketplace, "currency": summary.currency,
        "total_amount": f"{summary.total_amount:.2f}", "load_seconds": round(seconds, 3),
    })
    yield dg.MaterializeResult(asset_key="settlement_reports", metadata={
        "dagster/row_count": 1, "settlement_id": sid, "deposit_date": str(summary.deposit_date),
        "settlement_start": str(summary.settlement_start), "settlement_end": str(summary.settlement_end),
        "sha256": summary.file_sha256, "origin": origin,
    })
    yield _outcome_result(totals, "settlement_lines")
    yield _outcome_result(currency, "settlement_lines")
    yield dg.AssetCheckResult(check_name="settlement_amounts_present", asset_key="settlement_lines",
                              passed=no_amount == 0, metadata={"lines_without_amount": int(no_amount),
                                                               "rows": int(lines)})
    yield dg.AssetCheckResult(check_name="settlement_currency_iso", asset_key="settlement_lines",
                              passed=bad_currency == 0, metadata={"lines_with_bad_currency": int(bad_currency),
                                                                  "rows": int(lines)})


# Great Expectations suite on the landed lines (GX imported only when the check runs). It is off the
# critical path: the settlement job does not run it (its start-up costs seconds in a fresh process); a run of
# settlement_expectations_job follows every settlement run, and `sage-amazon run` runs it in its settlement stage.
# The two expectations that used to block are also blocking SQL checks of the landing.
_GX_CHECKS = {
    "gx_amount_not_null": ("ExpectColumnValuesToNotBeNull", {"column": "amount"}),
    "gx_transaction_type_not_null": ("ExpectColumnValuesToNotBeNull", {"column": "transaction_type"}),
    "gx_posted_date_not_null": ("ExpectColumnValuesToNotBeNull", {"column": "posted_date", "mostly": 0.99}),
    "gx_currency_iso": ("ExpectColumnValueLengthsToEqual", {"column": "currency", "value": 3}),
}


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset="settlement_lines", description=f"Great Expectations: {kind} {kwargs}")
           for name, (kind, kwargs) in _GX_CHECKS.items()],
    pool=None,  # one short read under the warehouse lock, then seconds of GX outside any pool
)
def settlement_lines_gx(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    from sage_amazon import quality

    # a settlement run (partition) or a settlement_expectations_job run (the settlement id in a run tag)
    sid = context.partition_key if context.has_partition_key else context.run.tags[SETTLEMENT_ID_TAG]
    with warehouse.read() as con:
        df = con.execute(
            "SELECT amount::VARCHAR AS amount, transaction_type, posted_date, currency "
            "FROM raw.settlement_lines WHERE settlement_id = ?", [sid]).df()
    for name, res in quality.validate(df, _GX_CHECKS, name="settlement_lines").items():
        yield dg.AssetCheckResult(
            check_name=name, asset_key="settlement_lines", passed=res.passed,
            description=f"settlement {sid}: {res.unexpected_count} unexpected of {len(df)} lines",
            metadata={"settlement_id": sid, "unexpected_count": res.unexpected_count,
                      "unexpected_percent": res.unexpected_percent, "rows": int(len(df))})


# ---------------------------------------------------------------------------------------------
# checks on the SQL models


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("settlement_journals_balanced", asset="journal_settlement_lines", blocking=True, partitions_def=settlement_partitions,
                          description="Every journal balances in the settlement and the company currency."),
        dg.AssetCheckSpec("settlement_not_posted_twice", asset="journal_settlement_lines", blocking=True, partitions_def=settlement_partitions,
                          description="No settlement is posted twice (same file under two ids, or posted "
                                      "journals that would change)."),
        # blocking only when it fails with ERROR severity: accounts.yaml `unmapped: hold`; the default
        # (suspense) fails with WARN severity and the settlement posts with its suspense line
        dg.AssetCheckSpec("settlement_unmapped_lines", asset="journal_settlement_lines", blocking=True, partitions_def=settlement_partitions,
                          description="Lines no account-map rule matches: posted to suspense and flagged, or the "
                                      "settlement on hold (accounts.yaml unmapped: hold)."),
    ],
    pool=pools.DUCKDB_WRITE,
)
def settlement_journal_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    from sage_amazon.ledger import settlements

    sid = context.partition_key
    with warehouse.read() as con:
        outcomes = [settlements.check_balanced(con, sid), settlements.check_not_posted_twice(con, sid),
                    settlements.check_unmapped(con, sid)]
    for outcome in outcomes:
        yield _outcome_result(outcome, "journal_settlement_lines", severity_warn=not outcome.blocking)


@dg.asset_check(asset="settlement_reconciliation", blocking=True, pool=pools.DUCKDB_WRITE, partitions_def=settlement_partitions,
                description="Total = sum of lines = sum of journal account lines = deposit; variance 0.00.")
def settlement_reconciliation_ties_out(context: dg.AssetCheckExecutionContext,
                                       warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from sage_amazon.ledger import settlements

    sid = context.partition_key
    with warehouse.read() as con:
        row = settlements.reconciliation_row(con, sid)
        table = settlements.account_table(con, sid)
    if row is None:
        return dg.AssetCheckResult(passed=False, description=f"no reconciliation row for settlement {sid}")
    # repeats the landing's blocking checks, so a run that starts below the landing (staged runs) is safe too
    one_currency = row["currency_count"] <= 1 and (row["line_currencies"] or row["currency"]) == row["currency"]
    ok = (row["variance"] == 0 and row["clearing_balance"] == 0 and row.get("ledger_clearing_balance", 0) == 0
          and row["journals_balanced"] and one_currency
          and row["sum_journal_lines"] == row["sum_lines"] == row["total_amount"] == row["deposit"])
    return dg.AssetCheckResult(passed=bool(ok), metadata=_reconciliation_metadata(row, table),
                               description="ties out" if ok else
                               f"variance {row['variance']}" if row["variance"] else
                               f"lines in {row['line_currencies']}, settlement in {row['currency']}"
                               if not one_currency else "does not tie out: see the figures")


def _reconciliation_metadata(row: dict, table: list[dict]) -> dict:
    from sage_amazon.ledger import settlements

    money = ("total_amount", "sum_lines", "sum_journal_lines", "deposit", "variance", "clearing_balance",
             "ledger_clearing_balance", "fx_gain_loss", "rounding", "unmapped_amount")
    md = {k: dg.MetadataValue.text(f"{row[k]:.2f}") for k in money if row.get(k) is not None}
    md.update({
        "currency": row["currency"], "deposit_date": str(row["deposit_date"]), "periods": row["periods"] or "",
        "journal_count": int(row["journal_count"] or 0), "line_count": int(row["line_count"] or 0),
        "unmapped_lines": int(row["unmapped_lines"] or 0),
        "per_account": dg.MetadataValue.md(settlements.markdown_table(
            table, ["account", "role", "debit", "credit", "net", "lines"])),
    })
    return md


@dg.asset_check(asset="settlement_fee_rates", blocking=False, pool=pools.DUCKDB_WRITE, partitions_def=settlement_partitions,
                description="Fees far from their usual rate for the SKU (or the marketplace): referral fee rate, "
                            "FBA fee per unit. Evidence listed; never blocks posting.")
def settlement_fee_anomalies(context: dg.AssetCheckExecutionContext,
                             warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from sage_amazon.ledger import anomalies, settlements

    sid = context.partition_key
    with warehouse.read() as con:
        found = anomalies.find(con, sid)
    rows = [a.as_dict() for a in found]
    return dg.AssetCheckResult(
        passed=not found, severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(found)} fee(s) deviate from their usual rate" if found else "fees at their usual rates",
        metadata={"anomalies": len(found), "evidence": dg.MetadataValue.md(settlements.markdown_table(
            rows[:50], ["order_id", "sku", "fee", "observed", "usual", "basis", "history", "fee_amount"]))
            if rows else ""})


# ---------------------------------------------------------------------------------------------
# posting


@dg.asset(
    kinds={"sage"}, partitions_def=settlement_partitions, pool=pools.SAGE,
    # settlement_vat: its blocking check holds the postings of a settlement whose VAT cannot be decided yet
    deps=["journal_settlement_lines", "settlement_reconciliation", "journal_settlement_trace", "settlement_vat"],
    retry_policy=RETRY_POLICY,  # the one retry policy (assets/retry.py): minutes later, not the next day
    tags={deadletters.FLOW_TAG: "settlement"},  # `sage-amazon deadletter replay --flow settlement`
    description="The settlement's journals posted to Sage, one per accounting period, once (posting ledger). "
                "Refusals such as a closed fiscal period are dead letters, retried on later runs.",
)
@retried
def settlement_journal_postings(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                                sage: SageResource) -> dg.MaterializeResult:
    from sage_amazon.ledger import posting, settlements
    from sage_amazon.mapping import accounts

    sid = context.partition_key
    with sage.opened_target() as target:
        report = posting.post_settlement(warehouse.write, target, sid, documents=accounts.load().documents,
                                         target_name=sage.target)
    with warehouse.read() as con:
        row = settlements.reconciliation_row(con, sid)
        table = settlements.account_table(con, sid)
        sample = _trace_sample(con, sid)
    md = _reconciliation_metadata(row, table) if row else {}
    if sample:
        md["trace_sample"] = sample
    md.update({
        "sage_target": sage.target,
        "posted": dg.MetadataValue.json(report.numbers()),
        "posted_this_run": len(report.posted),
        "credit_notes": dg.MetadataValue.json(report.credit_notes),
        "dead_letters": dg.MetadataValue.json(report.dead_letters),
    })
    if report.transient:  # Sage unavailable or a lost reply: recorded, the step is retried by RETRY_POLICY
        cause = report.stopped or "; ".join(f"{ref}: {why}" for ref, why in report.transient.items())
        raise dg.Failure(description=f"{len(report.transient)} journal(s) not posted yet: {cause}"[:1000],
                         metadata=md, allow_retries=True)
    for ref, reason in report.dead_letters.items():
        context.log.warning(f"{ref}: {reason} (dead letter, retried on the next run)")
    return dg.MaterializeResult(metadata=md)


@dg.asset(
    kinds={"sage"}, pool=pools.SAGE, deps=["settlement_journal_postings"],
    retry_policy=RETRY_POLICY,
    description="Every run: each Amazon order's open credits from the settlements and credit notes applied to the "
                "invoice Sage made for it since (Sage 500 keeps AR per document: what Sage invoiced after the "
                "settlement that paid it was posted, a settlement never run again once fully posted). X3: nothing "
                "to apply, the journal clears the customer's receivable.",
)
@retried
def settlement_open_items(context: dg.AssetExecutionContext, sage: SageResource) -> dg.MaterializeResult:
    with sage.opened_target() as target:
        applied = target.apply_all_open_items()
    if applied:
        context.log.info(f"{applied} open item application(s) made in Sage")
    return dg.MaterializeResult(metadata={"sage_target": sage.target, "applied": applied})


def _trace_sample(con, sid: str):
    """A few settlement rows behind each journal account line (`sage-amazon settlement trace` prints them all)."""
    from sage_amazon.ledger import settlements, trace
    from sage_amazon.warehouse import table_exists

    if not table_exists(con, trace.TABLE):
        return None
    rows = trace.sample_per_account(con, sid)
    return dg.MetadataValue.md(settlements.markdown_table(rows, list(rows[0]))) if rows else None
