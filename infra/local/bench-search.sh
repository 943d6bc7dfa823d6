#!/usr/bin/env bash
# Search benchmark: one tenant filled with MESSAGES (default 1,000,000) realistic mixed
# Chinese/English messages in a scratch database, indexed by the nodes' indexer, then p50/p95/max
# of typical searches and the index's size (kefu-search-bench, docs/benchmarks.md "Search").
# Override: MESSAGES, RUNS (timed runs per query).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
export DATABASE_URL
cargo build --locked --release -p kefu-tests --bin kefu-search-bench >&2
echo "command: MESSAGES=${MESSAGES:-1000000} RUNS=${RUNS:-30} make bench-search"
./target/release/kefu-search-bench --messages "${MESSAGES:-1000000}" --runs "${RUNS:-30}"
