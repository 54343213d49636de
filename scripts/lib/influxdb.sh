# InfluxDB 1.x for pryv-backup's series tests. Sourced, not run (after scripts/lib/services.sh
# when available). Listens on loopback only; data lives in a throwaway directory.

# A TCP port on 127.0.0.1 nobody listens on, from $1 upwards.
influx_free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

influx_answers() { curl -fsS -o /dev/null "$1/ping" 2>/dev/null; }

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
  local url="http://127.0.0.1:$http_port" i
  for i in $(seq 1 100); do
    if influx_answers "$url"; then
      export PRYV_BACKUP_TEST_INFLUX="$url"
      return
    fi
    sleep 0.2
  done
  printf '[pryv-backup] InfluxDB did not answer on %s; see %s/log\n' "$url" "$dir" >&2
  return 1
}
