#!/usr/bin/env bash
# Measures `kefu migrate` on N empty tenant schemas (default 10,000) in a scratch database, at a
# few concurrency levels, and prints a table for docs/benchmarks.md. Loopback only; bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
TENANTS=${TENANTS:-10000}
LEVELS=${LEVELS:-"4 8 16"}
export KEFU_AUTH__SIGNING_KEYS="bench:bench-signing-secret-that-is-long-enough"
export KEFU_AUTH__VISITOR_KEYS="bench-visitor:bench-visitor-secret-that-is-long-enough"
cargo build --locked --release -p kefu-api --bin kefu >&2
bin=./target/release/kefu
admin_url=$DATABASE_URL
printf '| tenants | concurrency | seconds | tenants/s |\n|---:|---:|---:|---:|\n'
for level in $LEVELS; do
    db="kefu_bench_$$_$level"
    psql "$admin_url" -qc "create database $db encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'" >&2
    url="${admin_url%/*}/$db"
    DATABASE_URL=$url $bin migrate >/dev/null 2>&1
    DATABASE_URL=$url $bin create-unmigrated-tenants "$TENANTS" >&2
    start=$(date +%s.%N)
    DATABASE_URL=$url $bin migrate --concurrency "$level" >&2
    end=$(date +%s.%N)
    rerun_start=$(date +%s.%N)
    DATABASE_URL=$url $bin migrate --concurrency "$level" >&2
    rerun_end=$(date +%s.%N)
    awk -v n="$TENANTS" -v c="$level" -v s="$start" -v e="$end" 'BEGIN { t = e - s; printf "| %d | %d | %.1f | %.0f |\n", n, c, t, n / t }'
    awk -v s="$rerun_start" -v e="$rerun_end" 'BEGIN { printf "(re-run with nothing to do: %.2f s)\n", e - s }' >&2
    psql "$admin_url" -qc "drop database $db with (force)" >&2
done
