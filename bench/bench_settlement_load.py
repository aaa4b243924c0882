"""Settlement load benchmark: a 1,000,000-line V2 settlement from file to validated journal lines,
against DuckDB alone reading the same file (read_csv with its sniffer into a table).

Each measurement runs in a fresh child process (cold DuckDB, same warm page cache), alternating,
best of 5, once into an in-memory DuckDB and once into a DuckDB file (as the warehouse). Peak memory
is the largest max RSS of the pipeline's child processes. Prints JSON lines for bench/run.py.

    .venv/bin/python bench/bench_settlement_load.py [--lines N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _connect(database: str):
    import duckdb

    if database != ":memory:" and os.path.exists(database):
        os.unlink(database)
    return duckdb.connect(database)


def child_baseline(path: str, database: str = ":memory:") -> dict:
    con = _connect(database)
    started = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', delim='\t', header=true)")
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows}


def child_pipeline(path: str, database: str = ":memory:") -> dict:
    from sage_amazon.amazon import settlement as parser
    from sage_amazon.ledger import settlements
    from sage_amazon.mapping import accounts

    amap = accounts.load()  # YAML read outside the timing: configuration, not data
    con = _connect(database)
    for schema in ("raw", "ref", "staging", "marts"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    started = time.perf_counter()
    accounts.write_table(con, amap, "x3")
    summary = parser.land(con, path)
    settlements.build(con, summary.settlement_id, settlements.JOURNAL_MODELS)
    blocking = [settlements.check_totals(con, summary.settlement_id),
                settlements.check_currency(con, summary.settlement_id),
                settlements.check_balanced(con, summary.settlement_id)]
    journals = settlements.journals(con, summary.settlement_id)
    seconds = time.perf_counter() - started
    failed = [o.description for o in blocking if not o.passed]
    if failed:
        raise SystemExit(f"validation failed: {failed}")
    return {"seconds": seconds, "rows": summary.line_count, "journals": len(journals),
            "journal_lines": sum(len(j.lines) for j in journals)}


def _run_child(kind: str, path: Path, database: str = ":memory:") -> tuple[dict, int]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(path), database],
                            stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} child failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss * 1024  # Linux: KiB


def _file(lines: int) -> Path:
    from sage_amazon.sandbox.amazon.settlement_file import generate_settlement_file

    folder = Path(os.environ.get("SAGE_AMAZON_BENCH_DIR", Path(tempfile.gettempdir()) / "sage-amazon-bench"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"settlement-v2-{lines}.txt"
    if not path.exists():
        print(f"generating {lines} lines into {path} ...", file=sys.stderr, flush=True)
        generate_settlement_file(path, lines, seed=42)
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", nargs=3, metavar=("KIND", "FILE", "DATABASE"))
    args = ap.parse_args()
    if args.child:
        kind, path, database = args.child
        result = child_baseline(path, database) if kind == "baseline" else child_pipeline(path, database)
        print(json.dumps(result))
        return 0
    path = _file(args.lines)
    disk = str(path.with_name("bench-warehouse.duckdb"))
    times: dict[str, list[float]] = {"baseline": [], "pipeline": [], "baseline_disk": [], "pipeline_disk": []}
    peak = 0
    for _ in range(args.repeat):
        base, _ = _run_child("baseline", path)
        ours, rss = _run_child("pipeline", path)
        times["baseline"].append(base["seconds"])
        times["pipeline"].append(ours["seconds"])
        peak = max(peak, rss)
        base_disk, _ = _run_child("baseline", path, disk)
        ours_disk, rss = _run_child("pipeline", path, disk)
        times["baseline_disk"].append(base_disk["seconds"])
        times["pipeline_disk"].append(ours_disk["seconds"])
        peak = max(peak, rss)
    for suffix in (".wal", ""):
        if os.path.exists(disk + suffix):
            os.unlink(disk + suffix)
    best = {k: min(v) for k, v in times.items()}
    print(f"{ours['rows']} lines -> {ours['journals']} journal(s), {ours['journal_lines']} journal lines; "
          f"in memory: duckdb alone {best['baseline']:.3f}s, pipeline {best['pipeline']:.3f}s; "
          f"on disk: duckdb alone {best['baseline_disk']:.3f}s, pipeline {best['pipeline_disk']:.3f}s; "
          f"peak RSS {peak / 2**20:.0f} MiB", file=sys.stderr)
    for label, ours_key, base_key in (("", "pipeline", "baseline"),
                                      (" (on-disk warehouse)", "pipeline_disk", "baseline_disk")):
        print(json.dumps({"name": f"settlement {args.lines:,} lines: file -> validated journal lines{label}",
                          "figure": round(best[ours_key], 3), "unit": "s", "baseline": round(best[base_key], 3),
                          "baseline_name": "duckdb read_csv alone" + (" (on disk)" if label else ""),
                          "ratio": round(best[ours_key] / best[base_key], 3)}))
    print(json.dumps({"name": "settlement load peak memory (max RSS)", "figure": round(peak / 2**20, 1),
                      "unit": "MiB", "baseline": 1024, "baseline_name": "limit 1 GiB",
                      "ratio": round(peak / 2**30, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
