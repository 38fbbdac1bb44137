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
# A run starts a few hundred .NET processes (services, hosts, tools) on two cores: workstation GC (not a server GC heap
# and thread per core in each) and no tiered-PGO instrumentation keep their start-up and idle cost down. Deployed
# services keep the runtime's defaults.
export DOTNET_gcServer="${DOTNET_gcServer:-0}" DOTNET_TieredPGO="${DOTNET_TieredPGO:-0}"
# Most of the suite's CPU is those processes starting (measured: 2-4 CPU-seconds each, most of it JIT); without call
# counting, methods stay at their first (quick JIT or ReadyToRun) code instead of being compiled again once warm, and
# loops still reach optimized code through on-stack replacement. It cut one project's CPU by a quarter. The benchmark
# smoke below runs with the runtime's defaults.
export DOTNET_TC_CallCounting="${DOTNET_TC_CallCounting:-0}"
# The test clusters of PostgreSQL (under /var/lib/tokage when run as root, where tmpfs is out of the postgres user's
# reach) write their WAL to the kernel on every commit as always, without waiting for the disk: a killed server loses
# nothing (the tests kill servers, never the machine). scripts/local-postgres.sh keeps fsync=on otherwise.
export TOKAGE_PG_FSYNC="${TOKAGE_PG_FSYNC:-off}"
status=0
dotnet test Tokage.sln -c Release --no-build -nologo --logger "console;verbosity=normal" "$@" | tee "$log" || status=$?
# One closing line over all test projects.
passed=$(awk '/^ +Passed: [0-9]+$/ {s += $2} END {print s + 0}' "$log")
failed=$(awk '/^ +Failed: [0-9]+$/ {s += $2} END {print s + 0}' "$log")
echo "tests: ${passed} passed, ${failed} failed"
# In CI (or with TOKAGE_BENCH_SMOKE=1), every benchmark's smoke run: it proves they run; it asserts no speed.
# CI runs the main paths' benchmarks (ingest, processor, query, billing, audit); TOKAGE_BENCH_SMOKE=all runs every one.
if [[ "${CI:-}" == "true" || -n "${TOKAGE_BENCH_SMOKE:-}" ]]; then
  unset DOTNET_TC_CallCounting
  smoke=0
  if [[ "${TOKAGE_BENCH_SMOKE:-}" == "all" ]]; then
    dotnet run -c Release --no-build --project bench/Tokage.Bench -- all --quick || smoke=$?
  else
    for scenario in ingest processor query billing audit; do
      dotnet run -c Release --no-build --project bench/Tokage.Bench -- "$scenario" --quick || smoke=$?
    done
  fi
  echo "bench smoke (${TOKAGE_BENCH_SMOKE:-ci} --quick): exit ${smoke}"
  [[ "$smoke" == 0 ]] || status=$smoke
fi
exit "$status"
