#!/usr/bin/env bash
# Installs what Tokage needs on a machine without a container runtime: redis-server and PostgreSQL
# from the distro, and the pinned chDB library (ClickHouse as a library) into a user cache.
# Idempotent: a second run only checks. Nothing else downloads at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

CHDB_VERSION="26.5.3"
CHDB_PACKAGE="@chdb/lib-linux-x64-gnu@${CHDB_VERSION}"
# sha256 of libchdb.so inside that package (npm also checks the tarball's sha512 integrity).
CHDB_SHA256="4330da79405733f7572f27c1442f46c03a08301f00859dce0368645731b1e1dc"
CHDB_DIR="${TOKAGE_CHDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tokage/chdb/${CHDB_VERSION}}"

say() { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

need_dotnet() {
  command -v dotnet >/dev/null || fail "the .NET 10 SDK is missing: install it (https://dot.net) and run this again."
}

find_pg_bin() {
  if [ -n "${TOKAGE_PG_BIN:-}" ]; then echo "$TOKAGE_PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

apt_install() {
  local packages=("$@")
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
      return
    fi
    fail "missing distro packages: ${packages[*]}. Install them (sudo apt-get install ${packages[*]}) or run as root, then run this again."
  fi
  command -v apt-get >/dev/null || fail "missing: ${packages[*]}, and no apt-get here; install them with your package manager."
  say "installing ${packages[*]} from the distro…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

ensure_distro_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -n "$(find_pg_bin)" ] && [ -x "$(find_pg_bin)/initdb" ] || missing+=(postgresql)
  command -v npm >/dev/null || missing+=(npm)
  # The ClickHouse-local host decodes zstd request bodies (ClickHouse.Driver's default) with the system libzstd.
  ldconfig -p 2>/dev/null | grep -q 'libzstd.so.1 ' || missing+=(libzstd1)
  # Invoice PDFs (PDFsharp) are set in DejaVu Sans from the system's fonts.
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  # The console formats money and times in each reader's culture (ICU); its browser tests drive Debian's chromium.
  ldconfig -p 2>/dev/null | grep -q 'libicuuc.so' || missing+=(libicu72)
  command -v chromium >/dev/null || missing+=(chromium)
  # The committed alert rules and dashboard are checked by Prometheus' promtool (the prometheus package carries it).
  command -v promtool >/dev/null || missing+=(prometheus)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  # The distro's redis-server unit would hold port 6379; Tokage starts its own instances.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    systemctl stop redis-server || true
  fi
  say "redis-server: $(redis-server --version | awk '{print $3}'), PostgreSQL: $("$(find_pg_bin)/postgres" --version | awk '{print $3}')"
}

ensure_chdb() {
  local lib="$CHDB_DIR/libchdb.so"
  if [ -f "$lib" ] && [ -f "$lib.sha256-ok" ]; then
    say "chDB ${CHDB_VERSION}: $lib"
    return
  fi
  mkdir -p "$CHDB_DIR"
  local tmp
  tmp="$(mktemp -d "$CHDB_DIR/.download.XXXXXX")"
  trap 'rm -rf "$tmp"' RETURN
  say "downloading chDB ${CHDB_VERSION} (${CHDB_PACKAGE}, about 166 MB, 560 MB unpacked) into $CHDB_DIR…"
  (cd "$tmp" && npm pack --silent "$CHDB_PACKAGE" >/dev/null) \
    || fail "could not fetch ${CHDB_PACKAGE} from the npm registry (offline?). Put libchdb.so ${CHDB_VERSION} at $lib, or set TOKAGE_CHDB_LIB, and run this again."
  say "unpacking…"
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/libchdb.so
  local actual
  actual="$(sha256sum "$tmp/package/libchdb.so" | awk '{print $1}')"
  [ "$actual" = "$CHDB_SHA256" ] || fail "libchdb.so checksum mismatch: expected $CHDB_SHA256, got $actual."
  mv "$tmp/package/libchdb.so" "$lib"
  echo "$CHDB_SHA256" > "$lib.sha256-ok"
  say "chDB ${CHDB_VERSION}: $lib (checksum ok)"
}

# The OpenTelemetry JS SDK the OTLP tests export with, pinned by its lock file. Needs node (the distro's npm brings it).
ensure_otlp_js_client() {
  local dir="tests/otlp-js"
  command -v node >/dev/null || apt_install nodejs
  if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"; then
    say "OpenTelemetry JS client: $dir/node_modules"
    return
  fi
  say "installing the OpenTelemetry JS client for the OTLP tests (npm ci in $dir)…"
  (cd "$dir" && npm ci --silent --no-audit --no-fund) || fail "npm ci in $dir failed (is the npm registry reachable?)."
  cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
}

# The TypeScript SDK's build and test tools (tsc, the official OpenAI and Anthropic clients), pinned by its lock file.
ensure_js_sdk_tools() {
  local dir="sdks/js"
  if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"; then
    say "TypeScript SDK tools: $dir/node_modules"
    return
  fi
  say "installing the TypeScript SDK's tools (npm ci in $dir)…"
  (cd "$dir" && npm ci --silent --no-audit --no-fund) || fail "npm ci in $dir failed (is the npm registry reachable?)."
  cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
}

need_dotnet
ensure_distro_packages
ensure_chdb
ensure_otlp_js_client
ensure_js_sdk_tools
say "ready"
