"""Benchmark: generate a 1,000,000-line V2 settlement file; report wall time and peak RSS.

Prints one JSON line per figure: {"name", "figure", "unit", "baseline", "baseline_name", "ratio"}.
Runs the generator in a child process so the peak RSS is the generator's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

LINES = int(os.environ.get("BENCH_SETTLEMENT_LINES", "1000000"))
# Budgets the generator is held to: one minute and 200 MB for a million lines (bounded memory).
TIME_BUDGET_S = 60.0
RSS_BUDGET_MB = 200.0

CHILD = """
import resource, sys
from pathlib import Path
from sage_amazon.sandbox.amazon.settlement_file import generate_settlement_file
generate_settlement_file(Path(sys.argv[1]), int(sys.argv[2]), seed=42)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "settlement.txt")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, out, str(LINES)], check=True, capture_output=True,
                              text=True)
        elapsed = time.perf_counter() - start
        peak_mb = int(proc.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux
        size_mb = os.path.getsize(out) / 1e6
    for name, figure, unit, baseline, baseline_name in (
        ("settlement_generate_1m_lines_time", round(elapsed, 2), "s", TIME_BUDGET_S, "budget"),
        ("settlement_generate_1m_lines_peak_rss", round(peak_mb, 1), "MB", RSS_BUDGET_MB, "budget"),
        ("settlement_generate_1m_lines_file_size", round(size_mb, 1), "MB", None, None),
    ):
        print(json.dumps({"name": name, "figure": figure, "unit": unit, "baseline": baseline,
                          "baseline_name": baseline_name,
                          "ratio": round(figure / baseline, 3) if baseline else None}))


if __name__ == "__main__":
    main()
