#!/usr/bin/env bash
# Runs the whole system under the Aspire AppHost (dashboard at http://localhost:18888) after set-up.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
exec dotnet run --project Tokage.AppHost "$@"
