#!/usr/bin/env bash
# Tenants per database (issue 13): how migrating new tenant schemas and a Postgres backend's
# memory grow with the number of tenant schemas in one database. In a scratch database, CHUNKS
# times: create CHUNK unmigrated tenants, migrate them (`kefu migrate --concurrency 2`, a new
# process each chunk) and report the chunk's tenants/s, the peak private memory of the backends doing it,
# pg_class rows and the database's size. Then one backend calls the storing routine once in every
# tenant (a load that touches all of them) and its private memory is read every TOUCH_STEP tenants.
# Loopback only; the scratch database is dropped on exit. Override: CHUNK, CHUNKS, TOUCH_STEP.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
export KEFU_AUTH__SIGNING_KEYS="bench:bench-signing-secret-that-is-long-enough"
export KEFU_AUTH__VISITOR_KEYS="bench-visitor:bench-visitor-secret-that-is-long-enough"
CHUNK=${CHUNK:-1000}
CHUNKS=${CHUNKS:-6}
TOUCH_STEP=${TOUCH_STEP:-1000}
cargo build --locked --release -p kefu-api --bin kefu >&2
bin=./target/release/kefu
admin="postgres://postgres@127.0.0.1:5432/postgres"
db="kefu_catalog_$$"
trap 'psql "$admin" -qc "drop database if exists $db with (force)" >&2 || true' EXIT
psql "$DATABASE_URL" -qc "create database $db encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'" >&2
url="${DATABASE_URL%/*}/$db"
DATABASE_URL=$url $bin migrate >/dev/null 2>&1

rss_of() { awk '/RssAnon/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

echo "command: CHUNK=$CHUNK CHUNKS=$CHUNKS TOUCH_STEP=$TOUCH_STEP make bench-catalog (commit $(git rev-parse --short HEAD))"
echo
echo "| tenants in the database | chunk s | tenants/s | peak backend private memory MiB (RssAnon) | pg_class rows | database MiB |"
echo "|---:|---:|---:|---:|---:|---:|"
for i in $(seq 1 "$CHUNKS"); do
    DATABASE_URL=$url $bin create-unmigrated-tenants "$CHUNK" --prefix "c$i" >/dev/null 2>&1
    peak=0
    start=$(date +%s.%N)
    DATABASE_URL=$url $bin migrate --concurrency 2 >/dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        for backend in $(psql "$admin" -Atc "select pid from pg_stat_activity where datname = '$db' and backend_type = 'client backend'"); do
            rss=$(rss_of "$backend")
            if [[ -n $rss && $rss -gt $peak ]]; then peak=$rss; fi
        done
        sleep 0.5
    done
    wait "$pid"
    end=$(date +%s.%N)
    rows=$(psql "${admin%/*}/$db" -Atc "select count(*) from pg_class")
    size=$(psql "${admin%/*}/$db" -Atc "select pg_database_size(current_database()) / 1048576")
    awk -v n=$((i * CHUNK)) -v c="$CHUNK" -v s="$start" -v e="$end" -v p="$peak" -v r="$rows" -v z="$size" \
        'BEGIN { t = e - s; printf "| %d | %.1f | %.1f | %.0f | %d | %d |\n", n, t, c / t, p / 1024, r, z }'
done

echo
echo "One backend storing a message (conversation not found: the routine's statements all run) in every tenant, in turn:"
echo
echo "| tenants touched | backend private memory MiB (RssAnon) |"
echo "|---:|---:|"
touch_sql="do \$\$ declare s text; n int := 0; begin
  for s in select schema_name from control.tenants order by created_at loop
    perform * from kefu.store_messages_v3(array[s], array[gen_random_uuid()], array[null::uuid], array[gen_random_uuid()],
      array[gen_random_uuid()], array['agent'], array[gen_random_uuid()], array['bench'], array['c'], array[false], array['b'], array[null::uuid], array[false]);
    n := n + 1;
    commit; -- one tenant per transaction, as the server does (locks are released)
    if n % $TOUCH_STEP = 0 then raise notice 'touched %', n; perform pg_sleep(0.3); end if;
  end loop; end \$\$;"
coproc TOUCH { psql "$url" -qc "$touch_sql" 2>&1; }
sleep 0.3
backend=$(psql "$admin" -Atc "select pid from pg_stat_activity where datname = '$db' and query like 'do %' limit 1")
while IFS= read -r line <&"${TOUCH[0]}"; do
    if [[ $line =~ touched\ ([0-9]+) ]]; then
        printf '| %d | %.0f |\n' "${BASH_REMATCH[1]}" "$(( $(rss_of "$backend") / 1024 ))"
    fi
done
