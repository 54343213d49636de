#!/usr/bin/env bash
# Peak memory of pryv-backup with one very large user (issue #7: peak RSS must not grow with
# the largest user).
#
#   scripts/bench-memory.sh [--events 5000000] [--seed 1] [--backup-only] [--keep]
#
# Generates a database where a single user owns every event (plus 100 MB of attachments,
# events/5 series points and audit rows), then runs `pryv-backup backup` and, unless
# --backup-only, `pryv-backup restore` into an empty database, each under /usr/bin/time -v.
# Prints wall time and the client's peak RSS; PostgreSQL's own memory is not counted.
# Uses PRYV_BACKUP_TEST_PG (a postgresql:// URL without query string) or 127.0.0.1:5432.
# Work files go to $PRYV_BENCH_DIR (default /tmp/pryv-bench-memory).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

EVENTS=5000000
SEED=1
BACKUP_ONLY=
KEEP=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --backup-only) BACKUP_ONLY=1; shift ;;
    --keep) KEEP=1; shift ;;
    *) log "unknown option $1 (use --events N, --seed S, --backup-only, --keep)"; exit 2 ;;
  esac
done

ensure_build_tools
ensure_postgres
[ -x /usr/bin/time ] || { log "installing GNU time"; apt_install time; }

# shellcheck source=scripts/lib/bench.sh
source scripts/lib/bench.sh

WORK=${PRYV_BENCH_DIR:-/tmp/pryv-bench-memory}
rm -rf "$WORK"; mkdir -p "$WORK/core/config"
src=pryvmem_src_$EVENTS; rst=pryvmem_rst_$EVENTS

# run STEP COMMAND...: runs one step under /usr/bin/time -v and prints its line.
run() {
  local step=$1; shift
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  local status=ok
  /usr/bin/time -v -o "$WORK/$step.time" "$@" >"$WORK/$step.log" 2>&1 || status=FAILED
  awk -F': ' -v step="$step" -v loadavg="$load" -v status="$status" '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = (n == 3 ? p[1] * 3600 + p[2] * 60 + p[3] : p[1] * 60 + p[2]) }
    /Maximum resident set size/ { rss = $2 / 1024 }
    END { printf "%-10s wall %8.1f s  peak RSS %6.0f MB  load at start %s  %s\n", step, wall, rss, loadavg, status }' \
    "$WORK/$step.time"
  [ "$status" = ok ] || { log "$step failed: see $WORK/$step.log"; exit 1; }
}

fresh_db "$src"
log "generating $EVENTS events for one user"
run generate "$BENCH" generate --pg "$(db_url "$src")" --users 1 --events "$EVENTS" --seed "$SEED" \
  --big-user-share 1 --attachment-bytes 100000000 \
  --series-points $(( EVENTS / 5 )) --audit-rows $(( EVENTS / 5 ))
echo "raw: $(psql_admin "SELECT pg_database_size('$src')") bytes (pg_database_size)"
mapfile -t src_args < <(pryv_storage_args "$src")
log "backup"
run backup "$PRYV" backup --output "$WORK/backup" "${src_args[@]}"
echo "backup: $(du -sb "$WORK/backup" | cut -f1) bytes, $(grep -o '[0-9]* items' "$WORK/backup.log" || true)"
if [ -z "$BACKUP_ONLY" ]; then
  fresh_db "$rst"
  mapfile -t rst_args < <(pryv_storage_args "$rst")
  log "restore"
  run restore "$PRYV" restore --restore "$WORK/backup" "${rst_args[@]}"
fi

if [ -z "$KEEP" ]; then
  for db in "$src" "$rst"; do psql_admin "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"; done
  rm -rf "$WORK/backup"
fi
echo "(logs and timings in $WORK)"
