#!/usr/bin/env bash
# Edge benchmark: a release `kefu` node with the release native `kefu-edge` and the wasm edge (in
# workerd, through `wrangler dev --local`) in front of it, each driven by `kefu-edge-bench`
# (tests/src/bin/kefu-edge-bench.rs), which measures WebSocket round trips through the edge and
# straight to the api in the same run. Prints a markdown report per runtime.
# Override: PAIRS, SECONDS_, RATE; WASM=0 skips the workerd run.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
PAIRS=${PAIRS:-20}
SECONDS_=${SECONDS_:-10}
RATE=${RATE:-10}
keys="bench-visitor:bench-visitor-secret-that-is-long-enough"
edge_secret="bench-edge-secret-that-is-long-enough-1"
export KEFU_AUTH__SIGNING_KEYS="bench:bench-signing-secret-that-is-long-enough" KEFU_AUTH__VISITOR_KEYS=$keys KEFU_EDGE__SECRET=$edge_secret KEFU_AUTH__AUTH_RATE_PER_MINUTE=1000 \
    KEFU_AUTH__TWO_FACTOR_KEYS="bench-2fa:bench-two-factor-sealing-secret-long-enough"
export KEFU_LOG_FORMAT=json RUST_LOG=warn REDIS_URL
cargo build --locked --release -p kefu-api --bin kefu -p kefu-edge --bin kefu-edge -p kefu-tests --bin kefu-edge-bench >&2
db="kefu_edgebench_$$"
psql "$DATABASE_URL" -qc "create database $db encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'" >&2
url="${DATABASE_URL%/*}/$db"
workdir=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$DATABASE_URL" -qc "drop database if exists $db with (force)" >&2 || true
    rm -rf "$workdir"
}
trap cleanup EXIT
DATABASE_URL=$url ./target/release/kefu migrate >/dev/null
DATABASE_URL=$url KEFU_LISTEN=127.0.0.1:18080 ./target/release/kefu serve 2>/dev/null &
pids+=($!)
cat > "$workdir/edge.toml" <<TOML
public_url = "http://127.0.0.1:18787"
api_secret = "$edge_secret"
visitor_secret = "bench-visitor-secret-that-is-long-enough"
per_ip_per_minute = 100000
per_site_per_minute = 100000
[[regions]]
name = "local"
api_url = "http://127.0.0.1:18080"
visitor_keys = "$keys"
TOML
./target/release/kefu-edge --config "$workdir/edge.toml" --listen 127.0.0.1:18787 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do
    curl -fs http://127.0.0.1:18080/readyz >/dev/null && curl -fs http://127.0.0.1:18787/healthz >/dev/null && break
    sleep 0.1
done
echo "### native edge"
./target/release/kefu-edge-bench --api http://127.0.0.1:18080 --edge http://127.0.0.1:18787 \
    --pairs "$PAIRS" --seconds "$SECONDS_" --rate "$RATE"

[[ ${WASM:-1} == 1 ]] || exit 0
node_bin=$(
    eval "$(infra/local/edge-toolchain.sh)"
    cd edge/worker
    CARGO_TARGET_DIR="$PWD/../../target/wasm" worker-build --release >&2
    dirname "$(command -v node)"
)
mkdir -p "$workdir/wasm"
cat > "$workdir/wasm/wrangler.toml" <<TOML
name = "kefu-edge-bench"
main = "$PWD/edge/worker/build/index.js"
compatibility_date = "2026-11-01"
[vars]
PUBLIC_URL = "http://127.0.0.1:18797"
TOML
cat > "$workdir/wasm/.dev.vars" <<VARS
API_SECRET=$edge_secret
VISITOR_SECRET=bench-visitor-secret-that-is-long-enough
REGIONS='[{"name":"local","api_url":"http://127.0.0.1:18080","visitor_keys":"$keys"}]'
VARS
(cd "$workdir/wasm" && PATH="$node_bin:$PATH" XDG_CONFIG_HOME="$workdir/wasm" WRANGLER_SEND_METRICS=false \
    setsid "$OLDPWD/edge/node_modules/.bin/wrangler" dev --local --ip 127.0.0.1 --port 18797 --log-level warn \
    </dev/null >/dev/null 2>&1 &)
for _ in $(seq 300); do curl -fs http://127.0.0.1:18797/healthz >/dev/null && break; sleep 0.2; done
echo
echo "### wasm edge in workerd (wrangler dev --local)"
./target/release/kefu-edge-bench --api http://127.0.0.1:18080 --edge http://127.0.0.1:18797 \
    --pairs "$PAIRS" --seconds "$SECONDS_" --rate "$RATE" --label "the wasm edge in workerd" || true
pkill -f "wrangler dev --local --ip 127.0.0.1 --port 18797" || true
pkill -f "entry=127.0.0.1:18797" || true
