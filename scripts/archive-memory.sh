#!/usr/bin/env bash
# Proves the archive writer/reader stream: writes and reads back a 1 GiB user with 1 MiB
# chunks and prints the peak RSS it saw; then 0.5 GiB into an S3 bucket (Garage, started by
# scripts/lib/garage.sh) through multipart uploads (release build; a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/garage.sh
source scripts/lib/garage.sh
ensure_garage
# One process per test: each peak RSS is its own.
for test in archive_memory_is_bounded_by_a_chunk s3_archive_memory_is_bounded_by_upload_parts; do
  cargo test --release -p pryv-backup --test archive_memory -- --ignored --nocapture --exact "$test"
done
