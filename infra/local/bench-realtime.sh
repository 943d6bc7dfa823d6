#!/usr/bin/env bash
# Real-time benchmark suite (`make bench-realtime`, docs/benchmarks.md "Real-time core"): release
# `kefu` nodes on a fresh database with Redis fan-out, driven by `kefu-load` on the same machine
# (loopback only, bounded in time). Every mode starts its own fresh nodes. With BASELINE_REV,
# that revision's `kefu` is built in a temporary git worktree and measured in the same run, mode
# by mode, against its own fresh database. The fan-out mode is also run against a plain
# Socket.IO relay (infra/bench/socketio). Progress and per-mode tables go to stderr; the combined
# markdown report goes to stdout.
#
# Override (defaults in parentheses):
#   MODES (idle,upgrades,closed,rate,fanout,resume,noisy)   which modes, in this order
#   BASELINE_REV (none)      a git revision to measure side by side with the current tree
#   SOCKETIO (1)             0 skips the Socket.IO relay baseline in the fan-out mode
#   NODES (2)                kefu nodes for closed, rate, fanout and resume (idle, upgrades: 1)
#   DURATION (10)            seconds measured per step (each rate, each connection count)
#   VISITORS (1000) AGENTS (50) RATES (500,1000,2000,3000; RATE=n runs one rate)   fixed rate
#   CLOSED_CONNS (50,200,1000)                                            closed loop
#   ROOMS (1000) ROOM_SIZE (10) ROOMS_PER_TENANT (10; 0 = one tenant)
#   FANOUT_RATES (500,1000,2000,4000,6000,10000,17000 msg/s)              fan-out
#   UPGRADE_WORKERS (32) UPGRADE_SECONDS (5)                              upgrades
#   IDLE (19000) IDLE_PROCS (2)                                           idle sockets on one node
#   RESUME_CONVERSATIONS (750)                                            resume
#   NOISY_PHASES (quiet,api,sockets,page-views,messages,uploads)          noisy neighbour
#   SOURCE_IPS (16)          client sockets rotate over 127.0.0.2 … 127.0.0.(1+N)
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
MODES=${MODES:-idle,upgrades,closed,rate,fanout,resume,noisy}
BASELINE_REV=${BASELINE_REV:-}
SOCKETIO=${SOCKETIO:-1}
NODES=${NODES:-2}
DURATION=${DURATION:-10}
VISITORS=${VISITORS:-1000}
AGENTS=${AGENTS:-50}
RATES=${RATES:-${RATE:-500,1000,2000,3000}}
CLOSED_CONNS=${CLOSED_CONNS:-50,200,1000}
ROOMS=${ROOMS:-1000}
ROOM_SIZE=${ROOM_SIZE:-10}
ROOMS_PER_TENANT=${ROOMS_PER_TENANT:-10}
FANOUT_RATES=${FANOUT_RATES:-500,1000,2000,4000,6000,10000,17000}
UPGRADE_WORKERS=${UPGRADE_WORKERS:-32}
UPGRADE_SECONDS=${UPGRADE_SECONDS:-5}
IDLE=${IDLE:-19000}
IDLE_PROCS=${IDLE_PROCS:-2}
RESUME_CONVERSATIONS=${RESUME_CONVERSATIONS:-750}
NOISY_PHASES=${NOISY_PHASES:-quiet,api,sockets,page-views,messages,uploads}
SOURCE_IPS=${SOURCE_IPS:-16}
signing_key="bench:bench-signing-secret-that-is-long-enough"
visitor_key="bench-visitor:bench-visitor-secret-that-is-long-enough"
two_factor_key="bench-2fa:bench-two-factor-sealing-secret-long-enough"
# kefu-load mints visitor tokens with the visitor key, as the edge does.
export KEFU_AUTH__VISITOR_KEYS=$visitor_key
# key_env BIN: `env` arguments giving BIN its keys. A revision from before the separate visitor
# keys (no KEFU_AUTH__VISITOR_KEYS in its binary) rejects the unknown setting and verifies visitor
# tokens with its signing keys, so it gets both keys there instead.
# A binary with two-factor sign-in needs its sealing keys to serve in production mode.
key_env() {
    if grep -qa KEFU_AUTH__VISITOR_KEYS "$1"; then
        echo "KEFU_AUTH__SIGNING_KEYS=$signing_key"
    else
        echo "-u KEFU_AUTH__VISITOR_KEYS KEFU_AUTH__SIGNING_KEYS=$visitor_key,$signing_key"
    fi
    if grep -qa KEFU_AUTH__TWO_FACTOR_KEYS "$1"; then
        echo "KEFU_AUTH__TWO_FACTOR_KEYS=$two_factor_key"
    fi
}
export KEFU_AUTH__AUTH_RATE_PER_MINUTE=1000 KEFU_LOG_FORMAT=json RUST_LOG=warn REDIS_URL
ulimit -n "$(ulimit -Hn)"
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --locked --release -p kefu-api --bin kefu -p kefu-tests --bin kefu-load >&2
load="$target_dir/release/kefu-load"

workdir=$(mktemp -d /tmp/kefu-rtbench.XXXXXX)
record="$workdir/record.jsonl"
dbs=()
pids=()
baseline_src=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for db in "${dbs[@]}"; do psql "$DATABASE_URL" -qc "drop database if exists $db with (force)" >&2 || true; done
    if [[ -n $baseline_src ]]; then git worktree remove --force "$baseline_src" >&2 || true; fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The servers measured: label, binary, database.
head_label="kefu $(git rev-parse --short HEAD)"
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then head_label+="+changes"; fi
labels=("$head_label")
bins=("$target_dir/release/kefu")
if [[ -n $BASELINE_REV ]]; then
    sha=$(git rev-parse --verify "$BASELINE_REV^{commit}")
    short=$(git rev-parse --short "$sha")
    baseline_src="$workdir/baseline-src"
    git worktree add --detach "$baseline_src" "$sha" >&2
    echo "building the baseline $short (release, target dir $target_dir/bench-baseline)" >&2
    # Seed its target dir with this tree's release dependencies once: only what differs rebuilds.
    if [[ ! -d $target_dir/bench-baseline/release && -d $target_dir/release ]]; then
        mkdir -p "$target_dir/bench-baseline"
        cp -a "$target_dir/release" "$target_dir/bench-baseline/release"
    fi
    (cd "$baseline_src" && CARGO_TARGET_DIR="$target_dir/bench-baseline" cargo build --locked --release -p kefu-api --bin kefu >&2)
    cp "$target_dir/bench-baseline/release/kefu" "$workdir/kefu-$short"
    git worktree remove --force "$baseline_src" >&2
    baseline_src=""
    labels+=("kefu $short (baseline)")
    bins+=("$workdir/kefu-$short")
fi
urls=()
for i in "${!bins[@]}"; do
    db="kefu_rtbench_$$_$i"
    psql "$DATABASE_URL" -qc "create database $db encoding 'UTF8' template template0 lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'" >&2
    dbs+=("$db")
    urls+=("${DATABASE_URL%/*}/$db")
    # shellcheck disable=SC2046 # key_env's words are separate env arguments
    DATABASE_URL=${urls[$i]} env $(key_env "${bins[$i]}") "${bins[$i]}" migrate >/dev/null
done

node_pids=()
apis=()
# start_nodes SERVER_INDEX COUNT: fresh nodes of that server on ports 18080…
start_nodes() {
    local i=$1 count=$2 k port
    node_pids=()
    apis=()
    for ((k = 0; k < count; k++)); do
        port=$((18080 + k))
        # shellcheck disable=SC2046 # key_env's words are separate env arguments
        DATABASE_URL=${urls[$i]} KEFU_LISTEN=127.0.0.1:$port KEFU_DATABASE__MAX_CONNECTIONS=20 \
            env $(key_env "${bins[$i]}") "${bins[$i]}" serve >/dev/null 2>>"$workdir/kefu-$i.log" &
        node_pids+=($!)
        pids+=($!)
        apis+=("http://127.0.0.1:$port")
    done
    for api in "${apis[@]}"; do
        for _ in $(seq 100); do curl -fs "$api/readyz" >/dev/null && break; sleep 0.1; done
        curl -fs "$api/readyz" >/dev/null || { echo "$api did not become ready; log:" >&2; tail -20 "$workdir/kefu-$i.log" >&2; exit 1; }
    done
}
stop_nodes() {
    local pid
    for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    node_pids=()
    sleep 1
}
cpu_spec() {
    local pid spec=""
    for pid in "${node_pids[@]}"; do spec+="${spec:+,}kefu=$pid"; done
    echo "$spec"
}
# run_load SERVER_INDEX MODE ARGS…: kefu-load against the running nodes.
run_load() {
    local i=$1
    shift
    "$load" --record "$record" --label "${labels[$i]}" --pg-db "${dbs[$i]}" --source-ips "$SOURCE_IPS" \
        --api "$(IFS=,; echo "${apis[*]}")" --cpu "$(cpu_spec)" "$@" >&2
}

socketio_baseline() {
    local dir=infra/bench/socketio version pid
    if [[ ! -d $dir/node_modules ]]; then (cd "$dir" && npm ci --no-audit --no-fund >&2); fi
    version=$(node -p "require('./$dir/node_modules/socket.io/package.json').version")
    node "$dir/server.mjs" 18090 2>>"$workdir/socketio.log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -fs http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.1; done
    echo "== fanout: Socket.IO $version relay" >&2
    "$load" --record "$record" --label "socket.io $version relay (node $(node --version))" --source-ips "$SOURCE_IPS" \
        --cpu "socket.io=$pid" fanout --socketio http://127.0.0.1:18090 --rooms "$ROOMS" --room-size "$ROOM_SIZE" \
        --rates "$FANOUT_RATES" --seconds "$DURATION" >&2
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

IFS=, read -ra modes <<<"$MODES"
order=("${!bins[@]}")
for mode in "${modes[@]}"; do
    for i in "${order[@]}"; do
        echo "== $mode: ${labels[$i]}" >&2
        case $mode in
        idle)
            start_nodes "$i" 1
            run_load "$i" idle --count "$IDLE" --procs "$IDLE_PROCS" --pid "${node_pids[0]}"
            ;;
        upgrades)
            start_nodes "$i" 1
            run_load "$i" upgrades --workers "$UPGRADE_WORKERS" --seconds "$UPGRADE_SECONDS"
            ;;
        closed)
            start_nodes "$i" "$NODES"
            run_load "$i" closed --conns "$CLOSED_CONNS" --seconds "$DURATION"
            ;;
        rate)
            start_nodes "$i" "$NODES"
            run_load "$i" rate --visitors "$VISITORS" --agents "$AGENTS" --rates "$RATES" --seconds "$DURATION"
            ;;
        fanout)
            start_nodes "$i" "$NODES"
            run_load "$i" fanout --rooms "$ROOMS" --room-size "$ROOM_SIZE" --rooms-per-tenant "$ROOMS_PER_TENANT" \
                --rates "$FANOUT_RATES" --seconds "$DURATION"
            ;;
        resume)
            start_nodes "$i" "$NODES"
            run_load "$i" resume --conversations "$RESUME_CONVERSATIONS"
            ;;
        noisy)
            start_nodes "$i" "$NODES"
            run_load "$i" noisy --phases "$NOISY_PHASES" --seconds "$DURATION"
            ;;
        *)
            echo "unknown mode $mode (idle, upgrades, closed, rate, fanout, resume, noisy)" >&2
            exit 2
            ;;
        esac
        stop_nodes
    done
    if [[ $mode == fanout && $SOCKETIO == 1 ]]; then socketio_baseline; fi
    # Alternate which server goes first, so neither always runs on the warmer machine.
    mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
done

overrides=""
for var in MODES BASELINE_REV SOCKETIO NODES DURATION VISITORS AGENTS RATES CLOSED_CONNS ROOMS ROOM_SIZE ROOMS_PER_TENANT FANOUT_RATES \
    UPGRADE_WORKERS UPGRADE_SECONDS IDLE IDLE_PROCS RESUME_CONVERSATIONS NOISY_PHASES SOURCE_IPS; do
    [[ -n ${!var+x} && -n ${!var} ]] && overrides+="$var=${!var} "
done
echo "## Real-time core: $(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB"
echo
echo "Reproduce: \`${overrides}make bench-realtime\` (commit $(git rev-parse --short HEAD))."
echo "Servers: ${labels[*]}; load average when the report was printed: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Every process (kefu nodes, Postgres, Redis, the relay, the load generator) shares the machine's cores: read the CPU column (cores used per process over the measured window; \"machine\" is the whole machine, including anything else running)."
echo
"$load" report "$record"
