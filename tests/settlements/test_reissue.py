"""Issue 20.2 and 20.3: nothing unreadable is stored; a settlement whose file changes after posting is seen,
then held or corrected once by a difference journal; a bad file Amazon gave us is a visible hold."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from sage_amazon import deadletters
from sage_amazon.amazon import settlement as parser
from sage_amazon.ledger import holds, intake, posting, reissue, settlements
from sage_amazon.mapping import accounts
from sage_amazon.warehouse import Warehouse
from tests.settlements.conftest import V2_SAMPLE
from tests.settlements.test_posting import FakeSage

SID = "28471003921"


def _corrected_text() -> str:
    """The sample reissued by Amazon: one principal 1.00 higher, the total too."""
    text = V2_SAMPLE.read_text()
    text = text.replace("\tPrincipal\t129.99\t", "\tPrincipal\t130.99\t", 1)
    return text.replace("\t582.89\t", "\t583.89\t", 1)


@pytest.fixture
def world(tmp_path):
    raw = tmp_path / "raw"
    wh = Warehouse(tmp_path / "wh.duckdb", lock_timeout=10, snapshot_every=0)
    return raw, wh, FakeSage()


def _run(raw, wh, sage):
    """What the settlement job does for one settlement: land the kept file, build, check, post."""
    with wh.write() as con:
        accounts.write_table(con, accounts.load(), "x3")
        parser.land(con, intake.find_file(raw, SID))
        settlements.build(con, SID)
        outcome = settlements.check_not_posted_twice(con, SID)
    if outcome.passed:
        posting.post_settlement(wh.write, sage, SID)
    return outcome


def _sage_net(sage, account: str) -> Decimal:
    return sum((line.credit - line.debit for _, j in sage.journals.values() for line in j.lines
                if line.account == account), Decimal("0"))


def _reissue(raw, tmp_path):
    upload = tmp_path / "corrected.txt"
    upload.write_text(_corrected_text())
    stored = intake.store(upload, raw, origin="import")
    assert stored.replaced
    return stored


def test_truncated_and_oversized_files_are_refused_by_import_in_one_line(tmp_path):
    text = V2_SAMPLE.read_text()
    cut = tmp_path / "cut.txt"  # cut at a line end: every line reads, the total does not add up
    cut.write_text("".join(text.splitlines(keepends=True)[:12]))
    lines = text.splitlines(keepends=True)
    parts = lines[3].split("\t")
    parts[13] = "X" * (1 << 20)
    big = tmp_path / "big.txt"
    big.write_text("".join(lines[:3] + ["\t".join(parts)] + lines[4:]))
    for path, where in ((cut, "line 2, column 'total-amount', value '582.89'"),
                        (big, "line 4, column 'amount-description', value 'XXXXXXXXXXXXXXXXXXXX...'")):
        with pytest.raises(parser.SettlementFileError) as caught:
            intake.store(path, tmp_path / "raw", origin="import")
        assert where in str(caught.value)
    assert not (tmp_path / "raw" / "settlements").exists() or not list((tmp_path / "raw" / "settlements").glob("*.txt"))


def test_import_command_refuses_what_inspect_refuses(tmp_path, data_dir):
    from sage_amazon.ledger.cli import settlement_group

    cut = tmp_path / "cut.txt"
    cut.write_text("".join(V2_SAMPLE.read_text().splitlines(keepends=True)[:12]))
    result = CliRunner().invoke(settlement_group, ["import", str(cut)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "line 2, column 'total-amount'" in result.output
    inspected = CliRunner().invoke(settlement_group, ["inspect", str(cut)])
    assert inspected.exit_code == 1
    assert not list((data_dir / "raw").rglob("*.txt"))


def test_a_bad_file_from_amazon_is_kept_and_held_never_run(world, tmp_path):
    raw, wh, _ = world
    cut = "".join(V2_SAMPLE.read_text().splitlines(keepends=True)[:12])
    stored = intake.store_text(cut, raw, origin="sp-api")  # discovery's path: check="hold"
    assert stored.unreadable and "total-amount" in stored.unreadable and intake.find_file(raw, SID)
    lines = reissue.screen(raw, wh.path)
    assert len(lines) == 1 and "unreadable settlement file, on hold" in lines[0]
    assert reissue.screen(raw, wh.path) == []  # once
    with wh.write() as con:
        assert set(holds.held(con)) == {SID}
        letters = deadletters.open_letters(con, flow="settlement")
    assert [d.record_key for d in letters] == [f"{SID}:unreadable"]
    # Amazon (or the user) brings a good file: the hold is released
    intake.store(V2_SAMPLE, raw, origin="import")
    assert reissue.screen(raw, wh.path) == []
    with wh.read() as con:
        assert holds.held(con) == {}


def test_a_file_kept_before_validation_is_screened_once(world):
    raw, wh, _ = world
    cut = "".join(V2_SAMPLE.read_text().splitlines(keepends=True)[:12])
    intake.store_text(cut, raw, origin="sp-api", check="none")  # an older data dir kept it unread
    assert "validated" not in intake.manifest(raw, SID)
    assert len(reissue.screen(raw, wh.path)) == 1
    assert intake.manifest(raw, SID)["unreadable"]


def test_reissue_after_posting_is_held_by_default_and_shown(world, tmp_path):
    raw, wh, sage = world
    intake.store(V2_SAMPLE, raw, origin="import")
    assert _run(raw, wh, sage).passed and len(sage.journals) == 2
    assert reissue.screen(raw, wh.path) == []  # posted, same file: nothing to say
    _reissue(raw, tmp_path)
    lines = reissue.screen(raw, wh.path)
    assert len(lines) == 1 and "changed after posting" in lines[0] and "total 582.89 in Sage, 583.89 in the new file" in lines[0]
    assert "on hold" in lines[0]
    assert reissue.screen(raw, wh.path) == []  # detected once
    with wh.write() as con:
        assert holds.held(con).get(SID, "").startswith("reissue on hold, changed after posting: total 582.89")
        assert [d.record_key for d in deadletters.open_letters(con, flow="settlement")] == [f"{SID}:reissue"]
    # the posted file comes back: withdrawn, nothing to correct
    (tmp_path / "orig.txt").write_text(V2_SAMPLE.read_text())
    intake.store(tmp_path / "orig.txt", raw, origin="import")
    lines = reissue.screen(raw, wh.path)
    assert len(lines) == 1 and "withdrawn" in lines[0]
    with wh.read() as con:
        assert holds.held(con) == {}


def test_reissue_with_difference_posts_one_difference_journal(world, tmp_path, monkeypatch):
    raw, wh, sage = world
    intake.store(V2_SAMPLE, raw, origin="import")
    _run(raw, wh, sage)
    before_4000 = _sage_net(sage, "4000")
    _reissue(raw, tmp_path)
    with wh.write() as con:  # detected under hold first, then someone decides: reissue: difference
        reissue.detect(con, raw, "hold")
        changes = reissue.detect(con, raw, "difference")
        assert [c.status for c in changes] == ["correcting"]
        assert reissue.correcting(con) == [SID] and holds.held(con) == {}
    outcome = _run(raw, wh, sage)
    assert outcome.passed, outcome.description
    diffs = [ref for ref in sage.journals if ref.startswith(f"AMZ-{SID}-R")]
    assert len(diffs) == 1
    journal = sage.journals[diffs[0]][1]
    assert journal.description == f"AMZ {SID} reissue"
    assert _sage_net(sage, "4000") - before_4000 == Decimal("1.00")
    # every account in Sage now equals the new file's journals
    with wh.read() as con:
        expected = settlements.per_account_totals(con, SID, ("account", "clearing", "deposit", "payable"))
    for account, amount in expected.items():
        assert _sage_net(sage, account) == amount, account
    with wh.write() as con:
        assert [c.status for c in reissue.detect(con, raw, "difference")] == ["corrected"]
        assert reissue.correcting(con) == []
    # once: another run posts nothing more
    calls = sage.calls
    assert _run(raw, wh, sage).passed and sage.calls == calls
    with wh.write() as con:
        assert reissue.detect(con, raw, "difference") == []


def test_reissue_with_reverse_and_repost_posts_a_reversal_and_a_repost_once(world, tmp_path):
    raw, wh, sage = world
    intake.store(V2_SAMPLE, raw, origin="import")
    _run(raw, wh, sage)
    _reissue(raw, tmp_path)
    with wh.write() as con:
        assert [c.status for c in reissue.detect(con, raw, "reverse_and_repost")] == ["correcting"]
    assert _run(raw, wh, sage).passed
    rv = [j for ref, (_, j) in sage.journals.items() if ref.startswith(f"AMZ-{SID}-RV")]
    rn = [j for ref, (_, j) in sage.journals.items() if ref.startswith(f"AMZ-{SID}-RN")]
    assert len(rv) == 1 and len(rn) == 1 and len(sage.journals) == 4
    assert rv[0].description == f"AMZ {SID} reversal" and rn[0].description == f"AMZ {SID} repost"
    with wh.read() as con:
        expected = settlements.per_account_totals(con, SID, ("account", "clearing", "deposit", "payable"))
    # the repost carries the new file's amounts; with the reversal, Sage's books equal the new file
    assert sum((line.credit - line.debit for line in rn[0].lines if line.account == "4000"), Decimal(0)) \
        == expected["4000"]
    for account, amount in expected.items():
        assert _sage_net(sage, account) == amount, account
    calls = sage.calls
    assert _run(raw, wh, sage).passed and sage.calls == calls  # once
    with wh.write() as con:
        assert [c.status for c in reissue.detect(con, raw, "reverse_and_repost")] == ["corrected"]


def test_reissue_setting_is_read_from_accounts_yaml(tmp_path, monkeypatch):
    from sage_amazon.mapping import MappingError

    folder = tmp_path / "maps"
    folder.mkdir()
    from sage_amazon.mapping import mapping_file

    shipped = mapping_file(accounts.FILE).read_text()
    monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(folder))
    assert reissue.mode() == "hold"
    (folder / accounts.FILE).write_text(shipped.replace("reissue: hold", "reissue: difference"))
    assert reissue.mode() == "difference"
    (folder / accounts.FILE).write_text(shipped.replace("reissue: hold", "reissue: sometimes"))
    with pytest.raises(MappingError, match="reissue must be hold, difference or reverse_and_repost, got 'sometimes'"):
        reissue.mode()


def test_discovery_requests_runs_keyed_by_settlement_and_content(tmp_path):
    from sensors.settlements import run_key

    a = run_key(SID, parser.file_sha256(V2_SAMPLE))
    corrected = tmp_path / "c.txt"
    corrected.write_text(_corrected_text())
    b = run_key(SID, parser.file_sha256(corrected))
    assert a.startswith(f"{SID}:") and b.startswith(f"{SID}:") and a != b
    assert json.dumps(a)  # a plain string


def test_reimport_of_a_changed_posted_settlement_is_held_and_listed_without_traceback(tmp_path, data_dir,
                                                                                      monkeypatch):
    from sage_amazon import config
    from sage_amazon.deadletter_cli import deadletter
    from sage_amazon.ledger.cli import settlement_group

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    settings = config.load()
    runner = CliRunner()
    first = runner.invoke(settlement_group, ["import", str(V2_SAMPLE)])
    assert first.exit_code == 0, first.output
    wh = Warehouse(settings.warehouse_path, lock_timeout=10)
    sage = FakeSage()
    assert _run(settings.raw_dir, wh, sage).passed  # posted (what the settlement job does)
    corrected = tmp_path / "corrected.txt"
    corrected.write_text(_corrected_text())
    again = runner.invoke(settlement_group, ["import", str(corrected), "--run"])
    assert "Traceback" not in again.output and again.exception is None or isinstance(again.exception, SystemExit)
    assert again.exit_code == 1  # --run: on hold, not run
    assert "changed after posting" in again.output and "is on hold: not run" in again.output
    listed = runner.invoke(deadletter, ["list", "--flow", "settlement"])
    assert listed.exit_code == 0 and f"{SID}:reissue" in listed.output
    assert "reissue on hold, changed after posting: total 582.89 in Sage, 583.89" in listed.output  # in 80 chars
    replay = runner.invoke(deadletter, ["replay", "--flow", "settlement"])
    assert replay.exit_code == 0 and f"on hold, not replayed: {SID}:reissue" in replay.output
    assert len(sage.journals) == 2  # Sage untouched


def test_discovery_holds_a_reissue_or_requests_it_under_a_new_key_and_holds_a_bad_report(tmp_path, data_dir,
                                                                                         monkeypatch):
    import dagster as dg

    from sage_amazon import config
    from sage_amazon.amazon import reports
    from sage_amazon.mapping import mapping_file
    from sensors.settlements import evaluate_discovery

    other = "".join(V2_SAMPLE.read_text().replace(SID, "55500011122").splitlines(keepends=True)[:12])  # cut
    documents = {"D1": V2_SAMPLE.read_text(), "D2": _corrected_text(), "D3": other}
    monkeypatch.setattr(reports, "download_document", lambda api, doc: documents[doc])
    listed: list[dict] = []

    class Api:
        settings = None

        def call(self, *args, **kwargs):
            from types import SimpleNamespace

            return SimpleNamespace(payload={"reports": list(listed)}, next_token=None)

    def report(rid, doc, created):
        return {"reportId": rid, "reportDocumentId": doc, "reportType": intake.V2_REPORT,
                "createdTime": created, "marketplaceIds": ["ATVPDKIKX0DER"], "dataEndTime": created}

    settings = config.load()
    wh = Warehouse(settings.warehouse_path, lock_timeout=10)
    with dg.instance_for_test() as instance:
        def discover(cursor):
            context = dg.build_sensor_context(instance=instance, cursor=cursor)
            return evaluate_discovery(context, Api(), settings.raw_dir, instance,
                                      warehouse_path=settings.warehouse_path)

        listed.append(report("R1", "D1", "2026-07-03T00:00:00Z"))
        first = discover(None)
        assert [r.run_key for r in first.run_requests] == [f"{SID}:{parser.file_sha256(V2_SAMPLE)[:16]}"]
        assert _run(settings.raw_dir, wh, FakeSage()).passed  # the run posts it
        # Amazon lists a new report for the same settlement, and a report it cut short
        listed.extend([report("R2", "D2", "2026-07-05T00:00:00Z"), report("R3", "D3", "2026-07-05T00:00:00Z")])
        second = discover(first.cursor)
        assert second.run_requests == []  # reissue: hold (default); the cut report: unreadable, held
        with wh.write() as con:
            assert set(holds.held(con)) == {SID, "55500011122"}
        # someone decides: reissue: difference -> the next tick requests the reissue, under its content's key
        maps = tmp_path / "maps"
        maps.mkdir()
        (maps / accounts.FILE).write_text(mapping_file(accounts.FILE).read_text().replace("reissue: hold",
                                                                                         "reissue: difference"))
        monkeypatch.setenv("SAGE_AMAZON_MAPPING_DIR", str(maps))
        with wh.write() as con:
            assert [c.status for c in reissue.detect(con, settings.raw_dir)] == ["correcting"]
        from sensors.settlements import reconciliation_requests

        instance.add_dynamic_partitions("settlement_ids", [SID, "55500011122"])
        pending = reconciliation_requests(instance, settings.warehouse_path, "2026-07-06")
        assert [r.partition_key for r in pending] == [SID]  # the reissue to correct; the held cut file is not run
