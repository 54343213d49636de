# InfluxDB 1.x for pryv-backup's series tests. Sourced, not run (after scripts/lib/services.sh
# when available). Listens on loopback only; data lives in a throwaway directory.

# A TCP port on 127.0.0.1 nobody listens on, from $1 upwards.
influx_free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

# Whether the server on this loopback port answers `GET /ping` with 204 (no curl needed).
influx_answers() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    read -r _ status _ <&3
    [ "$status" = 204 ]
  ) 2>/dev/null
}

# Exports PRYV_BACKUP_TEST_INFLUX (http://127.0.0.1:PORT): the one already given, else a
# throwaway influxd started here (installing Debian's `influxdb` package when missing).
ensure_influxdb() {
  if [ -n "${PRYV_BACKUP_TEST_INFLUX:-}" ]; then
    printf '[pryv-backup] InfluxDB: using PRYV_BACKUP_TEST_INFLUX\n' >&2
    return
  fi
  if ! command -v influxd >/dev/null; then
    printf '[pryv-backup] installing InfluxDB (Debian package influxdb)\n' >&2
    if declare -F apt_install >/dev/null; then
      apt_install influxdb
    else
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null
    fi
  fi
  local dir="${PRYV_BACKUP_INFLUX_DIR:-/tmp/pryv-backup-influx}"
  local http_port rpc_port
  # One started earlier and still answering is reused.
  if [ -f "$dir/port" ] && influx_answers "$(cat "$dir/port")"; then
    export PRYV_BACKUP_TEST_INFLUX="http://127.0.0.1:$(cat "$dir/port")"
    return
  fi
  http_port=$(influx_free_port 58086)
  rpc_port=$(influx_free_port $((http_port + 1)))
  rm -rf "$dir"
  mkdir -p "$dir"
  cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$http_port"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
EOF
  printf '[pryv-backup] InfluxDB: starting influxd in %s on port %s\n' "$dir" "$http_port" >&2
  nohup influxd -config "$dir/influxdb.conf" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  echo "$http_port" >"$dir/port"
  local url="http://127.0.0.1:$http_port" i
  for i in $(seq 1 100); do
    if influx_answers "$http_port"; then
      export PRYV_BACKUP_TEST_INFLUX="$url"
      return
    fi
    sleep 0.2
  done
  printf '[pryv-backup] InfluxDB did not answer on %s; see %s/log\n' "$url" "$dir" >&2
  return 1
}

# Stops the influxd that ensure_influxdb started (none when PRYV_BACKUP_TEST_INFLUX was given).
stop_influxdb() {
  local pid_file="${PRYV_BACKUP_INFLUX_DIR:-/tmp/pryv-backup-influx}/pid"
  [ -f "$pid_file" ] || return 0
  kill "$(cat "$pid_file")" 2>/dev/null || true
  rm -f "$pid_file" "${pid_file%pid}port"
}
