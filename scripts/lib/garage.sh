# Garage (an S3-compatible object store) for pryv-backup's S3 tests. Sourced by
# scripts/test.sh; run directly (`bash scripts/lib/garage.sh`) it starts one and prints the
# variables to export. Listens on loopback only; data lives in a throwaway directory.
#
# Garage is built from crates.io once (`cargo install garage`, ~11 min on 2 cores) into
# ~/.cache/pryv-backup/tools, and reused from there.

GARAGE_VERSION=2.5.0
GARAGE_TOOLS="${PRYV_BACKUP_TOOLS:-$HOME/.cache/pryv-backup/tools}"
GARAGE_DIR="${PRYV_BACKUP_GARAGE_DIR:-/tmp/pryv-backup-garage}"
GARAGE_BUCKET=pryv-backup-test

garage_log() { printf '[pryv-backup] %s\n' "$*" >&2; }

garage_bin() {
  if [ -n "${PRYV_BACKUP_GARAGE_BIN:-}" ]; then echo "$PRYV_BACKUP_GARAGE_BIN"; return; fi
  if [ -x "$GARAGE_TOOLS/bin/garage" ]; then echo "$GARAGE_TOOLS/bin/garage"; return; fi
  command -v garage 2>/dev/null || return 1
}

garage_free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

garage_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Exports PRYV_BACKUP_TEST_S3_{ENDPOINT,BUCKET,KEY_ID,SECRET}: those already given, else a
# Garage started here (built first when missing), with one bucket and one key for the tests.
ensure_garage() {
  if [ -n "${PRYV_BACKUP_TEST_S3_ENDPOINT:-}" ]; then
    garage_log "S3: using PRYV_BACKUP_TEST_S3_ENDPOINT"
    return
  fi
  local bin
  if ! bin=$(garage_bin); then
    garage_log "building Garage $GARAGE_VERSION into $GARAGE_TOOLS (once; about 11 minutes)"
    cargo install garage --locked --version "$GARAGE_VERSION" --root "$GARAGE_TOOLS" >&2
    bin="$GARAGE_TOOLS/bin/garage"
  fi
  # One started earlier and still answering is reused.
  if [ -f "$GARAGE_DIR/env" ] && "$bin" -c "$GARAGE_DIR/garage.toml" status >/dev/null 2>&1; then
    # shellcheck disable=SC1091
    source "$GARAGE_DIR/env"
    return
  fi
  if [ -f "$GARAGE_DIR/pid" ]; then kill "$(cat "$GARAGE_DIR/pid")" 2>/dev/null || true; fi
  rm -rf "$GARAGE_DIR"
  mkdir -p "$GARAGE_DIR"
  chmod 700 "$GARAGE_DIR"
  local s3_port rpc_port
  s3_port=$(garage_free_port 53900)
  rpc_port=$(garage_free_port $((s3_port + 1)))
  cat >"$GARAGE_DIR/garage.toml" <<EOF
metadata_dir = "$GARAGE_DIR/meta"
data_dir = "$GARAGE_DIR/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(garage_hex 32)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"
EOF
  garage_log "S3: starting Garage in $GARAGE_DIR on port $s3_port"
  local g=("$bin" -c "$GARAGE_DIR/garage.toml") i
  nohup "${g[@]}" server >"$GARAGE_DIR/log" 2>&1 &
  echo $! >"$GARAGE_DIR/pid"
  for i in $(seq 1 100); do
    "${g[@]}" status >/dev/null 2>&1 && break
    [ "$i" = 100 ] && { garage_log "Garage did not start; see $GARAGE_DIR/log"; return 1; }
    sleep 0.2
  done
  local node key_id secret
  node=$("${g[@]}" node id -q 2>/dev/null | cut -c1-64)
  "${g[@]}" layout assign -z dc1 -c 1G "$node" >/dev/null
  "${g[@]}" layout apply --version 1 >/dev/null
  key_id="GK$(garage_hex 12)"
  secret=$(garage_hex 32)
  "${g[@]}" key import --yes -n pryv-backup-test "$key_id" "$secret" >/dev/null
  "${g[@]}" bucket create "$GARAGE_BUCKET" >/dev/null
  "${g[@]}" bucket allow --read --write --owner "$GARAGE_BUCKET" --key pryv-backup-test >/dev/null
  cat >"$GARAGE_DIR/env" <<EOF
export PRYV_BACKUP_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export PRYV_BACKUP_TEST_S3_BUCKET=$GARAGE_BUCKET
export PRYV_BACKUP_TEST_S3_KEY_ID=$key_id
export PRYV_BACKUP_TEST_S3_SECRET=$secret
EOF
  chmod 600 "$GARAGE_DIR/env"
  # shellcheck disable=SC1091
  source "$GARAGE_DIR/env"
}

# Stops the Garage that ensure_garage started.
stop_garage() {
  [ -f "$GARAGE_DIR/pid" ] || return 0
  kill "$(cat "$GARAGE_DIR/pid")" 2>/dev/null || true
  rm -f "$GARAGE_DIR/pid" "$GARAGE_DIR/env"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_garage
  env | grep '^PRYV_BACKUP_TEST_S3_' | sed 's/^/export /'
fi
