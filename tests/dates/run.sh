#!/usr/bin/env bash
# Runs pytest under each of issue 10's machine clocks (libfaketime 0.9.12, built by libfaketime.sh), one
# after the other. The clock STARTS at the instant and keeps running (a fixed offset from the real clock); every
# child process (the sandboxes, `sage-amazon run`, Dagster's subprocesses) inherits it through
# LD_PRELOAD/FAKETIME; TZ is set per clock so that a "local day" used instead of the UTC day shows.
# The monotonic clock stays real (durations, timeouts and sleeps behave). The machine's PostgreSQL server is NOT under
# the fake clock: no test compares its time with ours.
#
#   tests/dates/run.sh [pytest args and paths...]     (default: the whole suite, as `make test` runs it)
#   DATES_CLOCKS="2027-01-01T00:05:00Z@America/Los_Angeles" tests/dates/run.sh tests/orders
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
CLOCKS=${DATES_CLOCKS:-"2026-12-31T23:58:00Z@America/Los_Angeles 2027-01-01T00:05:00Z@America/Los_Angeles \
2027-02-28T23:50:00Z@Asia/Tokyo 2027-03-29T01:30:00Z@Europe/London 2027-05-15T12:00:00Z@UTC"}

# The multi-threaded build (libfaketimeMT): the sandboxes serve from threads.
lib=$(tests/dates/libfaketime.sh) || exit 2

failed=()
total_started=$(date +%s)
for spec in $CLOCKS; do
  instant=${spec%@*}
  tz=${spec#*@}
  offset=$(( $(date -u -d "$instant" +%s) - $(date -u +%s) ))
  started=$(date +%s)
  echo "=== clock $instant (TZ=$tz) ==="
  TZ=$tz FAKETIME="+${offset}s" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$lib" \
    "$PY" -m pytest -q ${DATES_PYTEST_FLAGS--n 4 --dist loadfile} -p no:cacheprovider "$@"
  rc=$?
  echo "=== clock $instant (TZ=$tz): exit $rc in $(( $(date +%s) - started )) s ==="
  [ $rc -eq 0 ] || failed+=("$instant@$tz")
done
echo "=== $(( $(date +%s) - total_started )) s for every clock ==="
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under: ${failed[*]}" >&2
  exit 1
fi
echo "passed under every clock: $CLOCKS"
