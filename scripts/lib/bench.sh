# Shared by scripts/bench.sh and scripts/bench-memory.sh, sourced after ensure_postgres:
# the PostgreSQL server's coordinates, fresh databases, the release binaries, and the
# install configuration pryv-backup reads (everything in one database; $WORK/core holds no
# config file, so defaults + these overrides), and that install's config file for the core's
# own tool (bench.sh --reference).

ADMIN_URL=$PRYV_BACKUP_TEST_PG
URL_BASE=${ADMIN_URL%/*}
db_url() { printf '%s/%s' "$URL_BASE" "$1"; }
pg_host=$(printf '%s' "$URL_BASE" | sed -E 's#^[a-z]+://([^@/]*@)?##; s#:[0-9]+$##')
pg_port=$(printf '%s' "$URL_BASE" | sed -nE 's#.*:([0-9]+)$#\1#p'); pg_port=${pg_port:-5432}
pg_user=$(printf '%s' "$URL_BASE" | sed -nE 's#^[a-z]+://([^:@/]+)(:[^@]*)?@.*#\1#p'); pg_user=${pg_user:-postgres}
psql_admin() { psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -Atqc "$1"; }
fresh_db() { psql_admin "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"; psql_admin "CREATE DATABASE \"$1\""; }

log "building release binaries"
cargo build --release -q -p pryv-backup-bench -p pryv-backup-cli
BENCH=target/release/pryv-backup-bench
PRYV=target/release/pryv-backup

# pryv_storage_args DATABASE: the CLI arguments of an install kept in DATABASE.
pryv_storage_args() {
  printf '%s\n' --core-dir "$WORK/core" \
    --storages:base:engine=postgresql --storages:file:engine=postgresql \
    --storages:series:engine=postgresql --storages:audit:engine=postgresql \
    --storages:platform:engine=postgresql \
    "--storages:engines:postgresql:host=$pg_host" "--storages:engines:postgresql:port=$pg_port" \
    "--storages:engines:postgresql:user=$pg_user" "--storages:engines:postgresql:database=$1"
}

# reference_config_yaml DATA_DIR: the same install as the core itself reads it (bench.sh
# --reference), minus the database, which each step gives through the environment
# (storages__engines__postgresql__database: boiler reads `__`-separated variables above the
# NODE_ENV file), so that one file serves every source and target. Cleartext platform keys:
# the generator writes them so, and the core's default (hashed) would also want a key.
# DATA_DIR only holds the per-user folders the core makes at start: every storage, attachments
# included, is in PostgreSQL.
reference_config_yaml() {
  cat <<YAML
# Written by pryv-backup's scripts/bench.sh --reference; removed when it exits.
platform:
  piiMode: cleartext
storages:
  base: { engine: postgresql }
  platform: { engine: postgresql }
  series: { engine: postgresql }
  audit: { engine: postgresql }
  file: { engine: postgresql }
  engines:
    postgresql: { host: '$pg_host', port: $pg_port, user: '$pg_user' }
    sqlite: { path: '$1/users' }
    filesystem: { previewsDirPath: '$1/previews' }
YAML
}
