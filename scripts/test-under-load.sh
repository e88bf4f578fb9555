#!/usr/bin/env bash
# Runs the test suite several times in a row with CPU burners beside it (scripts/load.js) and
# reports each run's result and duration: the proof that the suite holds on a busy machine.
#
#   ./scripts/test-under-load.sh              3 runs of `npm test` with 2 burners
#   ./scripts/test-under-load.sh 5            5 runs
#   ./scripts/test-under-load.sh 3 -- node scripts/run-unit-tests.js test/unit/worktree/crash.test.ts
#                                             3 runs of a subset (anything after --)
#   LOAD_BURNERS=4 ./scripts/test-under-load.sh
#
# Each run's output goes to test-results/under-load/run-<n>.log; the table at the end says which
# runs failed. Exit status: 0 only when every run passed. Set-up (apt, npm ci) is not part of a
# run: use ./scripts/test.sh once first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-3}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "test-under-load.sh: the number of runs must be a whole number of at least 1, got \"$runs\"" >&2
  exit 2
fi
shift || true
if [ "${1:-}" = "--" ]; then shift; fi
if [ "$#" -gt 0 ]; then command=("$@"); else command=(npm test); fi
burners="${LOAD_BURNERS:-2}"

logs="test-results/under-load"
mkdir -p "$logs"
summary="$logs/summary.txt"

load_pid=""
stop_load() {
  if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
    kill -TERM "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
  fi
  load_pid=""
}
trap stop_load EXIT
trap 'exit 130' INT TERM

# The load runs during every run and is started before the first one: wait for its "running" line
# so the first run does not start on an idle machine.
load_log="$logs/load.log"
node scripts/load.js --burners "$burners" >"$load_log" 2>&1 &
load_pid=$!
for _ in $(seq 1 300); do
  grep -q "burners running" "$load_log" 2>/dev/null && break
  kill -0 "$load_pid" 2>/dev/null || { cat "$load_log" >&2; echo "test-under-load.sh: the load generator did not start" >&2; exit 1; }
  sleep 0.1
done
grep -q "burners running" "$load_log" || { echo "test-under-load.sh: the load generator did not start within 30 s" >&2; exit 1; }

echo "== ${runs} run(s) of: ${command[*]}"
echo "== beside them: $(head -n1 "$load_log")"
results=()
failed=0
for run in $(seq 1 "$runs"); do
  log="$logs/run-$run.log"
  echo "-- run $run/$runs started $(date -u +%H:%M:%S) (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')), log: $log"
  started=$(date +%s)
  if "${command[@]}" >"$log" 2>&1; then status=PASS; else status="FAIL (exit $?)"; failed=$((failed + 1)); fi
  seconds=$(( $(date +%s) - started ))
  line="run $run/$runs: $status in ${seconds} s"
  results+=("$line")
  echo "-- $line"
  if [ "$status" != PASS ]; then
    # The failing tests' names, so the summary says what broke without opening the log.
    grep -E "^\s*not ok |✘|✖|timed out|^npm error" "$log" | head -n 20 | sed 's/^/     /' || true
  fi
done
stop_load

{
  echo "${runs} run(s) of: ${command[*]} with ${burners} burners"
  printf '%s\n' "${results[@]}"
  echo "$((runs - failed)) passed, ${failed} failed"
} | tee "$summary"
[ "$failed" -eq 0 ]
