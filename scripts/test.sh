#!/usr/bin/env bash
# Runs pryv-backup's whole test suite on a Debian machine, installing and starting what the
# tests need when it is missing (Rust toolchain aside): build tools and a PostgreSQL server.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh

ensure_build_tools
ensure_postgres   # exports PRYV_BACKUP_TEST_PG

cargo test --workspace --all-targets --locked
