#!/usr/bin/env bash
# Runs pryv-backup's whole test suite on a Debian machine, installing and starting what the
# tests need when it is missing (Rust toolchain aside): build tools, PostgreSQL, InfluxDB 1.x,
# an S3 server (Garage, built once from crates.io and cached in ~/.cache/pryv-backup) and
# Node.js (for the encryption cross-check). Every service listens on loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh
# shellcheck source=scripts/lib/influxdb.sh
source scripts/lib/influxdb.sh
# shellcheck source=scripts/lib/garage.sh
source scripts/lib/garage.sh

ensure_build_tools
ensure_node
ensure_postgres   # exports PRYV_BACKUP_TEST_PG
ensure_influxdb   # exports PRYV_BACKUP_TEST_INFLUX
ensure_garage     # exports PRYV_BACKUP_TEST_S3_{ENDPOINT,BUCKET,KEY_ID,SECRET}

cargo test --workspace --all-targets --locked
