#!/usr/bin/env bash
# The test command: set-up (idempotent), build, then every test project against real engines.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
dotnet build Tokage.sln -c Release -nologo -v quiet
log="$(mktemp)"
# The engines under test fsync every write (Redis appendfsync always, PostgreSQL commits): on a shared disk those waits,
# not the code under test, set the suite's pace. Where the machine has a tmpfs, their data (and every test's temporary
# files) live there for the run; TOKAGE_TEST_TMPDIR=disk keeps the system's temporary directory.
if [[ "${TOKAGE_TEST_TMPDIR:-}" != "disk" && -d /dev/shm && -w /dev/shm ]]; then
  TMPDIR="$(mktemp -d /dev/shm/tokage-tests.XXXXXX)"
  export TMPDIR
fi
trap 'rm -f "$log"; [[ "${TMPDIR:-}" == /dev/shm/tokage-tests.* ]] && rm -rf "$TMPDIR"' EXIT
status=0
dotnet test Tokage.sln -c Release --no-build -nologo --logger "console;verbosity=normal" "$@" | tee "$log" || status=$?
# One closing line over all test projects.
passed=$(awk '/^ +Passed: [0-9]+$/ {s += $2} END {print s + 0}' "$log")
failed=$(awk '/^ +Failed: [0-9]+$/ {s += $2} END {print s + 0}' "$log")
echo "tests: ${passed} passed, ${failed} failed"
# In CI (or with TOKAGE_BENCH_SMOKE=1), every benchmark's smoke run: it proves they run; it asserts no speed.
if [[ "${CI:-}" == "true" || "${TOKAGE_BENCH_SMOKE:-}" == "1" ]]; then
  smoke=0
  dotnet run -c Release --no-build --project bench/Tokage.Bench -- all --quick || smoke=$?
  echo "bench smoke (all --quick): exit ${smoke}"
  [[ "$smoke" == 0 ]] || status=$smoke
fi
exit "$status"
