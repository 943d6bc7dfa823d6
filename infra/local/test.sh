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
eval "$(infra/local/test-tools.sh)"
export KEFU_TEST_PYTHON

step "cargo fmt --check"
cargo fmt --all -- --check
(cd edge/worker && cargo fmt -- --check)

step "cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "build"
cargo build --locked --workspace --all-targets

step "edge: wasm build for workerd"
# The toolchain (Debian rustc 1.96 + wasm32 std, worker-build, Node 22, wrangler) is cached under
# ~/.cache/kefu; its PATH stays inside this subshell so the native build keeps rustup's toolchain.
KEFU_TEST_NODE_BIN=$(
    eval "$(infra/local/edge-toolchain.sh)"
    cd edge/worker
    CARGO_TARGET_DIR="$PWD/../../target/wasm" worker-build --release >&2
    dirname "$(command -v node)"
)
export KEFU_TEST_NODE_BIN

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --workspace --no-fail-fast
else
    cargo test --locked --workspace --no-fail-fast
fi
