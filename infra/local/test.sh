#!/usr/bin/env bash
# `make test`: what CI runs. Formatting, lints, then every test against real Postgres and Redis.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
ensure_component fmt rustfmt
ensure_component clippy clippy

step() { printf '\n==> %s\n' "$*" >&2; }

step "services"
eval "$(infra/local/services.sh env)"
export DATABASE_URL REDIS_URL
# A second Postgres cluster: tests place tenants in tenant databases on it.
eval "$(infra/local/services.sh second-pg)"
export KEFU_TEST_PG2_URL
eval "$(infra/local/test-tools.sh)"
export KEFU_TEST_PYTHON KEFU_TEST_CHROMIUM KEFU_TEST_PROMTOOL

step "Kubernetes manifests, alert rules and dashboard (offline)"
infra/local/validate-manifests.sh

step "cargo fmt --check"
cargo fmt --all -- --check
(cd edge/worker && cargo fmt -- --check)

step "cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "build"
cargo build --locked --workspace --all-targets

step "widget build and size budgets; console build and unit tests; edge: wasm clippy and build for workerd"
# The toolchain (Debian rustc 1.96 + wasm32 std, worker-build, Node 22, wrangler) is cached under
# ~/.cache/kefu; its PATH stays inside this subshell so the native build keeps rustup's toolchain.
KEFU_TEST_NODE_BIN=$(
    eval "$(infra/local/edge-toolchain.sh)"
    infra/local/widget.sh >&2
    infra/local/console.sh >&2
    cd edge/worker
    # Debian's clippy through the toolchain's sysroot wrapper: the worker entry is linted for
    # wasm32 like the rest of the workspace.
    CARGO_TARGET_DIR="$PWD/../../target/wasm" cargo clippy --locked --target wasm32-unknown-unknown -- -D warnings >&2
    CARGO_TARGET_DIR="$PWD/../../target/wasm" worker-build --release >&2
    dirname "$(command -v node)"
)
export KEFU_TEST_NODE_BIN

step "backup drill: point-in-time recovery of a throwaway cluster (make test-restore, seconds)"
bash infra/local/test-restore.sh

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --workspace --no-fail-fast
else
    cargo test --locked --workspace --no-fail-fast
fi
