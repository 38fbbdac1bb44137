#!/usr/bin/env bash
# The test command: set-up (idempotent), build, then every test project against real engines.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
dotnet build Tokage.sln -c Release -nologo -v quiet
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
dotnet test Tokage.sln -c Release --no-build -nologo --logger "console;verbosity=normal" "$@" | tee "$log" || status=$?
# One closing line over all test projects.
passed=$(awk '/^ +Passed: [0-9]+$/ {s += $2} END {print s + 0}' "$log")
failed=$(awk '/^ +Failed: [0-9]+$/ {s += $2} END {print s + 0}' "$log")
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
