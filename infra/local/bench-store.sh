#!/usr/bin/env bash
# Storing-path benchmark: durable messages/s of per-message statements, Postgres' commit_delay and
# application group commit, side by side against one scratch database (kefu-store-bench).
# Override: SENDERS (list), TENANTS (list), SECONDS_ (per mode); KEFU_BENCH_ADMIN_URL for the commit_delay mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
eval "$(infra/local/services.sh env)"
export DATABASE_URL
cargo build --locked --release -p kefu-tests --bin kefu-store-bench >&2
echo "command: SENDERS=${SENDERS:-64,256} TENANTS=${TENANTS:-1,50} SECONDS_=${SECONDS_:-5} make bench-store"
"${CARGO_TARGET_DIR:-target}"/release/kefu-store-bench --senders "${SENDERS:-64,256}" --tenants "${TENANTS:-1,50}" --seconds "${SECONDS_:-5}"
