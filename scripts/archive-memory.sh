#!/usr/bin/env bash
# Proves the archive writer/reader stream: writes and reads back a 1 GiB user with 1 MiB
# chunks and prints the peak RSS it saw (release build; takes a minute or two).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p pryv-backup --test archive_memory -- --ignored --nocapture
