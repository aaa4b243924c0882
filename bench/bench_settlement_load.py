"""Settlement load benchmark: a 1,000,000-line V2 settlement from file to validated journal lines,
against DuckDB alone reading the same file (read_csv with its sniffer into a table).

Each measurement runs in a fresh child process (cold DuckDB, same warm page cache), alternating,
best of 3. Peak memory is the child's max RSS for the full pipeline. Prints JSON lines for bench/run.py.

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


def child_baseline(path: str) -> dict:
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', delim='\t', header=true)")
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows}


def child_pipeline(path: str) -> dict:
    import duckdb

    from sage_amazon.amazon import settlement as parser
    from sage_amazon.ledger import settlements
    from sage_amazon.mapping import accounts

    amap = accounts.load()  # YAML read outside the timing: configuration, not data
    con = duckdb.connect()
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


def _run_child(kind: str, path: Path) -> tuple[dict, int]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(path)], stdout=subprocess.PIPE,
                            text=True, cwd=str(ROOT))
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
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "FILE"))
    args = ap.parse_args()
    if args.child:
        kind, path = args.child
        result = child_baseline(path) if kind == "baseline" else child_pipeline(path)
        print(json.dumps(result))
        return 0
    path = _file(args.lines)
    base_times, ours_times, peak = [], [], 0
    for _ in range(args.repeat):
        base, _ = _run_child("baseline", path)
        ours, rss = _run_child("pipeline", path)
        base_times.append(base["seconds"])
        ours_times.append(ours["seconds"])
        peak = max(peak, rss)
    baseline, figure = min(base_times), min(ours_times)
    print(f"{ours['rows']} lines -> {ours['journals']} journal(s), {ours['journal_lines']} journal lines; "
          f"duckdb alone {baseline:.3f}s, pipeline {figure:.3f}s, ratio {figure / baseline:.2f}, "
          f"peak RSS {peak / 2**20:.0f} MiB", file=sys.stderr)
    print(json.dumps({"name": f"settlement {args.lines:,} lines: file -> validated journal lines",
                      "figure": round(figure, 3), "unit": "s", "baseline": round(baseline, 3),
                      "baseline_name": "duckdb read_csv alone", "ratio": round(figure / baseline, 3)}))
    print(json.dumps({"name": "settlement load peak memory (max RSS)", "figure": round(peak / 2**20, 1),
                      "unit": "MiB", "baseline": 1024, "baseline_name": "limit 1 GiB",
                      "ratio": round(peak / 2**30, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
