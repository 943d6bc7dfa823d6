#!/usr/bin/env bash
# Analytics benchmark: one tenant filled with a year of a busy tenant (PER_DAY conversations a
# day, default 1,000) in a scratch database; the first and an incremental refresh, and dashboard
# reads from the rollups against the facts (kefu-analytics-bench, docs/benchmarks.md "Analytics").
# Override: PER_DAY, RUNS (timed runs per read).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
export DATABASE_URL
cargo build --locked --release -p kefu-tests --bin kefu-analytics-bench >&2
echo "command: PER_DAY=${PER_DAY:-1000} RUNS=${RUNS:-20} make bench-analytics"
./target/release/kefu-analytics-bench --per-day "${PER_DAY:-1000}" --runs "${RUNS:-20}"
