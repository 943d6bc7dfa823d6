#!/usr/bin/env bash
# Real-time benchmark: two release `kefu` nodes sharing Postgres and Redis, driven by
# `kefu-load` on the same machine (loopback only, bounded). Prints a markdown report.
# Override: VISITORS, AGENTS, RATE, DURATION (seconds), IDLE.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
VISITORS=${VISITORS:-1000}
AGENTS=${AGENTS:-50}
RATE=${RATE:-2000}
DURATION=${DURATION:-20}
IDLE=${IDLE:-10000}
export KEFU_AUTH__SIGNING_KEYS="bench:bench-signing-secret-that-is-long-enough"
export KEFU_AUTH__AUTH_RATE_PER_MINUTE=1000 KEFU_LOG_FORMAT=json RUST_LOG=warn REDIS_URL
ulimit -n "$(ulimit -Hn)"
cargo build --locked --release -p kefu-api --bin kefu -p kefu-tests --bin kefu-load >&2
db="kefu_rtbench_$$"
psql "$DATABASE_URL" -qc "create database $db encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'" >&2
url="${DATABASE_URL%/*}/$db"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$DATABASE_URL" -qc "drop database if exists $db with (force)" >&2 || true
}
trap cleanup EXIT
DATABASE_URL=$url ./target/release/kefu migrate >/dev/null
apis=()
for port in 18080 18081; do
    DATABASE_URL=$url KEFU_LISTEN=127.0.0.1:$port KEFU_DATABASE__MAX_CONNECTIONS=20 ./target/release/kefu serve 2>/dev/null &
    pids+=($!)
    apis+=("http://127.0.0.1:$port")
done
for api in "${apis[@]}"; do
    for _ in $(seq 100); do curl -fs "$api/readyz" >/dev/null && break; sleep 0.1; done
done
./target/release/kefu-load --api "$(IFS=,; echo "${apis[*]}")" --visitors "$VISITORS" --agents "$AGENTS" \
    --rate "$RATE" --seconds "$DURATION" --idle "$IDLE" --pids "$(IFS=,; echo "${pids[*]}")"
