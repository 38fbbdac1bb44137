#!/usr/bin/env bash
# The test command: set-up (idempotent), build, then every test project against real engines.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
dotnet build Tokage.sln -c Release -nologo -v quiet
dotnet test Tokage.sln -c Release --no-build -nologo --logger "console;verbosity=normal" "$@"
