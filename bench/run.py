"""`make bench`: runs every bench/bench_*.py and prints one table of figures, baselines and ratios.

Each script prints JSON lines {"name", "figure", "unit", "baseline", "baseline_name", "ratio"}.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tabulate import tabulate


def main() -> int:
    rows, failures = [], []
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        if proc.returncode != 0:
            failures.append((script.name, proc.stderr.strip()[-800:]))
            continue
        for line in proc.stdout.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            fig = json.loads(line)
            ratio = fig.get("ratio")
            rows.append(
                (
                    fig["name"],
                    f"{fig['figure']:.4g} {fig.get('unit', '')}".strip(),
                    f"{fig['baseline']:.4g}" if isinstance(fig.get("baseline"), int | float) else "",
                    fig.get("baseline_name", ""),
                    f"{ratio:.2f}" if isinstance(ratio, int | float) else "",
                )
            )
    print(tabulate(rows, headers=["benchmark", "figure", "baseline", "baseline is", "ratio"]))
    for name, err in failures:
        print(f"\n{name} FAILED:\n{err}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
