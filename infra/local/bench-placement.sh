#!/usr/bin/env bash
# Placement (issue 13): TENANTS empty tenant schemas migrated from scratch by `kefu migrate`,
# (a) all in one database (the control database, as before placement), and (b) spread over
# DATABASES tenant databases on the second local cluster (port 5433), in the same run.
# Then Postgres backend memory under a load that touches every tenant once through the api's pools
# (`kefu-touch-bench`), in both layouts, with connections kept forever and recycled after 1,000
# uses. Prints tables for docs/benchmarks.md. Scratch databases are dropped on exit.
# Override: TENANTS (10000), DATABASES (5), ONE_CONCURRENCY (2), SPREAD_CONCURRENCY (1 per database).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
eval "$(infra/local/services.sh second-pg)"
# Not for `kefu` (which reads every KEFU_ variable as configuration).
PG2_URL=$KEFU_TEST_PG2_URL
unset KEFU_TEST_PG2_URL
export KEFU_AUTH__SIGNING_KEYS="bench:bench-signing-secret-that-is-long-enough"
export KEFU_AUTH__VISITOR_KEYS="bench-visitor:bench-visitor-secret-that-is-long-enough"
TENANTS=${TENANTS:-10000}
DATABASES=${DATABASES:-5}
ONE_CONCURRENCY=${ONE_CONCURRENCY:-2}
SPREAD_CONCURRENCY=${SPREAD_CONCURRENCY:-1}
cargo build --locked --release -p kefu-api --bin kefu -p kefu-tests --bin kefu-touch-bench >&2
bin=./target/release/kefu
stamp=$$
created=()
mkdb() { # base-url name
    psql "$1" -qc "create database $2 encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'" >&2
    created+=("$1 $2")
}
cleanup() {
    for entry in "${created[@]}"; do
        read -r base name <<<"$entry"
        psql "${base%/*}/postgres" -qc "drop database if exists $name with (force)" >&2 || true
    done
}
trap cleanup EXIT
seconds() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }

echo "command: TENANTS=$TENANTS DATABASES=$DATABASES ONE_CONCURRENCY=$ONE_CONCURRENCY SPREAD_CONCURRENCY=$SPREAD_CONCURRENCY make bench-placement (commit $(git rev-parse --short HEAD))"
echo
echo "| layout | tenants | tenant databases | workers | seconds | tenants/s |"
echo "|---|---:|---:|---:|---:|---:|"

# (a) One database.
one="kefu_place_one_$stamp"
mkdb "$DATABASE_URL" "$one"
url="${DATABASE_URL%/*}/$one"
DATABASE_URL=$url $bin migrate >/dev/null
DATABASE_URL=$url $bin create-unmigrated-tenants "$TENANTS" --prefix one >/dev/null 2>&1
start=$(date +%s.%N)
DATABASE_URL=$url $bin migrate --concurrency "$ONE_CONCURRENCY" >&2
end=$(date +%s.%N)
t=$(seconds "$start" "$end")
echo "| one database | $TENANTS | 1 | $ONE_CONCURRENCY | $t | $(awk -v n="$TENANTS" -v t="$t" 'BEGIN { printf "%.0f", n / t }') |"

# (b) Spread over DATABASES tenant databases.
control="kefu_place_ctl_$stamp"
mkdb "$DATABASE_URL" "$control"
curl_="${DATABASE_URL%/*}/$control"
DATABASE_URL=$curl_ $bin migrate >/dev/null 2>&1
per=$((TENANTS / DATABASES))
for i in $(seq 1 "$DATABASES"); do
    name="kefu_place_t${i}_$stamp"
    mkdb "$PG2_URL" "$name"
    DATABASE_URL=$curl_ $bin databases add "t$i" --url "${PG2_URL%/*}/$name" --capacity "$per" >&2
    DATABASE_URL=$curl_ $bin create-unmigrated-tenants "$per" --database "t$i" --prefix "d$i" >/dev/null 2>&1
done
start=$(date +%s.%N)
DATABASE_URL=$curl_ $bin migrate --concurrency "$SPREAD_CONCURRENCY" >&2
end=$(date +%s.%N)
t=$(seconds "$start" "$end")
echo "| spread | $((per * DATABASES)) | $DATABASES | $((SPREAD_CONCURRENCY * DATABASES)) | $t | $(awk -v n="$((per * DATABASES))" -v t="$t" 'BEGIN { printf "%.0f", n / t }') |"
start=$(date +%s.%N)
DATABASE_URL=$curl_ $bin migrate --concurrency "$SPREAD_CONCURRENCY" >&2
end=$(date +%s.%N)
echo
echo "A second \`kefu migrate\` over the spread fleet, with nothing to do: $(seconds "$start" "$end") s."

echo
echo "Backend memory, one database ($TENANTS tenants in it):"
echo
./target/release/kefu-touch-bench --control "$url" --recycle 0,1000 --connections 4
echo
echo "Backend memory, spread over $DATABASES tenant databases:"
echo
./target/release/kefu-touch-bench --control "$curl_" --recycle 0,1000 --connections 4
