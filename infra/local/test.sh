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

step "cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "build"
cargo build --locked --workspace --all-targets

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --workspace --no-fail-fast
else
    cargo test --locked --workspace --no-fail-fast
fi
