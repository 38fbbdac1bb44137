#!/usr/bin/env bash
# Runs the whole system under the Aspire AppHost (dashboard at http://localhost:18888) after set-up.
# --demo: once everything is up, also creates a demo tenant with 30 days of usage and an owner who signs in to the
# console at http://localhost:8050 (tokage demo; the e-mail and password are printed).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh

demo=0
args=()
for arg in "$@"; do
  if [[ "$arg" == "--demo" ]]; then demo=1; else args+=("$arg"); fi
done

if [[ "$demo" == 0 ]]; then
  exec dotnet run --project Tokage.AppHost "${args[@]}"
fi

dotnet build tools/Tokage.Cli -c Release -nologo -v quiet
dotnet run --project Tokage.AppHost "${args[@]}" &
apphost=$!
trap 'kill -INT "$apphost" 2>/dev/null; wait "$apphost"' INT TERM
echo "[demo] waiting for the console, the control plane and ingestion to be ready…"
for _ in $(seq 1 300); do
  if curl -sf localhost:8050/health >/dev/null && curl -sf localhost:8070/health >/dev/null && curl -sf localhost:8080/health >/dev/null; then
    dotnet run --project tools/Tokage.Cli -c Release --no-build -- demo || echo "[demo] seeding failed; the system keeps running."
    break
  fi
  sleep 1
done
wait "$apphost"
