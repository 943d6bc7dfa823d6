#!/usr/bin/env bash
# Makes sure the Rust tools `make` relies on are present: cargo (required, comes with the
# machine), rustfmt and clippy (rustup components), and cargo-nextest (optional: falls back to
# `cargo test`). Sourced by dev.sh and test.sh.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    [[ -x "$HOME/.cargo/bin/cargo" ]] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "toolchain: cargo is not installed (install Rust with rustup)" >&2; exit 1; }

ensure_component() {
    local tool=$1 component=$2
    if ! cargo "$tool" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            echo "toolchain: installing rustup component $component" >&2
            rustup component add "$component" >&2
        else
            echo "toolchain: cargo $tool is missing and rustup is not available" >&2
            exit 1
        fi
    fi
}
