#!/usr/bin/env bash
# Benchmarks pryv-backup against pg_dump/pg_restore on generated PostgreSQL platforms.
#
#   scripts/bench.sh [--events 200000,1000000] [--users N[,N...]] [--seed 1] [--repeat 1] [--keep]
#                    [--reference CORE]
#
# For each size (with --users: each number of users, at the one --events size): a fresh database is generated (pryv-backup-bench generate), then on that same
# database: pryv-backup backup (full), pg_dump -Fc, pg_dump -Fd -j 2, pryv-backup restore into
# an empty database (plain, then with --verify-integrity into another), pg_restore and
# pg_restore -j 2 into two more, a digest comparison of every restored database with the
# source, 1% of the events changed (pryv-backup-bench touch), and an incremental backup.
# Raw data = pg_database_size of the generated database; MB/s = raw MB / wall seconds.
# Peak RSS is the client process's (/usr/bin/time -v); PostgreSQL's own work is not in it.
# Each timed step starts after a sync, so that it waits for no write-back of an earlier step.
# --repeat N runs every backup and restore step N times, in turns (step after step, then
# again), each restore into a new empty database; the table gives the median wall time and
# lists every run's.
# --users 20,20000,100000 --events 200000 spreads the same events over each number of users
# (without it: events/1000 users, at least 10), and prints each step's time per user added
# between successive shapes: the per-user overhead, in microseconds.
# --reference CORE also times the core's own tool on the same source database: CORE is an
# open-pryv.io checkout with its dependencies installed, run with $PRYV_BENCH_NODE (default
# `node`; the core wants Node 24). reference-backup is `bin/backup.js --output`,
# reference-restore is `bin/backup.js --restore` of that archive into a new database that the
# core's `bin/migrate.js up` prepared first (untimed: tables and migrations, as a first boot of
# the core leaves them); its digest is compared like the others, and the ratios
# backup/reference backup and restore/reference restore are printed. bin/backup.js takes no
# --config, so a config file named pryv-backup-bench-<pid>-config.yml is written into
# CORE/config/ for NODE_ENV to pick, and removed when this script exits, whatever the outcome.
# Uses PRYV_BACKUP_TEST_PG (a postgresql:// URL without query string) or 127.0.0.1:5432.
# Work files go to $PRYV_BENCH_DIR (default /tmp/pryv-bench); --keep keeps them and the databases.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

SIZES=200000,1000000
SEED=1
KEEP=
REPEAT=1
USERS=
REFERENCE=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) SIZES=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --reference) REFERENCE=$2; shift 2 ;;
    *) log "unknown option $1 (use --events N[,N...], --users N[,N...], --seed S, --repeat N, --keep, --reference CORE)"; exit 2 ;;
  esac
done

if [ -n "$REFERENCE" ]; then
  # Absolute: the steps run from the repository, and bin/backup.js is given by path.
  REFERENCE=$(cd "$REFERENCE" && pwd)
  REF_NODE=${PRYV_BENCH_NODE:-node}
  [ -f "$REFERENCE/bin/backup.js" ] && [ -f "$REFERENCE/bin/migrate.js" ] && [ -d "$REFERENCE/node_modules" ] \
    || { log "--reference $REFERENCE: not an open-pryv.io checkout with its dependencies installed"; exit 2; }
  ref_node_version=$("$REF_NODE" --version) || { log "PRYV_BENCH_NODE=$REF_NODE does not run"; exit 2; }
  # The core loads its .ts files as they are: a node without type stripping fails every step.
  "$REF_NODE" -e 'process.exit(process.features.typescript ? 0 : 1)' \
    || { log "node $ref_node_version cannot load the core's TypeScript: set PRYV_BENCH_NODE to a Node 24"; exit 2; }
  log "reference: $REFERENCE with node $ref_node_version"
  # The pid keeps two benches on one checkout apart; the name says whose file it is.
  REF_ENV=pryv-backup-bench-$$
  REF_CONFIG=$REFERENCE/config/$REF_ENV-config.yml
  # The config file goes into someone's checkout: it must not outlive the run, even a failed
  # or interrupted one (INT and TERM go through exit so that the EXIT trap runs).
  trap 'rm -f "$REF_CONFIG"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi

ensure_build_tools
ensure_postgres
[ -x /usr/bin/time ] || { log "installing GNU time"; apt_install time; }
command -v pg_dump >/dev/null || apt_install postgresql-client

# shellcheck source=scripts/lib/bench.sh
source scripts/lib/bench.sh

WORK=${PRYV_BENCH_DIR:-/tmp/pryv-bench}
rm -rf "$WORK"; mkdir -p "$WORK/core/config"  # an install with no config file: defaults + overrides
RESULTS=$WORK/results.tsv
if [ -n "$REFERENCE" ]; then reference_config_yaml "$WORK/reference" >"$REF_CONFIG"; fi
printf 'events\tstep\twall_s\tMB_per_s\toutput_MB\tpeak_rss_MB\tstatus\n' >"$RESULTS"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
size_of() { du -sb "$1" 2>/dev/null | cut -f1; }

# measure SIZE STEP OUTPUT_PATH COMMAND...: times one step and appends a row to RESULTS.
measure() {
  local size=$1 step=$2 output=$3; shift 3
  local t0 t1 status=ok
  # Written-back first: a step that syncs its output (pg_dump's fsync, pryv-backup's syncfs)
  # would otherwise also wait for what the steps before it left dirty.
  sync
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$WORK/$size-$step.time" "$@" >"$WORK/$size-$step.log" 2>&1 || status=FAILED
  t1=$(date +%s.%N)
  local wall rss out
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/$size-$step.time")
  out=-; [ -n "$output" ] && [ -e "$output" ] && out=$(mb "$(size_of "$output")")
  local rate
  rate=$(awk -v r="$RAW" -v w="$wall" 'BEGIN { printf "%.1f", (r / 1e6) / (w > 0 ? w : 1) }')
  [ "$status" = ok ] || log "$step failed: see $WORK/$size-$step.log"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$step" "$wall" "$rate" "$out" "${rss:--}" "$status" >>"$RESULTS"
}

# reference_command DATABASE SCRIPT: the command running the core's bin/SCRIPT on DATABASE, one
# word a line (for mapfile, as pryv_storage_args): a command, not a function, so that measure's
# /usr/bin/time can run it; env execs node, so the peak RSS is node's.
reference_command() {
  printf '%s\n' env "NODE_ENV=$REF_ENV" "storages__engines__postgresql__database=$1" "$REF_NODE" "$REFERENCE/bin/$2"
}

compare_digests() { # SIZE STEP SOURCE_DB TARGET_DB
  local a="$WORK/$1-digest-source" b="$WORK/$1-digest-$2"
  [ -s "$a" ] || "$BENCH" digest --pg "$(db_url "$3")" >"$a"
  if "$BENCH" digest --pg "$(db_url "$4")" >"$b" 2>&1; then
    local same total
    total=$(wc -l <"$a"); same=$(grep -cxFf "$a" "$b" || true)
    printf '%s\t%s: %s of %s tables identical to the source (rows and md5)\n' "$1" "$2" "$same" "$total" >>"$WORK/digests.txt"
    diff "$a" "$b" >"$WORK/$1-digest-$2.diff" || true
  else
    printf '%s\t%s: could not read the restored database\n' "$1" "$2" >>"$WORK/digests.txt"
  fi
}

# Shapes as "events users": each --events size with events/1000 users (at least 10), or the
# one --events size with each --users count. A shape's label names its users only if given.
shapes=()
IFS=, read -r -a sizes <<<"$SIZES"
if [ -n "$USERS" ]; then
  [ "${#sizes[@]}" -eq 1 ] || { log "--users takes one --events size"; exit 2; }
  IFS=, read -r -a user_counts <<<"$USERS"
  for u in "${user_counts[@]}"; do shapes+=("${sizes[0]} $u"); done
else
  for e in "${sizes[@]}"; do shapes+=("$e $(( e / 1000 > 10 ? e / 1000 : 10 ))"); done
fi
for shape in "${shapes[@]}"; do
  read -r events users <<<"$shape"
  size=$events; [ -n "$USERS" ] && size=${events}x${users}u
  src=pryvbench_src_$size; rst=pryvbench_rst_$size; pgr=pryvbench_pgr_$size
  rsv=pryvbench_rsv_$size; pgj=pryvbench_pgj_$size; ref=pryvbench_ref_$size
  fresh_db "$src"; fresh_db "$rst"; fresh_db "$pgr"; fresh_db "$rsv"; fresh_db "$pgj"
  RAW=0
  log "$size events: generating ($users users)"
  measure "$size" generate "" "$BENCH" generate --pg "$(db_url "$src")" --users "$users" \
    --events "$events" --seed "$SEED" --attachment-bytes $(( events * 100 )) \
    --series-points $(( events / 5 )) --audit-rows $(( events / 5 ))
  printf '%s\t%s\n' "$size" "$users" >>"$WORK/users.txt"
  RAW=$(psql_admin "SELECT pg_database_size('$src')")
  printf '%s\traw\t%s bytes (pg_database_size of the generated database)\n' "$size" "$RAW" >>"$WORK/raw.txt"
  awk -F'\t' -v OFS='\t' -v s="$size" -v r="$RAW" \
    '$1 == s && $2 == "generate" { $4 = sprintf("%.1f", (r / 1e6) / ($3 > 0 ? $3 : 1)) } { print }' \
    "$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"

  mapfile -t src_args < <(pryv_storage_args "$src")
  mapfile -t rst_args < <(pryv_storage_args "$rst")
  mapfile -t rsv_args < <(pryv_storage_args "$rsv")
  if [ -n "$REFERENCE" ]; then
    mapfile -t ref_backup < <(reference_command "$src" backup.js)
    mapfile -t ref_restore < <(reference_command "$ref" backup.js)
    mapfile -t ref_migrate < <(reference_command "$ref" migrate.js)
  fi
  for run in $(seq "$REPEAT"); do
    [ "$REPEAT" -gt 1 ] && log "$size events: run $run of $REPEAT"
    rm -rf "$WORK/$size-backup" "$WORK/$size.dump" "$WORK/$size.dumpdir" "$WORK/$size-refbackup"
    [ "$run" -gt 1 ] && { fresh_db "$rst"; fresh_db "$rsv"; fresh_db "$pgr"; fresh_db "$pgj"; }
    log "$size events: pryv-backup backup"
    measure "$size" pryv-backup "$WORK/$size-backup" "$PRYV" backup --output "$WORK/$size-backup" "${src_args[@]}"
    log "$size events: pg_dump -Fc"
    measure "$size" pg_dump "$WORK/$size.dump" pg_dump -Fc -f "$WORK/$size.dump" "$(db_url "$src")"
    log "$size events: pg_dump -Fd -j 2"
    measure "$size" pg_dump-j2 "$WORK/$size.dumpdir" pg_dump -Fd -j 2 -f "$WORK/$size.dumpdir" "$(db_url "$src")"
    log "$size events: pryv-backup restore"
    measure "$size" pryv-restore "" "$PRYV" restore --restore "$WORK/$size-backup" "${rst_args[@]}"
    log "$size events: pryv-backup restore --verify-integrity"
    measure "$size" pryv-restore-verify "" "$PRYV" restore --restore "$WORK/$size-backup" --verify-integrity "${rsv_args[@]}"
    log "$size events: pg_restore"
    measure "$size" pg_restore "" pg_restore -d "$(db_url "$pgr")" "$WORK/$size.dump"
    log "$size events: pg_restore -j 2"
    measure "$size" pg_restore-j2 "" pg_restore -j 2 -d "$(db_url "$pgj")" "$WORK/$size.dumpdir"
    if [ -n "$REFERENCE" ]; then
      log "$size events: reference bin/backup.js backup"
      measure "$size" reference-backup "$WORK/$size-refbackup" "${ref_backup[@]}" --output "$WORK/$size-refbackup"
      # The core restores into the install it runs on: a database with its tables and its
      # migrations applied, as its first boot leaves it (bin/backup.js would make the tables
      # itself but no schema_migrations). Done by the core's own tool, and not timed.
      fresh_db "$ref"
      log "$size events: preparing $ref with the reference bin/migrate.js up"
      "${ref_migrate[@]}" up >"$WORK/$size-reference-migrate.log" 2>&1 \
        || log "reference migrate.js failed: see $WORK/$size-reference-migrate.log"
      log "$size events: reference bin/backup.js restore"
      measure "$size" reference-restore "" "${ref_restore[@]}" --restore "$WORK/$size-refbackup"
    fi
  done
  compare_digests "$size" pryv-restore "$src" "$rst"
  compare_digests "$size" pryv-restore-verify "$src" "$rsv"
  compare_digests "$size" pg_restore "$src" "$pgr"
  compare_digests "$size" pg_restore-j2 "$src" "$pgj"
  [ -z "$REFERENCE" ] || compare_digests "$size" reference-restore "$src" "$ref"

  log "$size events: changing 1% of the events"
  "$BENCH" touch --pg "$(db_url "$src")" --percent 1 >"$WORK/$size-touch.log"
  # Incremental backups continue a previous backup in its own directory (as bin/backup.js);
  # a copy keeps the full backup intact, and the output size counted is what was added.
  rm -rf "$WORK/$size-incr"; cp -a "$WORK/$size-backup" "$WORK/$size-incr" 2>/dev/null || mkdir -p "$WORK/$size-incr"
  before=$(size_of "$WORK/$size-incr")
  log "$size events: pryv-backup incremental backup"
  measure "$size" pryv-incremental "" "$PRYV" backup --output "$WORK/$size-incr" --incremental "${src_args[@]}"
  added=$(( $(size_of "$WORK/$size-incr") - before ))
  awk -F'\t' -v OFS='\t' -v s="$size" -v a="$(mb "$added")" \
    '$1 == s && $2 == "pryv-incremental" { $5 = a } { print }' "$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"

  if [ -z "$KEEP" ]; then
    for db in "$src" "$rst" "$pgr" "$rsv" "$pgj" "$ref"; do psql_admin "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"; done
    rm -rf "$WORK/$size-backup" "$WORK/$size-incr" "$WORK/$size.dump" "$WORK/$size.dumpdir" "$WORK/$size-refbackup"
  fi
done

# One row per step: the median wall time (and its MB/s), the largest peak RSS, every run's
# wall time in a last column; a step that failed once is marked FAILED.
awk -F'\t' -v OFS='\t' '
  NR == 1 { print $0, "runs_s"; next }
  {
    k = $1 SUBSEP $2
    if (!(k in n)) order[++steps] = k
    i = ++n[k]; wall[k, i] = $3; rate[k, i] = $4; out[k] = $5; name[k] = $1 OFS $2
    if ($6 + 0 > rss[k] + 0 || rss[k] == "") rss[k] = $6
    if ($7 != "ok") status[k] = $7; else if (!(k in status)) status[k] = "ok"
  }
  # The middle of the values of a step; rates sorted the other way round, so that the median
  # wall time and its rate come from the same run.
  function median(k, arr, descending,   m, i, j, t, v) {
    m = n[k]; for (i = 1; i <= m; i++) v[i] = (descending ? -1 : 1) * arr[k, i]
    for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return (descending ? -1 : 1) * v[int((m + 1) / 2)]
  }
  END {
    for (s = 1; s <= steps; s++) {
      k = order[s]; runs = wall[k, 1]
      for (i = 2; i <= n[k]; i++) runs = runs "," wall[k, i]
      print name[k], median(k, wall, 0), median(k, rate, 1), out[k], rss[k], status[k], runs
    }
  }' "$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
cat "$WORK/raw.txt"
echo
column -t -s $'\t' "$RESULTS"
echo
echo "Ratios pryv-backup / PostgreSQL tools (wall time; output size):"
awk -F'\t' '
  NR > 1 { wall[$1, $2] = ($7 == "ok" ? $3 : 0); out[$1, $2] = $5; ok[$1, $2] = $7; seen[$1] = 1 }
  function ratio(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "n/a" }
  END {
    for (s in seen) {
      printf "  %s events: backup/pg_dump time %s, size %s; backup/pg_dump -j 2 time %s\n", s,
        ratio(wall[s, "pryv-backup"], wall[s, "pg_dump"]), ratio(out[s, "pryv-backup"], out[s, "pg_dump"]),
        ratio(wall[s, "pryv-backup"], wall[s, "pg_dump-j2"])
      printf "  %s events: restore/pg_restore time %s; restore --verify-integrity/pg_restore time %s; restore/pg_restore -j 2 time %s\n", s,
        ratio(wall[s, "pryv-restore"], wall[s, "pg_restore"]), ratio(wall[s, "pryv-restore-verify"], wall[s, "pg_restore"]),
        ratio(wall[s, "pryv-restore"], wall[s, "pg_restore-j2"])
      printf "  %s events: incremental/full backup time %s\n", s, ratio(wall[s, "pryv-incremental"], wall[s, "pryv-backup"])
      if ((s, "reference-backup") in ok)
        printf "  %s events: backup/reference backup time %s, size %s; restore/reference restore time %s\n", s,
          ratio(wall[s, "pryv-backup"], wall[s, "reference-backup"]), ratio(out[s, "pryv-backup"], out[s, "reference-backup"]),
          ratio(wall[s, "pryv-restore"], wall[s, "reference-restore"])
      if (ok[s, "pryv-backup"] != "ok" || ok[s, "pryv-restore"] != "ok")
        printf "  %s events: a pryv-backup step FAILED (see its log): its ratios are n/a\n", s
    }
  }' "$RESULTS"
if [ -n "$USERS" ]; then
  echo
  echo "Time per user added, at ${sizes[0]} events (wall seconds difference / users difference, in µs):"
  awk -F'\t' '
    FNR == NR { users[$1] = $2; order[++n] = $1; next }
    FNR > 1 { wall[$1, $2] = $3; steps[$2] = 1 }
    END {
      for (i = 2; i <= n; i++) {
        a = order[i - 1]; b = order[i]; line = sprintf("  %s -> %s users:", users[a], users[b])
        k = split("pryv-backup pg_dump pryv-restore pg_restore reference-backup reference-restore", names, " ")
        for (j = 1; j <= k; j++) {
          s = names[j]
          if ((a, s) in wall && (b, s) in wall)
            line = line sprintf(" %s %.0f", s, (wall[b, s] - wall[a, s]) / (users[b] - users[a]) * 1e6)
        }
        print line
      }
    }' "$WORK/users.txt" "$RESULTS"
fi
echo
cat "$WORK/digests.txt" 2>/dev/null || true
echo "(logs and timings in $WORK)"
