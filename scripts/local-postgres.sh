#!/usr/bin/env bash
# Runs a local PostgreSQL for the AppHost: initdb on first start, then exec postgres in the foreground
# (the AppHost owns the process; SIGTERM is a fast shutdown). PostgreSQL refuses to run as root, so as
# root the cluster belongs to the 'postgres' system user and the server runs as that user.
# Usage: local-postgres.sh DATA_DIR PORT PASSWORD_FILE
set -euo pipefail
data_dir="$1"; port="$2"; password_file="$3"

bin="${TOKAGE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
[ -x "$bin/postgres" ] || { echo "PostgreSQL server binaries not found (run ./scripts/setup.sh, or set TOKAGE_PG_BIN)." >&2; exit 1; }

as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  owner="${TOKAGE_PG_USER:-postgres}"
  id "$owner" >/dev/null 2>&1 || { echo "running as root needs the '$owner' system user to own the cluster (apt-get install postgresql creates it)." >&2; exit 1; }
  as_owner=(setpriv "--reuid=$owner" "--regid=$(id -g "$owner")" --init-groups --)
  mkdir -p "$data_dir"
  # The server user must reach the data directory through every parent; a clone under /root is not
  # reachable, so the cluster then lives under /var/lib/tokage, one directory per checkout.
  if ! "${as_owner[@]}" test -x "$(dirname "$data_dir")"; then
    data_dir="/var/lib/tokage/postgres-$(realpath "$data_dir" | sha256sum | cut -c1-12)"
    mkdir -p "$data_dir"
    echo "data directory not reachable by '$owner': using $data_dir"
  fi
  chown "$owner" "$data_dir"
  chmod 700 "$data_dir"
  install -o "$owner" -m 600 "$password_file" "$data_dir.pwfile"
  password_file="$data_dir.pwfile"
fi

if [ ! -f "$data_dir/PG_VERSION" ]; then
  echo "initdb: new cluster in $data_dir"
  "${as_owner[@]}" "$bin/initdb" -D "$data_dir" -U postgres --auth=scram-sha-256 \
    --pwfile="$password_file" -E UTF8 --locale=C.UTF-8 >/dev/null
fi
[ "$(id -u)" -eq 0 ] && rm -f "$password_file"

# PostgreSQL writes its whole log, LOG lines included, to stderr; on stdout the dashboard shows it as the
# ordinary log it is, and its own ERROR/FATAL levels still say what is wrong.
exec "${as_owner[@]}" "$bin/postgres" -D "$data_dir" -p "$port" -h 127.0.0.1 \
  -c unix_socket_directories='' -c fsync="${TOKAGE_PG_FSYNC:-on}" 2>&1
