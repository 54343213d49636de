# Shared helpers for scripts/: install and start what pryv-backup's tests and benches need.
# Sourced, not run. Every service listens on loopback only.

log() { printf '[pryv-backup] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_build_tools() {
  command -v cc >/dev/null || { log "installing build tools"; apt_install build-essential pkg-config; }
  command -v cargo >/dev/null || { log "cargo is missing: install Rust with rustup first (https://rustup.rs)"; exit 1; }
}

pg_answers() { pg_isready -q -h "$1" -p "$2" 2>/dev/null; }

# Chooses the PostgreSQL the tests use and exports PRYV_BACKUP_TEST_PG (a libpq URL):
# the one already given, else a server on 127.0.0.1:5432, else a throwaway cluster started here.
ensure_postgres() {
  if [ -n "${PRYV_BACKUP_TEST_PG:-}" ]; then log "PostgreSQL: using PRYV_BACKUP_TEST_PG"; return; fi
  command -v pg_isready >/dev/null || { log "installing PostgreSQL"; apt_install postgresql postgresql-client; }
  if pg_answers 127.0.0.1 5432 && psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    export PRYV_BACKUP_TEST_PG="postgresql://postgres@127.0.0.1:5432/postgres"
    log "PostgreSQL: using the server on 127.0.0.1:5432"
    return
  fi
  local bindir; bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  local dir="${PRYV_BACKUP_PG_DIR:-/tmp/pryv-backup-pg}" port=55432
  if ! pg_answers 127.0.0.1 "$port"; then
    log "PostgreSQL: starting a throwaway cluster in $dir on port $port"
    rm -rf "$dir"; mkdir -p "$dir"
    local run=(); [ "$(id -u)" = 0 ] && { chown postgres: "$dir"; run=(runuser -u postgres --); }
    "${run[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
    "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -o "-h 127.0.0.1 -p $port -k $dir" -w start >/dev/null
  fi
  export PRYV_BACKUP_TEST_PG="postgresql://postgres@127.0.0.1:$port/postgres"
}

ensure_node() {
  command -v node >/dev/null || { log "installing Node.js"; apt_install nodejs; }
}
